/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Quarantine: apply/release round trips compared byte for byte with the tree
 * before, the anti-tamper refusal, unsafe names, conflicts, the EXDEV copy
 * fallback, and power cuts (fault injection at every durable step of apply
 * and release, each in a child process, then recovery in another).
 */
#include "unit.h"

#include <signal.h>
#include <sys/wait.h>

#include "lib/fault.h"
#include "lib/paths.h"
#include "recovery/quarantine.h"
#include "lib/rootfs.h"

/* ---- fixtures ---- */

static const char POPULATE[] =
        "set -e\n"
        "mkdir -p etc/modprobe.d etc/systemd/system/multi-user.target.wants lib/systemd/system "
        "opt/vendor/defs/sub opt/other var/lib/lastgood run\n"
        "printf 'options snd slots=1\\n' > etc/modprobe.d/other.conf\n"
        "printf '[Service]\\nExecStart=/opt/vendor/agent --override\\n' > etc/systemd/system/vendor-agent.service\n"
        "chmod 0640 etc/systemd/system/vendor-agent.service\n"
        "ln -s /lib/systemd/system/vendor-agent.service "
        "etc/systemd/system/multi-user.target.wants/vendor-agent.service\n"
        "printf '[Service]\\nExecStart=/opt/vendor/agent\\n' > lib/systemd/system/vendor-agent.service\n"
        "printf '[Service]\\nExecStart=/opt/vendor/helper\\n' > lib/systemd/system/vendor-helper.service\n"
        "ln -s /lib/systemd/system/vendor-helper.service etc/systemd/system/vendor-helper.service\n"
        "printf 'sig1' > opt/vendor/defs/a.sig\n"
        "printf 'sig2' > opt/vendor/defs/sub/b.sig\n"
        "chmod 0600 opt/vendor/defs/sub/b.sig\n"
        "chmod 0750 opt/vendor/defs/sub\n"
        "chown 1234:4321 opt/vendor/defs/a.sig\n"
        "ln -s a.sig opt/vendor/defs/current\n"
        "seq 1 20000 > opt/vendor/rules.bin\n"
        "printf 'keep' > opt/vendor/keep.txt\n"
        "printf 'other' > opt/other/data\n"
        "find . -exec touch -h -d @1600000000 {} +\n";

static void sh(const char *dir, const char *script) {
        char path[256];
        snprintf(path, sizeof path, "%s/.script", dir);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "cd '%s'\n%s", dir, script);
        fclose(f);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "sh '%s' && rm -f '%s'", path, path);
        assert_int_equal(system(cmd), 0);
}

/* Live state below the content, for the tests of `exclude`. */
static const char EXCLUDED_STATE[] = "set -e\n"
                                     "mkdir -p opt/vendor/defs/state/wal\n"
                                     "printf 'db' > opt/vendor/defs/state/db\n"
                                     "printf 'w' > opt/vendor/defs/state/wal/1\n"
                                     "printf 'log' > opt/vendor/defs/a.log\n"
                                     "printf 'sublog' > opt/vendor/defs/sub/b.log\n"
                                     "chmod 0710 opt/vendor/defs\n"
                                     "chown 1234:4321 opt/vendor/defs\n"
                                     "find opt/vendor -exec touch -h -d @1600000000 {} +\n";
static const char *const VENDOR_EXCLUDE[] = { "/opt/vendor/defs/state", "/opt/vendor/defs/*.log",
                                              "/opt/vendor/defs/sub/*.log", NULL };
/* Set by the tests of `exclude`: every tree gets the state, every
 * component (children's too) the exclude entries. */
static bool with_exclude;

static void populate(const char *root) {
        sh(root, POPULATE);
        if (with_exclude)
                sh(root, EXCLUDED_STATE);
}

/* Names, types, modes, owners, sizes, link targets; file mtimes (but the
 * generated modprobe.d file's); sha256 of every file. Directory sizes and
 * mtimes are left out (they follow entries coming and going). */
static char *snapshot(const char *root, const char *what) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && { find %s ! -type d -printf '%%p %%y %%m %%U %%G %%s %%l\\n' | LC_ALL=C sort;"
                 " find %s -type d -printf '%%p %%m %%U %%G\\n' | LC_ALL=C sort;"
                 " find %s -type f ! -path etc/modprobe.d/#lastgood-quarantine.conf -printf '%%p %%T@\\n'"
                 " | LC_ALL=C sort;"
                 " find %s -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum; } 2>&1",
                 root, what, what, what, what);
        return unit_command_output(cmd);
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

static bool path_exists(const char *root, const char *path) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s%s", root, path);
        return lstat(p, &st) == 0;
}

static char *link_target(const char *root, const char *path) {
        char p[512];
        static char t[512];
        snprintf(p, sizeof p, "%s%s", root, path);
        ssize_t n = readlink(p, t, sizeof t - 1);
        if (n < 0)
                return NULL;
        t[n] = '\0';
        return t;
}

typedef struct Fixture {
        char *root;
        int root_fd;
        Component vendor;
} Fixture;

static Component make_component(const char *name, const char *const *mods, const char *const *units,
                                const char *const *content, QuarantineMode mode) {
        Component c = { .name = strdup(name), .quarantine = mode };
        c.kernel_modules = mods ? strv_copy((char *const *) mods) : NULL;
        c.units = units ? strv_copy((char *const *) units) : NULL;
        c.content = content ? strv_copy((char *const *) content) : NULL;
        c.exclude = with_exclude ? strv_copy((char *const *) VENDOR_EXCLUDE) : NULL;
        return c;
}

static void component_free(Component *c) {
        free(c->name);
        strv_free(c->kernel_modules);
        strv_free(c->units);
        strv_free(c->content);
        strv_free(c->exclude);
}

static const char *const VENDOR_MODS[] = { "vendor_av", "vendor-net", NULL };
static const char *const VENDOR_UNITS[] = { "vendor-agent.service", "vendor-helper.service",
                                            "vendor-update.timer", NULL };
static const char *const VENDOR_CONTENT[] = { "/opt/vendor/defs", "/opt/vendor/rules.bin",
                                              "/opt/vendor/missing", NULL };

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        f->root = unit_mkdtemp();
        populate(f->root);
        assert_int_equal(root_open(f->root, &f->root_fd), 0);
        f->vendor = make_component("vendor", VENDOR_MODS, VENDOR_UNITS, VENDOR_CONTENT, QUARANTINE_ALLOW);
        unsetenv("LASTGOOD_TEST_FORCE_EXDEV");
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        close(f->root_fd);
        component_free(&f->vendor);
        unit_rmdir(f->root);
        free(f);
        unsetenv("LASTGOOD_TEST_FORCE_EXDEV");
        with_exclude = false;
        return 0;
}

static int setup_exclude(void **state) {
        with_exclude = true;
        return setup(state);
}

static size_t n_entries(int root_fd) {
        QuarantineEntry *l = NULL;
        size_t n = 0;
        assert_int_equal(quarantine_list(root_fd, &l, &n), 0);
        quarantine_list_free(l, n);
        return n;
}

/* ---- round trips ---- */

static void roundtrip(Fixture *f, bool exdev) {
        if (exdev)
                setenv("LASTGOOD_TEST_FORCE_EXDEV", "1", 1);
        char *before = snapshot(f->root, "etc opt lib");

        QuarantineResult res = {};
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 7, "crash in vendor_av", &res), 0);
        assert_int_equal(res.n_modules, 2);
        assert_int_equal(res.n_units, 3);
        assert_int_equal(res.n_content, 2);
        assert_int_equal(res.n_content_absent, 1);
        assert_int_equal(res.copied, exdev);

        /* modules */
        char *conf = read_file(f->root, LASTGOOD_QUARANTINE_MODPROBE_CONF);
        assert_non_null(conf);
        assert_non_null(strstr(conf, "blacklist vendor_av\ninstall vendor_av /bin/false\n"));
        assert_non_null(strstr(conf, "blacklist vendor-net\ninstall vendor-net /bin/false\n"));
        assert_non_null(strstr(conf, "# lastgood quarantine: vendor (incident 7)"));
        free(conf);
        /* units: all masked, whatever was there before */
        for (const char *const *u = VENDOR_UNITS; *u; u++) {
                char p[256];
                snprintf(p, sizeof p, "/etc/systemd/system/%s", *u);
                assert_string_equal(link_target(f->root, p), "/dev/null");
        }
        /* content: gone from its place, kept in the quarantine directory */
        assert_false(path_exists(f->root, "/opt/vendor/defs"));
        assert_false(path_exists(f->root, "/opt/vendor/rules.bin"));
        assert_true(path_exists(f->root, "/opt/vendor/keep.txt"));
        assert_true(path_exists(f->root,
                                "/var/lib/lastgood/quarantine/vendor/7/content/opt%2Fvendor%2Fdefs/sub/b.sig"));
        assert_true(path_exists(f->root, "/var/lib/lastgood/quarantine/vendor/7/content/opt%2Fvendor%2Frules.bin"));

        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 1);
        QuarantineEntry *l = NULL;
        size_t n = 0;
        assert_int_equal(quarantine_list(f->root_fd, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].component, "vendor");
        assert_int_equal(l[0].incident, 7);
        assert_int_equal(l[0].state, QUARANTINE_STATE_ACTIVE);
        assert_string_equal(l[0].reason, "crash in vendor_av");
        assert_int_equal(strv_length(l[0].content), 2);
        assert_string_equal(l[0].content_stash[0],
                            "/var/lib/lastgood/quarantine/vendor/7/content/opt%2Fvendor%2Fdefs");
        assert_int_equal(strv_length(l[0].units), 3);
        quarantine_list_free(l, n);

        assert_int_equal(quarantine_release(f->root_fd, "vendor"), 0);
        char *after = snapshot(f->root, "etc opt lib");
        assert_string_equal(before, after);
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 0);
        assert_false(path_exists(f->root, LASTGOOD_QUARANTINE_REGISTRY));
        assert_false(path_exists(f->root, "/var/lib/lastgood/quarantine/vendor"));
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), -ENOENT);
        free(before);
        free(after);
}

static void test_roundtrip(void **state) {
        roundtrip(*state, false);
}

static void test_roundtrip_exdev_copy(void **state) {
        roundtrip(*state, true);
}

static void test_prior_modprobe_file_restored(void **state) {
        Fixture *f = *state;
        sh(f->root, "printf 'blacklist old_driver\\n# no newline at end' > etc/modprobe.d/#lastgood-quarantine.conf\n"
                    "chmod 0600 etc/modprobe.d/#lastgood-quarantine.conf\n"
                    "touch -d @1500000000 etc/modprobe.d/#lastgood-quarantine.conf\n");
        char *before = snapshot(f->root, "etc");
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 1, "", NULL), 0);
        char *conf = read_file(f->root, LASTGOOD_QUARANTINE_MODPROBE_CONF);
        /* the admin's lines stay in effect while quarantined */
        assert_non_null(strstr(conf, "blacklist old_driver\n# no newline at end\n"));
        assert_non_null(strstr(conf, "install vendor_av /bin/false"));
        free(conf);
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), 0);
        char *after = snapshot(f->root, "etc");
        assert_string_equal(before, after);
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s%s", f->root, LASTGOOD_QUARANTINE_MODPROBE_CONF);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mtim.tv_sec, 1500000000);
        assert_int_equal(st.st_mode & 07777, 0600);
        free(before);
        free(after);
}

static void test_two_components_release_one(void **state) {
        Fixture *f = *state;
        static const char *const amods[] = { "a_mod", NULL }, *const aunits[] = { "a.service", NULL },
                                 *const bmods[] = { "b_mod", NULL }, *const bcontent[] = { "/opt/other", NULL };
        Component a = make_component("alpha", amods, aunits, NULL, QUARANTINE_ALLOW);
        Component b = make_component("beta", bmods, NULL, bcontent, QUARANTINE_ALLOW);
        char *before = snapshot(f->root, "etc opt");

        assert_int_equal(quarantine_apply(f->root_fd, &a, 3, "a", NULL), 0);
        assert_int_equal(quarantine_apply(f->root_fd, &b, 4, "b", NULL), 0);
        assert_int_equal(n_entries(f->root_fd), 2);

        assert_int_equal(quarantine_release(f->root_fd, "alpha"), 0);
        char *conf = read_file(f->root, LASTGOOD_QUARANTINE_MODPROBE_CONF);
        assert_non_null(conf);
        assert_null(strstr(conf, "a_mod"));
        assert_non_null(strstr(conf, "blacklist b_mod\ninstall b_mod /bin/false\n"));
        free(conf);
        assert_false(path_exists(f->root, "/etc/systemd/system/a.service"));
        assert_false(path_exists(f->root, "/opt/other"));
        assert_int_equal(quarantine_is_active(f->root_fd, "beta"), 1);
        assert_int_equal(quarantine_is_active(f->root_fd, "alpha"), 0);

        assert_int_equal(quarantine_release(f->root_fd, "beta"), 0);
        assert_false(path_exists(f->root, LASTGOOD_QUARANTINE_MODPROBE_CONF));
        char *after = snapshot(f->root, "etc opt");
        assert_string_equal(before, after);
        free(before);
        free(after);
        component_free(&a);
        component_free(&b);
}

/* ---- refusals ---- */

static void test_never_is_refused(void **state) {
        Fixture *f = *state;
        char *before = snapshot(f->root, "etc opt var");
        f->vendor.quarantine = QUARANTINE_NEVER;
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 1, "attacker crashed it", NULL), -EPERM);
        char *after = snapshot(f->root, "etc opt var");
        assert_string_equal(before, after);
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 0);
        assert_true(path_exists(f->root, "/opt/vendor/defs"));
        free(before);
        free(after);
}

static void test_unsafe_names_refused(void **state) {
        Fixture *f = *state;
        static const char *const inject[] = { "ok", "x\ninstall ext4 /bin/sh", NULL };
        static const char *const blank[] = { "", NULL };
        static const char *const traversal[] = { "../../../etc/passwd.service", NULL };
        static const char *const slash[] = { "a/b.service", NULL };
        static const char *const nosuffix[] = { "agent", NULL };
        static const char *const dotdot[] = { "/opt/../etc", NULL };
        static const char *const relative[] = { "opt/vendor", NULL };
        static const char *const rootdir[] = { "/", NULL };
        static const char *const ours[] = { "/var/lib/lastgood/state", NULL };
        static const char *const ancestor[] = { "/var/lib", NULL };
        static const char *const etc[] = { "/etc", NULL };
        static const char *const trailing[] = { "/opt/vendor/", NULL };
        struct {
                const char *name;
                const char *const *mods, *const *units, *const *content;
        } cases[] = {
                { "vendor", inject, NULL, NULL },    { "vendor", blank, NULL, NULL },
                { "vendor", NULL, traversal, NULL }, { "vendor", NULL, slash, NULL },
                { "vendor", NULL, nosuffix, NULL },  { "vendor", NULL, NULL, dotdot },
                { "vendor", NULL, NULL, relative },  { "vendor", NULL, NULL, rootdir },
                { "vendor", NULL, NULL, ours },      { "vendor", NULL, NULL, ancestor },
                { "vendor", NULL, NULL, etc },       { "vendor", NULL, NULL, trailing },
                { "registry", NULL, NULL, NULL },    { "../x", NULL, NULL, NULL },
                { ".hidden", NULL, NULL, NULL },     { "", NULL, NULL, NULL },
        };
        char *before = snapshot(f->root, "etc opt var");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Component c = make_component(cases[i].name, cases[i].mods, cases[i].units, cases[i].content,
                                             QUARANTINE_ALLOW);
                int r = quarantine_apply(f->root_fd, &c, 1, "", NULL);
                if (r != -EINVAL)
                        fail_msg("case %zu: expected -EINVAL, got %d", i, r);
                component_free(&c);
        }
        char *after = snapshot(f->root, "etc opt var");
        assert_string_equal(before, after);
        free(before);
        free(after);

        char longreason[QUARANTINE_MAX_REASON + 2];
        memset(longreason, 'x', sizeof longreason - 1);
        longreason[sizeof longreason - 1] = '\0';
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 1, longreason, NULL), -EINVAL);
        assert_int_equal(quarantine_release(f->root_fd, "../etc"), -EINVAL);
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), -ENOENT);
}

static void test_twice_and_overlap(void **state) {
        Fixture *f = *state;
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 1, "", NULL), 0);
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 2, "", NULL), -EEXIST);

        static const char *const units[] = { "vendor-helper.service", NULL };
        static const char *const content[] = { "/opt/vendor", NULL };
        Component u = make_component("other-unit", NULL, units, NULL, QUARANTINE_ALLOW);
        Component c = make_component("other-content", NULL, NULL, content, QUARANTINE_ALLOW);
        assert_int_equal(quarantine_apply(f->root_fd, &u, 1, "", NULL), -EBUSY);
        assert_int_equal(quarantine_apply(f->root_fd, &c, 1, "", NULL), -EBUSY);
        assert_int_equal(n_entries(f->root_fd), 1);
        component_free(&u);
        component_free(&c);
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), 0);
}

static void test_release_conflicts_change_nothing(void **state) {
        Fixture *f = *state;
        char *before = snapshot(f->root, "etc opt");
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 1, "", NULL), 0);

        /* Something new where the content would come back: not clobbered. */
        sh(f->root, "mkdir opt/vendor/defs && echo new > opt/vendor/defs/new\n");
        char *mid = snapshot(f->root, "etc opt var");
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), -EEXIST);
        char *mid2 = snapshot(f->root, "etc opt var");
        assert_string_equal(mid, mid2);
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 1);
        sh(f->root, "rm -r opt/vendor/defs\n");

        /* A newer unit file where the mask was: not clobbered either. */
        sh(f->root,
           "rm etc/systemd/system/vendor-update.timer && echo '[Timer]' > etc/systemd/system/vendor-update.timer\n");
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), -EEXIST);
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 1);
        /* The admin unmasking by hand (the link removed) is fine. */
        sh(f->root, "rm etc/systemd/system/vendor-update.timer\n");
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), 0);
        char *after = snapshot(f->root, "etc opt");
        assert_string_equal(before, after);
        free(before);
        free(mid);
        free(mid2);
        free(after);
}

static void test_special_file_rolls_back(void **state) {
        Fixture *f = *state;
        setenv("LASTGOOD_TEST_FORCE_EXDEV", "1", 1);
        sh(f->root, "mkfifo opt/vendor/defs/sub/fifo\n");
        char *before = snapshot(f->root, "etc opt");
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 1, "", NULL), -EOPNOTSUPP);
        char *after = snapshot(f->root, "etc opt");
        assert_string_equal(before, after);
        assert_int_equal(n_entries(f->root_fd), 0);
        free(before);
        free(after);
}

static void test_corrupt_registry(void **state) {
        Fixture *f = *state;
        static const char *const bad[] = {
                "garbage\n",
                "lastgood-quarantine-registry 1\nentry ../x active 1 1 -\nend\n",
                "lastgood-quarantine-registry 1\nentry x active 1 1 -\nmodule a%0Ab\nend\n",
                "lastgood-quarantine-registry 1\nentry x active 1 1 -\nunit ../../a.service none\nend\n",
                "lastgood-quarantine-registry 1\nentry x active 1 1 -\ncontent /opt/..%2Fetc\nend\n",
                "lastgood-quarantine-registry 1\nentry x active 1 1 -\n",
                "lastgood-quarantine-registry 1\nentry x bogus 1 1 -\nend\n",
        };
        sh(f->root, "mkdir -p var/lib/lastgood/quarantine\n");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char p[512];
                snprintf(p, sizeof p, "%s%s", f->root, LASTGOOD_QUARANTINE_REGISTRY);
                FILE *fp = fopen(p, "we");
                fputs(bad[i], fp);
                fclose(fp);
                QuarantineEntry *l = NULL;
                size_t n = 0;
                if (quarantine_list(f->root_fd, &l, &n) != -EBADMSG)
                        fail_msg("registry case %zu accepted", i);
                assert_int_equal(quarantine_recover_interrupted(f->root_fd), -EBADMSG);
                /* Quarantined, state unknown, for every component (not only
                 * one the damaged file names): never "not quarantined". */
                assert_int_equal(quarantine_is_active(f->root_fd, "x"), -EBADMSG);
                assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), -EBADMSG);
                assert_int_equal(quarantine_release(f->root_fd, "x"), -EBADMSG);
        }
}

/* A registry that cannot be read is unknown too; a readable one answers. */
static void test_unreadable_registry_is_unknown(void **state) {
        Fixture *f = *state;
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 0); /* no quarantine directory */
        sh(f->root, "mkdir -p var/lib/lastgood/quarantine\n");
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 0); /* no registry */
        assert_int_equal(quarantine_is_active(f->root_fd, NULL), -EINVAL);

        sh(f->root, "printf 'lastgood-quarantine-registry 1\\nentry other active 1 1 -\\nend\\n'"
                    " >var/lib/lastgood/quarantine/registry\n");
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), 0);
        assert_int_equal(quarantine_is_active(f->root_fd, "other"), 1);

        /* A link is not followed (O_NOFOLLOW), even to a valid registry. */
        sh(f->root, "cd var/lib/lastgood/quarantine && mv registry real && ln -s real registry\n");
        assert_true(quarantine_is_active(f->root_fd, "vendor") < 0);
        assert_true(quarantine_is_active(f->root_fd, "other") < 0);
        /* A directory where the file should be. */
        sh(f->root, "cd var/lib/lastgood/quarantine && rm registry && mkdir registry\n");
        assert_true(quarantine_is_active(f->root_fd, "vendor") < 0);
        /* The quarantine directory itself is a file. */
        sh(f->root, "rm -r var/lib/lastgood/quarantine && touch var/lib/lastgood/quarantine\n");
        assert_int_equal(quarantine_is_active(f->root_fd, "vendor"), -ENOTDIR);
}

/* A real registry damaged after an apply (a torn sector, an admin's editor):
 * the component stays quarantined as far as anyone asks, and release refuses
 * to guess what to undo. */
static void test_damaged_registry_after_apply(void **state) {
        Fixture *f = *state;
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 3, "", NULL), 0);
        char p[512];
        snprintf(p, sizeof p, "%s%s", f->root, LASTGOOD_QUARANTINE_REGISTRY);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(truncate(p, st.st_size / 2), 0);
        char *before = snapshot(f->root, "etc opt var");
        assert_true(quarantine_is_active(f->root_fd, "vendor") < 0);
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), -EBADMSG);
        assert_true(quarantine_recover_interrupted(f->root_fd) < 0);
        char *after = snapshot(f->root, "etc opt var");
        assert_string_equal(before, after);
        assert_false(path_exists(f->root, "/opt/vendor/defs"));
        free(before);
        free(after);
}

static void test_recover_cheap_when_nothing(void **state) {
        Fixture *f = *state;
        char *before = snapshot(f->root, "etc opt var");
        assert_int_equal(quarantine_recover_interrupted(f->root_fd), 0);
        char *after = snapshot(f->root, "etc opt var");
        assert_string_equal(before, after); /* created nothing */
        free(before);
        free(after);
}

/* ---- exclude: live state stays in place ---- */

static void exclude_roundtrip(Fixture *f, bool exdev) {
        if (exdev)
                setenv("LASTGOOD_TEST_FORCE_EXDEV", "1", 1);
        char *before = snapshot(f->root, "etc opt lib");
        QuarantineResult res = {};
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 3, "", &res), 0);
        assert_int_equal(res.n_content, 2);
        const char *stash = "/var/lib/lastgood/quarantine/vendor/3/content/opt%2Fvendor%2Fdefs";
        /* The content is aside... */
        assert_false(path_exists(f->root, "/opt/vendor/defs/a.sig"));
        assert_false(path_exists(f->root, "/opt/vendor/defs/current"));
        assert_false(path_exists(f->root, "/opt/vendor/defs/sub/b.sig"));
        assert_true(path_exists(f->root,
                                "/var/lib/lastgood/quarantine/vendor/3/content/opt%2Fvendor%2Fdefs/a.sig"));
        assert_true(path_exists(f->root,
                                "/var/lib/lastgood/quarantine/vendor/3/content/opt%2Fvendor%2Fdefs/sub/b.sig"));
        /* ...the live state is where it was, the directories holding it too... */
        char *db = read_file(f->root, "/opt/vendor/defs/state/db");
        assert_non_null(db);
        assert_string_equal(db, "db");
        free(db);
        assert_true(path_exists(f->root, "/opt/vendor/defs/state/wal/1"));
        assert_true(path_exists(f->root, "/opt/vendor/defs/a.log"));
        assert_true(path_exists(f->root, "/opt/vendor/defs/sub/b.log"));
        /* ...and none of it in the quarantine directory. */
        char p[512];
        snprintf(p, sizeof p, "%s/state", stash);
        assert_false(path_exists(f->root, p));
        snprintf(p, sizeof p, "%s/a.log", stash);
        assert_false(path_exists(f->root, p));
        /* The container for a directory that stayed has its mode and owner. */
        struct stat st;
        snprintf(p, sizeof p, "%s%s", f->root, stash);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0710);
        assert_int_equal(st.st_uid, 1234);

        /* The state lives on while the component is quarantined. */
        sh(f->root, "printf 'db2' > opt/vendor/defs/state/db && touch -d @1600000000 opt/vendor/defs/state/db\n");
        /* New content where content comes back: refused, nothing changed. */
        sh(f->root, "printf new > opt/vendor/defs/a.sig\n");
        char *mid = snapshot(f->root, "etc opt var");
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), -EEXIST);
        char *mid2 = snapshot(f->root, "etc opt var");
        assert_string_equal(mid, mid2);
        sh(f->root, "rm opt/vendor/defs/a.sig\n");

        assert_int_equal(quarantine_release(f->root_fd, "vendor"), 0);
        db = read_file(f->root, "/opt/vendor/defs/state/db");
        assert_string_equal(db, "db2");
        free(db);
        sh(f->root, "printf 'db' > opt/vendor/defs/state/db && touch -d @1600000000 opt/vendor/defs/state/db\n");
        char *after = snapshot(f->root, "etc opt lib");
        assert_string_equal(before, after);
        assert_false(path_exists(f->root, "/var/lib/lastgood/quarantine/vendor"));
        free(before);
        free(mid);
        free(mid2);
        free(after);
}

static void test_exclude_stays_in_place(void **state) {
        exclude_roundtrip(*state, false);
}

static void test_exclude_stays_in_place_exdev(void **state) {
        exclude_roundtrip(*state, true);
}

/* The live directory that held the state was removed meanwhile: the content
 * comes back whole, with the directory's mode and owner. */
static void test_exclude_directory_gone(void **state) {
        Fixture *f = *state;
        assert_int_equal(quarantine_apply(f->root_fd, &f->vendor, 3, "", NULL), 0);
        sh(f->root, "rm -r opt/vendor/defs\n");
        assert_int_equal(quarantine_release(f->root_fd, "vendor"), 0);
        struct stat st;
        char p[512];
        snprintf(p, sizeof p, "%s/opt/vendor/defs", f->root);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0710);
        assert_true(path_exists(f->root, "/opt/vendor/defs/sub/b.sig"));
        assert_false(path_exists(f->root, "/opt/vendor/defs/state"));
        assert_int_equal(n_entries(f->root_fd), 0);
}

/* ---- power cuts ---- */

typedef enum Op { OP_APPLY, OP_RELEASE, OP_RECOVER } Op;

static const char *trace_path; /* LASTGOOD_FAULT_TRACE for the next child */

/* Runs OP in a child with the fault environment given; returns 0/1 for the
 * op's success/failure, or -1 when the child was killed at the fault point. */
/* fault.c counts points per process, and this process (and so each child)
 * has passed points in the earlier tests: pass one more and read its number
 * from a trace. */
static unsigned long fault_counter_now(const char *root) {
        char trace[512];
        snprintf(trace, sizeof trace, "%s.probe", root);
        unlink(trace);
        setenv("LASTGOOD_FAULT_TRACE", trace, 1);
        unsetenv("LASTGOOD_FAULT_AT");
        if (fault_point("probe") < 0)
                _exit(4);
        unsetenv("LASTGOOD_FAULT_TRACE");
        FILE *f = fopen(trace, "re");
        unsigned long n = 0;
        if (!f || fscanf(f, "%lu", &n) != 1)
                _exit(5);
        fclose(f);
        unlink(trace);
        return n;
}

static int child(const char *root, Op op, unsigned fault_at, const char *fault_errno, bool exdev) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char n[32];
                snprintf(n, sizeof n, "%lu", fault_counter_now(root) + fault_at);
                if (fault_at)
                        setenv("LASTGOOD_FAULT_AT", n, 1);
                else
                        unsetenv("LASTGOOD_FAULT_AT");
                if (fault_errno)
                        setenv("LASTGOOD_FAULT_ERRNO", fault_errno, 1);
                else
                        unsetenv("LASTGOOD_FAULT_ERRNO");
                if (trace_path)
                        setenv("LASTGOOD_FAULT_TRACE", trace_path, 1);
                if (exdev)
                        setenv("LASTGOOD_TEST_FORCE_EXDEV", "1", 1);
                else
                        unsetenv("LASTGOOD_TEST_FORCE_EXDEV");
                /* fault.c prints on a kill; keep the test output readable */
                if (!freopen("/dev/null", "w", stderr))
                        _exit(3);
                int fd;
                if (root_open(root, &fd) < 0)
                        _exit(2);
                Component c =
                        make_component("vendor", VENDOR_MODS, VENDOR_UNITS, VENDOR_CONTENT, QUARANTINE_ALLOW);
                int r = op == OP_APPLY     ? quarantine_apply(fd, &c, 5, "test", NULL)
                        : op == OP_RELEASE ? quarantine_release(fd, "vendor")
                                           : quarantine_recover_interrupted(fd);
                _exit(r < 0 ? 1 : 0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status)) {
                assert_int_equal(WTERMSIG(status), SIGKILL);
                return -1;
        }
        assert_true(WIFEXITED(status));
        assert_true(WEXITSTATUS(status) <= 1);
        return WEXITSTATUS(status);
}

static size_t n_entries_at(const char *root) {
        int fd;
        assert_int_equal(root_open(root, &fd), 0);
        size_t n = n_entries(fd);
        close(fd);
        return n;
}

/* A fresh copy of the populated tree (cp -a keeps owners, modes and times). */
static void rebuild(const char *root) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "rm -rf '%s' && if [ -d '%s.tmpl' ]; then cp -a '%s.tmpl' '%s'; else mkdir '%s'; fi", root,
                 root, root, root, root);
        assert_int_equal(system(cmd), 0);
        struct stat st;
        char tmpl[512];
        snprintf(tmpl, sizeof tmpl, "%s.tmpl", root);
        if (stat(tmpl, &st) < 0) {
                populate(root);
                snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", root, tmpl);
                assert_int_equal(system(cmd), 0);
        }
}

static void rebuild_done(char *root) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "rm -rf '%s.tmpl'", root);
        assert_int_equal(system(cmd), 0);
        unit_rmdir(root);
}

/* The reference states: the untouched tree and the fully quarantined one. */
static void reference(const char *root, bool exdev, char **ret_clean, char **ret_applied) {
        rebuild(root);
        *ret_clean = snapshot(root, "etc opt lib");
        assert_int_equal(child(root, OP_APPLY, 0, NULL, exdev), 0);
        *ret_applied = snapshot(root, "etc opt lib var/lib/lastgood/quarantine/vendor");
}

typedef enum Expect { EXPECT_ANY, EXPECT_CLEAN, EXPECT_APPLIED } Expect;

/* What recovery must reach from the state a cut left: an intent that is on
 * disk is carried forward ("applying" -> applied, "releasing" -> clean);
 * a cut before the intent leaves things as they were. */
static Expect expect_after_recovery(const char *root) {
        int fd;
        assert_int_equal(root_open(root, &fd), 0);
        QuarantineEntry *l = NULL;
        size_t n = 0;
        assert_int_equal(quarantine_list(fd, &l, &n), 0);
        close(fd);
        Expect e = n == 0                                     ? EXPECT_CLEAN
                   : l[0].state == QUARANTINE_STATE_RELEASING ? EXPECT_CLEAN
                   : l[0].state == QUARANTINE_STATE_APPLYING  ? EXPECT_APPLIED
                                                              : EXPECT_APPLIED;
        quarantine_list_free(l, n);
        return e;
}

/* The registry agrees with the files: no entry and the clean tree, or one
 * active entry and the fully quarantined tree. */
static void assert_consistent(const char *root, const char *clean, const char *applied, unsigned n, Expect expect) {
        int fd;
        assert_int_equal(root_open(root, &fd), 0);
        QuarantineEntry *l = NULL;
        size_t count = 0;
        assert_int_equal(quarantine_list(fd, &l, &count), 0);
        close(fd);
        size_t want = count;
        if (expect == EXPECT_CLEAN)
                want = 0;
        else if (expect == EXPECT_APPLIED)
                want = 1;
        QuarantineState state = count ? l[0].state : QUARANTINE_STATE_ACTIVE;
        quarantine_list_free(l, count);
        if (count != want)
                fail_msg("fault point %u: %zu registry entries, expected %zu", n, count, want);
        if (count == 0) {
                char *s = snapshot(root, "etc opt lib");
                bool same = streq(s, clean);
                if (!same)
                        fail_msg("fault point %u: no registry entry but the tree differs:\n%s\n---\n%s", n,
                                 clean, s);
                free(s);
        } else {
                assert_int_equal(count, 1);
                assert_int_equal(state, QUARANTINE_STATE_ACTIVE);
                char *s = snapshot(root, "etc opt lib var/lib/lastgood/quarantine/vendor");
                bool same = streq(s, applied);
                if (!same)
                        fail_msg("fault point %u: active entry but the tree differs:\n%s\n---\n%s", n, applied, s);
                free(s);
        }
}

static void kill_loop(Op op, bool exdev) {
        char *root = unit_mkdtemp();
        char *clean, *applied;
        reference(root, exdev, &clean, &applied);
        unsigned n, forward = 0;
        for (n = 1; n < 1000; n++) {
                rebuild(root);
                if (op == OP_RELEASE)
                        assert_int_equal(child(root, OP_APPLY, 0, NULL, exdev), 0);
                int r = child(root, op, n, NULL, exdev);
                if (r >= 0) {
                        /* Fewer than N points: the op ran to completion. */
                        assert_int_equal(r, 0);
                        break;
                }
                /* The next boot: recovery converges, and a second run is a no-op. */
                Expect expect = expect_after_recovery(root);
                if (expect == (op == OP_APPLY ? EXPECT_APPLIED : EXPECT_CLEAN))
                        forward++;
                assert_int_equal(child(root, OP_RECOVER, 0, NULL, exdev), 0);
                assert_consistent(root, clean, applied, n, expect);
                char *s1 = snapshot(root, "etc opt lib var");
                assert_int_equal(child(root, OP_RECOVER, 0, NULL, exdev), 0);
                char *s2 = snapshot(root, "etc opt lib var");
                assert_string_equal(s1, s2);
                free(s1);
                free(s2);
                /* And the component can still be released. */
                if (n_entries_at(root) == 1)
                        assert_int_equal(child(root, OP_RELEASE, 0, NULL, exdev), 0);
                assert_consistent(root, clean, applied, n, EXPECT_CLEAN);
        }
        /* There were durable steps to cut, and most came after the intent. */
        assert_true(n > 8);
        assert_true(forward >= n / 2);
        free(clean);
        free(applied);
        rebuild_done(root);
}

static void test_power_cut_apply(void **state) {
        kill_loop(OP_APPLY, false);
}

static void test_power_cut_apply_exdev(void **state) {
        kill_loop(OP_APPLY, true);
}

static void test_power_cut_release(void **state) {
        kill_loop(OP_RELEASE, false);
}

static void test_power_cut_release_exdev(void **state) {
        kill_loop(OP_RELEASE, true);
}

/* The same with live state to leave in place: directories split, their
 * entries moved one by one, each step resumable. */
static void test_power_cut_exclude(void **state) {
        with_exclude = true;
        kill_loop(OP_APPLY, false);
        kill_loop(OP_RELEASE, false);
        kill_loop(OP_APPLY, true);
        kill_loop(OP_RELEASE, true);
        with_exclude = false;
}

/* Counts the fault points OP passes in a clean run (LASTGOOD_FAULT_TRACE). */
static unsigned count_points(const char *root, Op op, bool exdev) {
        char trace[512];
        snprintf(trace, sizeof trace, "%s.trace", root);
        unlink(trace);
        trace_path = trace;
        assert_int_equal(child(root, op, 0, NULL, exdev), 0);
        trace_path = NULL;
        FILE *f = fopen(trace, "re");
        assert_non_null(f);
        unsigned n = 0;
        char line[256];
        while (fgets(line, sizeof line, f))
                n++;
        fclose(f);
        unlink(trace);
        return n;
}

/* An I/O error (not a power cut) at each point: the apply is rolled back at
 * once, or left for recovery; the release is finished by recovery. */
static void errno_loop(Op op, bool exdev) {
        char *root = unit_mkdtemp();
        char *clean, *applied;
        reference(root, exdev, &clean, &applied);
        unsigned total = count_points(root, OP_RELEASE, exdev);
        rebuild(root);
        unsigned total_apply = count_points(root, OP_APPLY, exdev);
        if (op == OP_APPLY)
                total = total_apply;
        assert_true(total > 4);
        for (unsigned n = 1; n <= total; n++) {
                rebuild(root);
                if (op == OP_RELEASE)
                        assert_int_equal(child(root, OP_APPLY, 0, NULL, exdev), 0);
                int r = child(root, op, n, "EIO", exdev);
                if (r == 1 && op == OP_APPLY && n_entries_at(root) == 0) {
                        /* rolled back on the spot */
                        char *s = snapshot(root, "etc opt lib");
                        if (!streq(s, clean))
                                fail_msg("EIO at %u: apply failed, no entry, tree differs:\n%s", n, s);
                        free(s);
                }
                Expect expect = expect_after_recovery(root);
                assert_int_equal(child(root, OP_RECOVER, 0, NULL, exdev), 0);
                assert_consistent(root, clean, applied, n, expect);
        }
        free(clean);
        free(applied);
        rebuild_done(root);
}

static void test_io_error_apply(void **state) {
        errno_loop(OP_APPLY, false);
        errno_loop(OP_APPLY, true);
}

static void test_io_error_release(void **state) {
        errno_loop(OP_RELEASE, false);
        errno_loop(OP_RELEASE, true);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_roundtrip_exdev_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prior_modprobe_file_restored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_components_release_one, setup, teardown),
                cmocka_unit_test_setup_teardown(test_never_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unsafe_names_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_twice_and_overlap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_conflicts_change_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_special_file_rolls_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_registry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_registry_is_unknown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_registry_after_apply, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recover_cheap_when_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exclude_stays_in_place, setup_exclude, teardown),
                cmocka_unit_test_setup_teardown(test_exclude_stays_in_place_exdev, setup_exclude, teardown),
                cmocka_unit_test_setup_teardown(test_exclude_directory_gone, setup_exclude, teardown),
                cmocka_unit_test(test_power_cut_apply),
                cmocka_unit_test(test_power_cut_apply_exdev),
                cmocka_unit_test(test_power_cut_release),
                cmocka_unit_test(test_power_cut_release_exdev),
                cmocka_unit_test(test_power_cut_exclude),
                cmocka_unit_test(test_io_error_apply),
                cmocka_unit_test(test_io_error_release),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
