/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <fnmatch.h>

#include "config/policy.h"
#include "lib/names.h"
#include "lib/paths.h"

static char *repeat(char c, size_t n, const char *suffix) {
        char *s = malloc(n + strlen(suffix) + 1);
        assert_non_null(s);
        memset(s, c, n);
        strcpy(s + n, suffix);
        return s;
}

static void test_component(void **unused) {
        assert_true(name_is_component("sensor"));
        assert_true(name_is_component("acme_edr-2.1"));
        char *max = repeat('a', NAME_COMPONENT_MAX, "");
        assert_true(name_is_component(max));
        free(max);

        /* It becomes a directory name: never ".", "..", hidden or a path. */
        assert_false(name_is_component(NULL));
        assert_false(name_is_component(""));
        assert_false(name_is_component("."));
        assert_false(name_is_component(".."));
        assert_false(name_is_component(".hidden"));
        assert_false(name_is_component("a/b"));
        assert_false(name_is_component("a b"));
        assert_false(name_is_component("a\nb"));
        assert_false(name_is_component("sensor@x"));
        /* The quarantine registry's file name, beside the components' directories. */
        assert_false(name_is_component(LASTGOOD_QUARANTINE_REGISTRY_NAME));
        assert_true(name_is_component("registry2"));
        assert_false(name_is_component("s\xc3\xa9nsor"));
        char *long_ = repeat('a', NAME_COMPONENT_MAX + 1, "");
        assert_false(name_is_component(long_));
        free(long_);
}

static void test_module(void **unused) {
        assert_true(name_is_module("fakesensor"));
        assert_true(name_is_module("fake-sensor_2"));
        char *max = repeat('m', NAME_MODULE_MAX, "");
        assert_true(name_is_module(max));
        free(max);

        /* A newline or a space would put a line of the attacker's choosing
         * into modprobe.d. */
        assert_false(name_is_module("a\ninstall b /bin/sh"));
        assert_false(name_is_module("a b"));
        assert_false(name_is_module("a.b"));
        assert_false(name_is_module("a/b"));
        assert_false(name_is_module(""));
        assert_false(name_is_module(NULL));
        char *long_ = repeat('m', NAME_MODULE_MAX + 1, "");
        assert_false(name_is_module(long_));
        free(long_);

        /* The length-bounded form reads only N bytes (a crash record). */
        assert_true(name_is_module_n("fakesensor]", 10));
        assert_false(name_is_module_n("fakesensor]", 11));
        assert_false(name_is_module_n("fake\0sensor", 11));
        assert_false(name_is_module_n("x", 0));

        assert_true(name_module_equal("fake-sensor", "fake_sensor"));
        assert_true(name_module_equal("a_b", "a_b"));
        assert_false(name_module_equal("fake-sensor", "fakesensor"));
        assert_false(name_module_equal("ab", "abc"));
}

/* The globs of kernel_modules and processes, checked against fnmatch(3). */
static void test_glob(void **unused) {
        static const struct {
                const char *pattern, *s;
        } cases[] = {
                { "falcon_lsm_pinned_*", "falcon_lsm_pinned_16306" },
                { "falcon_lsm_pinned_*", "falcon_lsm" },
                { "a?c", "abc" },
                { "a?c", "ac" },
                { "[a-c]x", "bx" },
                { "[!a-c]x", "bx" },
                { "[]]", "]" },
                { "[^x]", "y" },
                { "[ab", "[ab" },
                { "\\*", "*" },
                { "\\*", "x" },
                { "*", "" },
                { "**a*", "bab" },
                { "*ab", "aab" },
                { "a*b*c", "axbxbxc" },
                { "a*b*c", "axbxbx" },
                { "", "" },
                { "", "a" },
                { "x", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (name_glob_match(cases[i].pattern, cases[i].s, 0) !=
                    (fnmatch(cases[i].pattern, cases[i].s, 0) == 0))
                        fail_msg("'%s' vs '%s' differs from fnmatch", cases[i].pattern, cases[i].s);

        assert_true(name_module_match("falcon-lsm-pinned-*", "falcon_lsm_pinned_16306"));
        assert_true(name_module_match("fake_sensor", "fake-sensor"));
        assert_true(name_module_match("fake[-]sensor", "fake_sensor"));
        assert_false(name_module_match("fakesensor", "fake_sensor"));
        assert_false(name_glob_match("fake_sensor", "fake-sensor", 0));
        assert_false(name_module_match(NULL, "x"));

        /* a comm the kernel cut at 15 */
        assert_true(name_glob_match("falcon-sensor-bpf", "falcon-sensor-b", NAME_MATCH_TRUNCATED));
        assert_true(name_glob_match("falcon-*-bpf", "falcon-sensor-b", NAME_MATCH_TRUNCATED));
        assert_false(name_glob_match("falcon-sensor-bpf", "falcon-sensor-b", 0));
        assert_false(name_glob_match("falcon-sensor-bpf", "falcon-sensor-x", NAME_MATCH_TRUNCATED));
        assert_false(name_glob_match("falcon", "falcon-sensor-b", NAME_MATCH_TRUNCATED));

        /* a hostile pattern stays fast: "*a*a…*ab" against 4000 'a's */
        char pat[204], str[4001];
        for (int k = 0; k < 200; k++)
                pat[k] = k % 2 ? 'a' : '*';
        strcpy(pat + 200, "b");
        memset(str, 'a', 4000);
        str[4000] = '\0';
        assert_false(name_glob_match(pat, str, 0));
        str[3999] = 'b';
        assert_true(name_glob_match(pat, str, 0));
}

/* Paths ('*' never crosses a '/'), as fnmatch() with FNM_PATHNAME, and with
 * FNM_LEADING_DIR (what lies below a match); ANCESTOR by hand. */
static void test_path_glob(void **unused) {
        static const char *const patterns[] = {
                "opt/cs/*.log", "opt/cs/db",  "opt/*/x",  "opt/cs/[a-c]*", "opt/cs/?", "opt/c*", "*",
                "*/*",          "opt/cs/\\*", "opt/**/x", "a*b/c",
        };
        static const char *const paths[] = {
                "opt/cs/a.log",
                "opt/cs/sub/a.log",
                "opt/cs/db",
                "opt/cs/db/x",
                "opt/cs/dbx",
                "opt/a/x",
                "opt/a/b/x",
                "opt/a/x/y",
                "opt/cs/b",
                "opt/cs/b/c",
                "opt/cs",
                "opt",
                "opt/cs/*",
                "opt/cs/a",
                "opt/cs/ab",
                "aXb/c",
                "aX/b/c",
                "opt/x",
                "",
                "opt/cs/.log",
                "opt/cs/a.log/z",
        };
        for (size_t i = 0; i < ELEMENTSOF(patterns); i++)
                for (size_t j = 0; j < ELEMENTSOF(paths); j++) {
                        const char *pt = patterns[i], *pa = paths[j];
                        if (name_glob_match(pt, pa, NAME_MATCH_PATHNAME) != (fnmatch(pt, pa, FNM_PATHNAME) == 0))
                                fail_msg("'%s' vs '%s' differs from fnmatch(FNM_PATHNAME)", pt, pa);
                        if (name_glob_match(pt, pa, NAME_MATCH_PATHNAME | NAME_MATCH_LEADING_DIR) !=
                            (fnmatch(pt, pa, FNM_PATHNAME | FNM_LEADING_DIR) == 0))
                                fail_msg("'%s' vs '%s' differs from fnmatch(FNM_PATHNAME|FNM_LEADING_DIR)",
                                         pt, pa);
                }
        /* Without PATHNAME a '*' takes '/' as fnmatch(3) does. */
        assert_true(name_glob_match("opt/cs/*.log", "opt/cs/sub/a.log", 0));
        assert_false(name_glob_match("opt/cs/*.log", "opt/cs/sub/a.log", NAME_MATCH_PATHNAME));

        /* Something below the directory may match. */
        const NameMatchFlags anc = NAME_MATCH_PATHNAME | NAME_MATCH_ANCESTOR;
        assert_true(name_glob_match("opt/cs/*.log", "opt/cs", anc));
        assert_true(name_glob_match("opt/cs/*.log", "opt", anc));
        assert_true(name_glob_match("opt/*/x", "opt/a", anc));
        assert_true(name_glob_match("opt/a*b/x", "opt/aab", anc));
        assert_false(name_glob_match("opt/cs/*.log", "opt/other", anc));
        assert_false(name_glob_match("opt/cs/*.log", "opt/cs/sub", anc));
        assert_false(name_glob_match("opt/*/x", "opt/a/b", anc));
        assert_false(name_glob_match("opt/cs/db", "opt/cs/db/x", anc)); /* below a match: not this flag */
}

static void test_exclude_pattern(void **unused) {
        static const char *const good[] = {
                "/opt/CrowdStrike/falconstore",
                "/opt/CrowdStrike/*.log",
                "/var/osquery/osquery.db",
                "/var/ossec/queue",
                "/opt/x/[a-c]?/\\*",
                "/opt/x/caf\xc3\xa9",
                "/opt/x/a b",
        };
        static const char *const bad[] = {
                NULL,
                "",
                "/",
                "opt/x",
                "/opt/x/",
                "/opt//x",
                "/opt/./x",
                "/opt/x/..",
                "/opt/x/../y",
                "/opt/x/[ab",
                "/opt/x/a\\",
                "/opt/x/\x01",
                "/opt/x/[a\\]]",
                "/opt/x/[z-a]",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!name_is_exclude_pattern(good[i]))
                        fail_msg("'%s' refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (name_is_exclude_pattern(bad[i]))
                        fail_msg("'%s' accepted", bad[i]);
        char long_component[NAME_FILE_MAX + 16] = "/opt/";
        memset(long_component + 5, 'a', NAME_FILE_MAX + 1);
        long_component[5 + NAME_FILE_MAX + 1] = '\0';
        assert_false(name_is_exclude_pattern(long_component));
        long_component[5 + NAME_FILE_MAX] = '\0';
        assert_true(name_is_exclude_pattern(long_component));

        assert_true(name_exclude_is_under("/opt/cs/x", "/opt/cs"));
        assert_true(name_exclude_is_under("/opt/cs/*.log", "/opt/cs"));
        assert_true(name_exclude_is_under("/opt/\\cs/x", "/opt/cs")); /* an escaped 'c' is a 'c' */
        assert_false(name_exclude_is_under("/opt/cs", "/opt/cs"));
        assert_false(name_exclude_is_under("/opt/csx/y", "/opt/cs"));
        assert_false(name_exclude_is_under("/opt/c*/y", "/opt/cs"));
        assert_false(name_exclude_is_under("/opt/c?/y", "/opt/cs"));
        assert_false(name_exclude_is_under("/opt/[c]s/y", "/opt/cs"));
        assert_false(name_exclude_is_under("/opt", "/opt/cs"));
        assert_false(name_exclude_is_under("/x", "/"));
        assert_false(name_exclude_is_under(NULL, "/opt"));
}

static void test_unit(void **unused) {
        assert_true(name_is_unit("sensor.service"));
        assert_true(name_is_unit("getty@tty1.service"));
        assert_true(name_is_unit("dev-disk-by\\x2dlabel-x.device"));
        assert_true(name_is_unit("a.b.timer"));
        char *max = repeat('u', NAME_FILE_MAX - strlen(".service"), ".service");
        assert_true(name_is_unit(max));
        free(max);

        /* It becomes a link name in /etc/systemd/system. */
        assert_false(name_is_unit("../x.service"));
        assert_false(name_is_unit("a/b.service"));
        assert_false(name_is_unit(".service"));
        assert_false(name_is_unit("sensor"));
        assert_false(name_is_unit("sensor.conf"));
        assert_false(name_is_unit("sensor.service\n"));
        assert_false(name_is_unit("a b.service"));
        assert_false(name_is_unit(""));
        assert_false(name_is_unit(NULL));
        /* Room is left for the temp-file prefix within NAME_MAX. */
        char *long_ = repeat('u', NAME_FILE_MAX - strlen(".service") + 1, ".service");
        assert_false(name_is_unit(long_));
        free(long_);
}

static void test_unit_pattern(void **unused) {
        assert_true(name_is_unit_pattern("falcon-sensor*.service"));
        assert_true(name_is_unit_pattern("mdatp*.service"));
        assert_true(name_is_unit_pattern("sensor-?.timer"));
        assert_true(name_is_unit_pattern("sensor-[0-9].socket"));
        assert_true(name_is_unit_pattern("getty@*.service"));
        /* a plain name is a pattern too, \x2d escapes and all */
        assert_true(name_is_unit_pattern("sensor.service"));
        assert_true(name_is_unit_pattern("dev-disk-by\\x2dlabel-x.device"));
        assert_true(name_glob_match("falcon-sensor*.service", "falcon-sensor-bpf.service", 0));
        assert_false(name_glob_match("falcon-sensor*.service", "falcon-sensor.socket", 0));

        /* the unit type is literal: a glob in or instead of the suffix could mask anything */
        assert_false(name_is_unit_pattern("falcon*"));
        assert_false(name_is_unit_pattern("falcon.*"));
        assert_false(name_is_unit_pattern("falcon.serv*"));
        assert_false(name_is_unit_pattern("falcon.service*"));
        assert_false(name_is_unit_pattern("*.[st]ervice"));
        assert_false(name_is_unit_pattern("*"));
        assert_false(name_is_unit_pattern("*.conf"));
        /* still a link name: no '/', no '\\' (an escape in a glob), no space, no newline */
        assert_false(name_is_unit_pattern("../*.service"));
        assert_false(name_is_unit_pattern("a/*.service"));
        assert_false(name_is_unit_pattern("a\\*.service"));
        assert_false(name_is_unit_pattern("a *.service"));
        assert_false(name_is_unit_pattern("a*\n.service"));
        assert_false(name_is_unit_pattern(".*.service"));
        assert_false(name_is_unit_pattern("[a.service"));
        assert_false(name_is_unit_pattern(""));
        assert_false(name_is_unit_pattern(NULL));
        char *long_ = repeat('u', NAME_PATTERN_MAX, "*.service");
        assert_false(name_is_unit_pattern(long_));
        free(long_);
        /* control: the plain validator refuses globs */
        assert_false(name_is_unit("mdatp*.service"));
}

static void test_content_path(void **unused) {
        assert_true(name_is_content_path("/opt/vendor/defs"));
        assert_true(name_is_content_path("/etc/sensor"));
        assert_true(name_is_content_path("/etc/modprobe.d/vendor.conf"));
        assert_true(name_is_content_path("/etc/systemd/system/sensor.service.d"));
        assert_true(name_is_content_path("/var/lib/lastgoodness"));

        assert_false(name_is_content_path(NULL));
        assert_false(name_is_content_path(""));
        assert_false(name_is_content_path("opt/vendor"));
        assert_false(name_is_content_path("/opt/vendor/"));
        assert_false(name_is_content_path("/opt//vendor"));
        assert_false(name_is_content_path("/opt/./vendor"));
        assert_false(name_is_content_path("/opt/../etc"));
        assert_false(name_is_content_path("/opt/ven\ndor"));
        /* Globs: taken literally they would name nothing the admin meant. */
        assert_false(name_is_content_path("/var/opt/microsoft/mdatp/definitions.noindex/*"));
        assert_false(name_is_content_path("/opt/vendor/defs?"));
        assert_false(name_is_content_path("/opt/vendor/[ab]"));
        /* The kernel's and the runtime's virtual trees. */
        assert_false(name_is_content_path("/proc/sys"));
        assert_false(name_is_content_path("/sys"));
        assert_false(name_is_content_path("/dev/sda"));
        assert_false(name_is_content_path("/run/sensor"));
        /* Our own state, and what holds a directory we write into. */
        assert_false(name_is_content_path("/"));
        assert_false(name_is_content_path("/var"));
        assert_false(name_is_content_path("/var/lib"));
        assert_false(name_is_content_path(LASTGOOD_STATE_DIR));
        assert_false(name_is_content_path(LASTGOOD_STATE_FILE_DEFAULT));
        assert_false(name_is_content_path(LASTGOOD_QUARANTINE_DIR "/x"));
        assert_false(name_is_content_path("/etc"));
        assert_false(name_is_content_path(MODPROBE_CONF_DIR));
        assert_false(name_is_content_path("/etc/systemd"));
        assert_false(name_is_content_path(SYSTEMD_SYSTEM_DIR));
        /* Each component is a file name lastgood may make. */
        char *long_ = repeat('c', NAME_FILE_MAX + 1, "");
        char path[512];
        snprintf(path, sizeof path, "/opt/%s", long_);
        assert_false(name_is_content_path(path));
        long_[NAME_FILE_MAX] = '\0';
        snprintf(path, sizeof path, "/opt/%s", long_);
        assert_true(name_is_content_path(path));
        free(long_);
}

/* Issue 11 finding 6: the system's directories and lastgood's own files. */
static void test_content_path_refusal(void **unused) {
        static const char *const system_dirs[] = { "/",        "/usr", "/usr/lib", "/etc",  "/etc/systemd",
                                                   "/boot",    "/lib", "/bin",     "/sbin", "/var",
                                                   "/var/lib", "/opt" };
        for (size_t i = 0; i < ELEMENTSOF(system_dirs); i++) {
                assert_false(name_is_content_path(system_dirs[i]));
                assert_string_equal(name_content_path_refusal(system_dirs[i]), "a system directory");
        }
        /* Below them is content as usual. */
        assert_null(name_content_path_refusal("/usr/lib/sensor"));
        assert_null(name_content_path_refusal("/opt/sensor"));
        assert_null(name_content_path_refusal("/boot/sensor.cfg"));
        assert_null(name_content_path_refusal("/etc/lastgoodish"));
        /* Lastgood's configuration: at, below and above. */
        assert_non_null(name_content_path_refusal(LASTGOOD_CONFIG_DIR));
        assert_non_null(name_content_path_refusal(LASTGOOD_POLICY_FILE));
        assert_non_null(name_content_path_refusal(LASTGOOD_POLICY_DROPIN_DIR "/10-x.yaml"));
        assert_non_null(name_content_path_refusal(LASTGOOD_QUARANTINE_MODPROBE_CONF));
        assert_null(name_content_path_refusal(MODPROBE_CONF_DIR "/vendor.conf"));
        assert_string_equal(name_content_path_refusal(MODPROBE_CONF_DIR),
                            "a directory lastgood writes into, or holds one");
        assert_string_equal(name_content_path_refusal("/proc/x"),
                            "in a virtual file system (/proc, /sys, /dev, /run)");
        assert_string_equal(name_content_path_refusal("/opt/a*"), "a glob (content paths are literal)");
        assert_string_equal(name_content_path_refusal("opt"), "not a normalized absolute path");
}

static void test_exclude_match(void **unused) {
        char *ex[] = { (char *) "/opt/cs/plugin", (char *) "/opt/cs/ext-*", NULL };
        /* Relative (manifest paths) and absolute alike. */
        assert_true(name_exclude_match(ex, "opt/cs/plugin", NAME_MATCH_LEADING_DIR));
        assert_true(name_exclude_match(ex, "/opt/cs/plugin/bin", NAME_MATCH_LEADING_DIR));
        assert_true(name_exclude_match(ex, "/opt/cs/ext-scan", NAME_MATCH_LEADING_DIR));
        assert_false(name_exclude_match(ex, "/opt/cs/ext-scan/x", 0));
        assert_false(name_exclude_match(ex, "/opt/cs/pluginx", NAME_MATCH_LEADING_DIR));
        assert_false(name_exclude_match(ex, "/opt/cs", NAME_MATCH_LEADING_DIR));
        assert_true(name_exclude_match(ex, "/opt/cs", NAME_MATCH_ANCESTOR));
        assert_false(name_exclude_match(NULL, "/opt/cs/plugin", NAME_MATCH_LEADING_DIR));
        assert_false(name_exclude_match(ex, NULL, NAME_MATCH_LEADING_DIR));
}

static void test_module_pattern(void **unused) {
        assert_true(name_is_module_pattern("fakesensor"));
        assert_true(name_is_module_pattern("falcon_lsm_pinned_*"));
        assert_true(name_is_module_pattern("falcon-lsm-pinned-?????"));
        assert_true(name_is_module_pattern("acme_[a-z0-9]*"));
        assert_true(name_is_module_pattern("acme_[!x]"));
        assert_true(name_is_module_pattern("acme_[^x-]"));
        assert_true(name_is_module_pattern("*"));
        char *max = repeat('*', NAME_PATTERN_MAX, "");
        assert_true(name_is_module_pattern(max));
        free(max);

        /* Whatever it expands to becomes a modprobe.d line. */
        assert_false(name_is_module_pattern(NULL));
        assert_false(name_is_module_pattern(""));
        assert_false(name_is_module_pattern("acme *"));
        assert_false(name_is_module_pattern("acme\n*"));
        assert_false(name_is_module_pattern("acme\\*"));
        assert_false(name_is_module_pattern("acme\\_*")); /* no escapes: nothing needs one */
        assert_false(name_is_module_pattern("acme.*"));
        assert_false(name_is_module_pattern("acme[ ]*"));
        assert_false(name_is_module_pattern("acme[\n]*"));
        /* fnmatch would take a lone '[' literally: no module name has one. */
        assert_false(name_is_module_pattern("acme_[a-z*"));
        assert_false(name_is_module_pattern("acme_[]*"));
        assert_false(name_is_module_pattern("acme_[z-a]*"));
        char *long_ = repeat('*', NAME_PATTERN_MAX + 1, "");
        assert_false(name_is_module_pattern(long_));
        free(long_);
        /* needs more characters than any module name has */
        char *needs = repeat('?', NAME_MODULE_MAX + 1, "*");
        assert_false(name_is_module_pattern(needs));
        needs[1] = '*';
        assert_true(name_is_module_pattern(needs));
        free(needs);
        /* a plain name keeps the name rules */
        char *name = repeat('m', NAME_MODULE_MAX + 1, "");
        assert_false(name_is_module_pattern(name));
        free(name);

        char n[] = "falcon-lsm-[a-z]-[!-]*-x";
        name_module_pattern_normalize(n);
        assert_string_equal(n, "falcon_lsm_[a-z]_[!-]*_x");
        assert_true(name_module_match(n, "falcon-lsm-q-y-x"));
        assert_true(name_has_glob("a*") && name_has_glob("a?") && name_has_glob("a[b]"));
        assert_false(name_has_glob("a-b_c") || name_has_glob(NULL));
}

static void test_process_pattern(void **unused) {
        assert_true(name_is_process_pattern("falcon-sensor*"));
        assert_true(name_is_process_pattern("falcon-sensor-b")); /* 15: as the kernel prints it */
        assert_true(name_is_process_pattern("falcon-sensor-b*"));
        assert_true(name_is_process_pattern("falcon-sensor-bpf*")); /* ends in '*': a prefix, said so */
        assert_true(name_is_process_pattern("kworker/[0-9]:*"));
        assert_true(name_is_process_pattern("Web Content"));
        assert_true(name_is_process_pattern("a\\*b"));
        assert_true(name_is_process_pattern("???????????????")); /* 15 */
        assert_true(name_is_process_pattern("[a][b][c][d][e][f][g][h][i][j][k][l][m][n][o]"));

        /* Longer than the kernel keeps, without a '*' saying "and more". */
        assert_false(name_is_process_pattern("falcon-sensor-bpf"));
        assert_false(name_is_process_pattern("????????????????"));
        assert_false(name_is_process_pattern("[a][b][c][d][e][f][g][h][i][j][k][l][m][n][o][p]"));
        assert_false(name_is_process_pattern("falcon-sensor-bp\\*")); /* an escaped '*' is a character */
        assert_false(name_is_process_pattern(NULL));
        assert_false(name_is_process_pattern(""));
        assert_false(name_is_process_pattern(" sensor"));
        assert_false(name_is_process_pattern("sensor "));
        assert_false(name_is_process_pattern("sen\nsor"));
        assert_false(name_is_process_pattern("sen\x1bsor"));
        assert_false(name_is_process_pattern("s\xc3\xa9nsor"));
        assert_false(name_is_process_pattern("sensor\\"));
        assert_false(name_is_process_pattern("sensor[ab"));
        assert_false(name_is_process_pattern("sensor[\\]]"));
        char *long_ = repeat('*', NAME_PATTERN_MAX + 1, "");
        assert_false(name_is_process_pattern(long_));
        free(long_);
}

static void test_bpf_pattern(void **unused) {
        assert_true(name_is_bpf_pattern("falcon_*"));
        assert_true(name_is_bpf_pattern("falcon_x"));
        assert_true(name_is_bpf_pattern("tracepoint.sys_enter*"));
        char *btf = repeat('f', NAME_PATTERN_MAX, ""); /* BTF function names may be long */
        assert_true(name_is_bpf_pattern(btf));
        free(btf);

        assert_false(name_is_bpf_pattern(NULL));
        assert_false(name_is_bpf_pattern(""));
        assert_false(name_is_bpf_pattern("falcon-x"));
        assert_false(name_is_bpf_pattern("falcon x"));
        assert_false(name_is_bpf_pattern("falcon_[x"));
        assert_false(name_is_bpf_pattern("falcon_\\*"));
        assert_false(name_is_bpf_pattern("falcon\\_*"));
        char *long_ = repeat('f', NAME_PATTERN_MAX + 1, "");
        assert_false(name_is_bpf_pattern(long_));
        free(long_);
}

/* The policy refuses what quarantine would refuse later: at load, with the
 * place in the file, not when the component first fails. */
static void test_component_in_policy(void **unused) {
        Policy p;
        assert_int_equal(policy_init_defaults(&p), 0);
        const char *yaml = "components:\n  - name: " LASTGOOD_QUARANTINE_REGISTRY_NAME "\n";
        assert_int_equal(policy_parse_buffer(&p, "t.yaml", yaml, strlen(yaml)), 1);
        assert_non_null(p.errors[0]);
        static const char where[] = "t.yaml:2:11: components[0].name: ";
        assert_true(strneq(p.errors[0], where, sizeof where - 1));
        assert_non_null(strstr(p.errors[0], "'" LASTGOOD_QUARANTINE_REGISTRY_NAME "'"));
        policy_done(&p);
}

/* Literal patterns take a shortcut (string compares): the answers must be
 * the glob engine's. "[x]..." spells the same pattern with a glob, so the
 * engine answers it: every flag combination, every kind of relation. */
static void test_literal_shortcut_agrees(void **unused) {
        static const char *const pats[] = { "opt/s/db", "a", "opt/s", "opt/s/db/x", "" };
        static const char *const strs[] = { "opt/s/db", "opt/s/db/x", "opt/s/dbx", "opt/s", "opt/s/",  "opt",
                                            "a",        "ab",         "a/b",       "",      "opt/t/db" };
        static const NameMatchFlags flags[] = { 0,
                                                NAME_MATCH_PATHNAME,
                                                NAME_MATCH_PATHNAME | NAME_MATCH_LEADING_DIR,
                                                NAME_MATCH_PATHNAME | NAME_MATCH_ANCESTOR,
                                                NAME_MATCH_TRUNCATED,
                                                NAME_MATCH_LEADING_DIR | NAME_MATCH_ANCESTOR };
        size_t differ = 0, checked = 0;
        for (size_t i = 0; i < ELEMENTSOF(pats); i++) {
                if (!pats[i][0])
                        continue; /* no first character to bracket */
                char globbed[64];
                snprintf(globbed, sizeof globbed, "[%c]%s", pats[i][0], pats[i] + 1);
                for (size_t j = 0; j < ELEMENTSOF(strs); j++)
                        for (size_t k = 0; k < ELEMENTSOF(flags); k++) {
                                bool lit = name_glob_match(pats[i], strs[j], flags[k]);
                                bool glob = name_glob_match(globbed, strs[j], flags[k]);
                                if (lit != glob) {
                                        print_message("%s vs %s flags %d: %d != %d\n", pats[i], strs[j],
                                                      (int) flags[k], lit, glob);
                                        differ++;
                                }
                                checked++;
                        }
        }
        assert_int_equal(differ, 0);
        assert_int_equal(checked, 4 * ELEMENTSOF(strs) * ELEMENTSOF(flags));
        /* And the cases that matter, spelled out. */
        assert_true(name_glob_match("opt/s/db", "opt/s/db/x", NAME_MATCH_PATHNAME | NAME_MATCH_LEADING_DIR));
        assert_false(name_glob_match("opt/s/db", "opt/s/dbx", NAME_MATCH_PATHNAME | NAME_MATCH_LEADING_DIR));
        assert_true(name_glob_match("opt/s/db", "opt/s", NAME_MATCH_PATHNAME | NAME_MATCH_ANCESTOR));
        assert_false(name_glob_match("opt/s/db", "opt/s", NAME_MATCH_PATHNAME | NAME_MATCH_LEADING_DIR));
        assert_true(name_glob_match("", "", 0));
        assert_false(name_glob_match("", "a", 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_component),
                cmocka_unit_test(test_module),
                cmocka_unit_test(test_glob),
                cmocka_unit_test(test_literal_shortcut_agrees),
                cmocka_unit_test(test_unit),
                cmocka_unit_test(test_unit_pattern),
                cmocka_unit_test(test_content_path),
                cmocka_unit_test(test_content_path_refusal),
                cmocka_unit_test(test_exclude_match),
                cmocka_unit_test(test_component_in_policy),
                cmocka_unit_test(test_module_pattern),
                cmocka_unit_test(test_process_pattern),
                cmocka_unit_test(test_bpf_pattern),
                cmocka_unit_test(test_path_glob),
                cmocka_unit_test(test_exclude_pattern),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
