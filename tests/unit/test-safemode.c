/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Safe mode: runtime-only configuration beneath /run, loud (marker and
 * banner), nothing under /etc or /var changed, unsafe names never written,
 * and clear removes exactly what it wrote.
 */
#include "unit.h"

#include "lib/rootfs.h"
#include "recovery/safemode.h"

static void sh(const char *dir, const char *script) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, script);
        assert_int_equal(system(cmd), 0);
}

/* Names, types, modes, owners, sizes, link targets, mtimes and sha256 of
 * everything under WHAT (directory mtimes too: nothing may even be added). */
static char *snapshot(const char *root, const char *what) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && { find %s -printf '%%p %%y %%m %%U %%G %%s %%l %%T@\\n' | LC_ALL=C sort;"
                 " find %s -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum; } 2>&1",
                 root, what, what);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char *buf = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
                fwrite(chunk, 1, n, out);
        pclose(p);
        fclose(out);
        return buf;
}

static char *read_file(const char *root, const char *path) {
        char p[512];
        snprintf(p, sizeof p, "%s%s", root, path);
        FILE *f = fopen(p, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);
        int c;
        while ((c = fgetc(f)) != EOF)
                fputc(c, out);
        fclose(f);
        fclose(out);
        return buf;
}

static const char *link_target(const char *root, const char *path) {
        static char t[512];
        char p[512];
        snprintf(p, sizeof p, "%s%s", root, path);
        ssize_t n = readlink(p, t, sizeof t - 1);
        if (n < 0)
                return NULL;
        t[n] = '\0';
        return t;
}

static bool path_exists(const char *root, const char *path) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s%s", root, path);
        return lstat(p, &st) == 0;
}

typedef struct Fixture {
        char *root;
        int root_fd;
        Policy policy;
        Component comps[3];
} Fixture;

static char **strv_of(const char *const *l) {
        return l ? strv_copy((char *const *) l) : NULL;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        f->root = unit_mkdtemp();
        sh(f->root, "mkdir -p etc/modprobe.d etc/systemd/system var/lib/lastgood lib/systemd/system run "
                    "&& echo 'options x y=1' > etc/modprobe.d/other.conf "
                    "&& echo '[Service]' > etc/systemd/system/av-agent.service "
                    "&& echo state > var/lib/lastgood/state "
                    "&& find . -exec touch -h -d @1600000000 {} +");
        assert_int_equal(root_open(f->root, &f->root_fd), 0);

        static const char *const av_mods[] = { "av_core", "av-net", NULL };
        static const char *const av_units[] = { "av-agent.service", "av-update.timer", NULL };
        static const char *const fw_mods[] = { "fw_filter", NULL };
        static const char *const fw_units[] = { "fw.service", NULL };
        static const char *const bad_mods[] = { "ok_mod", "evil\ninstall ext4 /bin/sh", NULL };
        static const char *const bad_units[] = { "../../etc/passwd.service", "good.service", NULL };
        f->comps[0] = (Component) { .name = strdup("av"),
                                    .kernel_modules = strv_of(av_mods),
                                    .units = strv_of(av_units),
                                    .safe_mode = COMPONENT_SAFE_MODE_DISABLE };
        f->comps[1] = (Component) { .name = strdup("firewall"),
                                    .kernel_modules = strv_of(fw_mods),
                                    .units = strv_of(fw_units),
                                    .safe_mode = COMPONENT_SAFE_MODE_KEEP };
        f->comps[2] = (Component) { .name = strdup("odd"),
                                    .kernel_modules = strv_of(bad_mods),
                                    .units = strv_of(bad_units),
                                    .safe_mode = COMPONENT_SAFE_MODE_DISABLE };
        f->policy.components = f->comps;
        f->policy.n_components = 3;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        for (size_t i = 0; i < ELEMENTSOF(f->comps); i++) {
                free(f->comps[i].name);
                strv_free(f->comps[i].kernel_modules);
                strv_free(f->comps[i].units);
        }
        close(f->root_fd);
        unit_rmdir(f->root);
        free(f);
        return 0;
}

static void test_runtime_only_and_loud(void **state) {
        Fixture *f = *state;
        char *before = snapshot(f->root, "etc var lib");
        assert_false(safemode_is_active(f->root_fd));

        assert_int_equal(safemode_apply_runtime(f->root_fd, &f->policy, "3 failed boots\n\x1b[2Jsneaky \\e"), 2);

        /* nothing persistent changed, not even a directory's mtime */
        char *after = snapshot(f->root, "etc var lib");
        assert_string_equal(before, after);
        free(before);
        free(after);

        char *conf = read_file(f->root, LASTGOOD_SAFEMODE_MODPROBE_CONF);
        assert_non_null(conf);
        assert_non_null(strstr(conf, "blacklist av_core\ninstall av_core /bin/false\n"));
        assert_non_null(strstr(conf, "blacklist av-net\ninstall av-net /bin/false\n"));
        assert_non_null(strstr(conf, "install ok_mod /bin/false"));
        /* keep: the firewall runs in safe mode */
        assert_null(strstr(conf, "fw_filter"));
        /* an injected line never reaches modprobe.d */
        assert_null(strstr(conf, "ext4"));
        assert_null(strstr(conf, "evil"));
        free(conf);

        static const char *const masked[] = { "av-agent.service", "av-update.timer", "good.service" };
        for (size_t i = 0; i < ELEMENTSOF(masked); i++) {
                char p[256];
                snprintf(p, sizeof p, "/run/systemd/system/%s", masked[i]);
                assert_string_equal(link_target(f->root, p), "/dev/null");
                snprintf(p, sizeof p, "/run/systemd/system.control/%s", masked[i]);
                assert_string_equal(link_target(f->root, p), "/dev/null");
        }
        assert_false(path_exists(f->root, "/run/systemd/system/fw.service"));
        assert_false(path_exists(f->root, "/etc/passwd.service"));
        assert_false(path_exists(f->root, "/run/passwd.service"));

        assert_true(safemode_is_active(f->root_fd));
        char *text = NULL;
        assert_int_equal(safemode_describe(f->root_fd, &text), 0);
        assert_non_null(strstr(text, "reason: 3 failed boots??[2Jsneaky \\e\n"));
        assert_non_null(strstr(text, "components: av odd\n"));
        assert_non_null(strstr(text, "units: av-agent.service av-update.timer good.service\n"));
        assert_non_null(
                strstr(text, "skipped (unsafe names): evil?install ext4 /bin/sh ../../etc/passwd.service\n"));
        assert_null(strchr(text, '\x1b'));
        free(text);

        char *banner = read_file(f->root, LASTGOOD_SAFEMODE_BANNER);
        assert_non_null(banner);
        assert_non_null(strstr(banner, "SAFE MODE"));
        assert_non_null(strstr(banner, "Disabled: av odd"));
        /* agetty escapes: a backslash is doubled so "\e" cannot become ESC */
        assert_non_null(strstr(banner, "sneaky \\\\e"));
        assert_null(strchr(banner, '\x1b'));
        char *run_issue = read_file(f->root, LASTGOOD_SAFEMODE_RUN_ISSUE);
        assert_non_null(run_issue);
        assert_string_equal(banner, run_issue);
        free(banner);
        free(run_issue);
}

static void test_existing_runtime_unit_not_clobbered(void **state) {
        Fixture *f = *state;
        sh(f->root, "mkdir -p run/systemd/system && echo '[Service]' > run/systemd/system/av-agent.service"
                    " && ln -s /lib/systemd/system/av-update.timer run/systemd/system/av-update.timer");
        assert_int_equal(safemode_apply_runtime(f->root_fd, &f->policy, "r"), 2);
        char *unit = read_file(f->root, "/run/systemd/system/av-agent.service");
        assert_string_equal(unit, "[Service]\n");
        free(unit);
        assert_string_equal(link_target(f->root, "/run/systemd/system/av-update.timer"),
                            "/lib/systemd/system/av-update.timer");

        /* the higher-ranking system.control mask still applies */
        assert_string_equal(link_target(f->root, "/run/systemd/system.control/av-agent.service"), "/dev/null");
        assert_string_equal(link_target(f->root, "/run/systemd/system.control/av-update.timer"), "/dev/null");
        /* clear leaves what was not ours */
        assert_int_equal(safemode_clear_runtime(f->root_fd), 0);
        assert_string_equal(link_target(f->root, "/run/systemd/system/av-update.timer"),
                            "/lib/systemd/system/av-update.timer");
        assert_false(path_exists(f->root, "/run/systemd/system.control/av-update.timer"));
}

static void test_clear_removes_exactly_ours(void **state) {
        Fixture *f = *state;
        sh(f->root,
           "mkdir -p run/systemd/system && ln -s /lib/systemd/system/x.service run/systemd/system/x.service");
        char *before = snapshot(f->root, "etc var lib");
        assert_int_equal(safemode_apply_runtime(f->root_fd, &f->policy, "r"), 2);
        /* applying twice is fine (a second `boot` run in the same boot) */
        assert_int_equal(safemode_apply_runtime(f->root_fd, &f->policy, "r"), 2);
        assert_int_equal(safemode_clear_runtime(f->root_fd), 0);
        assert_false(safemode_is_active(f->root_fd));
        assert_string_equal(link_target(f->root, "/run/systemd/system/x.service"), "/lib/systemd/system/x.service");
        /* files gone; directories we created may stay (it is /run) */
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cd '%s' && test -z \"$(find run ! -type d ! -name x.service)\"", f->root);
        assert_int_equal(system(cmd), 0);
        char *after = snapshot(f->root, "etc var lib");
        assert_string_equal(before, after);
        free(before);
        free(after);
        assert_int_equal(safemode_clear_runtime(f->root_fd), 0);
        char *t = NULL;
        assert_int_equal(safemode_describe(f->root_fd, &t), -ENOENT);
}

static void test_no_components(void **state) {
        Fixture *f = *state;
        Policy empty = {};
        assert_int_equal(safemode_apply_runtime(f->root_fd, &empty, NULL), 0);
        assert_true(safemode_is_active(f->root_fd));
        assert_false(path_exists(f->root, LASTGOOD_SAFEMODE_MODPROBE_CONF));
        char *banner = read_file(f->root, LASTGOOD_SAFEMODE_BANNER);
        assert_non_null(strstr(banner, "Disabled: (none)"));
        free(banner);
}

/* A units glob masks each installed unit it matches, in /etc, /run and the
 * vendor directories beneath the root, never the glob itself; a symlink
 * leading out of the root names nothing there; a glob that matches nothing
 * is said. */
static void test_unit_globs_expand_to_installed_units(void **state) {
        Fixture *f = *state;
        char outside[600];
        snprintf(outside, sizeof outside, "%s.outside", f->root);
        sh(f->root, "mkdir -p usr/lib/systemd/system "
                    "&& echo x > usr/lib/systemd/system/mdatp.service "
                    "&& echo x > usr/lib/systemd/system/mdatp-update.service "
                    "&& echo x > lib/systemd/system/mdatp-extra.service "
                    "&& echo x > usr/lib/systemd/system/mdatp.socket "
                    "&& echo x > usr/lib/systemd/system/other.service "
                    "&& mkdir usr/lib/systemd/system/mdatp-dir.service");
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s' && echo x > '%s/mdatp-escaped.service' && rm -rf etc/systemd/system "
                 "&& ln -s '%s' etc/systemd/system",
                 outside, outside, outside);
        sh(f->root, cmd);
        static const char *const globs[] = { "mdatp*.service", "nothing-here*.service", NULL };
        strv_free(f->comps[0].units);
        f->comps[0].units = strv_of(globs);
        f->comps[2].safe_mode = COMPONENT_SAFE_MODE_KEEP;

        assert_true(safemode_apply_runtime(f->root_fd, &f->policy, "test") >= 0);
        assert_string_equal(link_target(f->root, "/run/systemd/system/mdatp.service"), "/dev/null");
        assert_string_equal(link_target(f->root, "/run/systemd/system/mdatp-update.service"), "/dev/null");
        assert_string_equal(link_target(f->root, "/run/systemd/system/mdatp-extra.service"), "/dev/null");
        assert_string_equal(link_target(f->root, "/run/systemd/system.control/mdatp.service"), "/dev/null");
        /* negative controls: other types and names, directories, the glob itself, what lies outside */
        assert_false(path_exists(f->root, "/run/systemd/system/mdatp.socket"));
        assert_false(path_exists(f->root, "/run/systemd/system/other.service"));
        assert_false(path_exists(f->root, "/run/systemd/system/mdatp-dir.service"));
        assert_false(path_exists(f->root, "/run/systemd/system/mdatp*.service"));
        assert_false(path_exists(f->root, "/run/systemd/system/mdatp-escaped.service"));
        char *marker = read_file(f->root, LASTGOOD_SAFEMODE_MARKER);
        assert_non_null(marker);
        assert_non_null(strstr(marker, "units globs matching no installed unit: nothing-here*.service"));
        assert_null(strstr(marker, "matching no installed unit: mdatp"));
        free(marker);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", outside);
        sh(f->root, cmd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_unit_globs_expand_to_installed_units, setup, teardown),
                cmocka_unit_test_setup_teardown(test_runtime_only_and_loud, setup, teardown),
                cmocka_unit_test_setup_teardown(test_existing_runtime_unit_not_clobbered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clear_removes_exactly_ours, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_components, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
