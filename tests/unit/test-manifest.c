/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"
#include "unit-manifest.h"

#include <ctype.h>
#include <sys/xattr.h>

#include "recovery/manifest.h"
#include "lib/rootfs.h"

static const char *const SHA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

static char *mf(const char *body) {
        char *s = NULL;
        assert_true(asprintf(&s, "lastgood-manifest 1 1000\n%s", body) > 0);
        return s;
}

static int parse(const char *body, Manifest **ret, char **reason) {
        char *s = mf(body);
        int r = manifest_parse(s, strlen(s), 1000, ret, reason);
        free(s);
        return r;
}

static void test_parse_format_roundtrip(void **state) {
        char body[2048];
        snprintf(body, sizeof body,
                 "d 0755 0 0 0 - 1 2 3 4 etc/sensor -\n"
                 "f 4755 10 20 6 %s -5 6 7 8 etc/sensor/a%%20b -\n"
                 "l 0777 0 0 3 - 1 2 3 4 etc/sensor/link a%%20b\n",
                 SHA);
        Manifest *m = NULL;
        char *reason = NULL;
        assert_int_equal(parse(body, &m, &reason), 0);
        assert_int_equal(m->n, 3);
        assert_int_equal(m->created_ns, 1000);
        assert_string_equal(m->entries[1].path, "etc/sensor/a b");
        assert_int_equal(m->entries[1].mode, 04755);
        assert_int_equal(m->entries[1].mtime_ns, -5);
        assert_string_equal(m->entries[2].target, "a b");
        assert_int_equal(manifest_find(m, "etc/sensor/link"), 2);
        assert_int_equal(manifest_find(m, "etc/sensor/nope"), -1);

        char *text = NULL;
        size_t len;
        assert_int_equal(manifest_format(m, &text, &len), 0);
        char *expect = mf(body);
        assert_string_equal(text, expect);
        free(expect);
        free(text);
        manifest_free(m);
}

static void expect_bad(const char *body, const char *what) {
        Manifest *m = NULL;
        char *reason = NULL;
        int r = parse(body, &m, &reason);
        if (r != -EBADMSG || !reason || !strstr(reason, what))
                fail_msg("expected refusal '%s' for [%s], got %d '%s'", what, body, r, reason ?: "");
        assert_null(m);
        free(reason);
}

static void test_parse_refuses(void **state) {
        char line[512];
        expect_bad("d 0755 0 0 0 - 1 2 3 4 etc/../x -\n", "unsafe path");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 /etc/x -\n", "unsafe path");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 %2Fetc -\n", "badly escaped path");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 etc//x -\n", "unsafe path");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 ./etc -\n", "unsafe path");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 b -\nd 0755 0 0 0 - 1 2 3 4 a -\n", "not sorted");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 a -\nd 0755 0 0 0 - 1 2 3 4 a -\n", "not sorted or not unique");
        expect_bad("d 755 0 0 0 - 1 2 3 4 a -\n", "bad mode");
        expect_bad("d 0855 0 0 0 - 1 2 3 4 a -\n", "bad mode");
        expect_bad("x 0755 0 0 0 - 1 2 3 4 a -\n", "bad type");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 a\n", "wrong number of fields");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 a - x\n", "too many fields");
        expect_bad("d 0755 0  0 - 1 2 3 4 a -\n", "empty field");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 a -", "not terminated");
        expect_bad("d 0755 0 0 5 - 1 2 3 4 a -\n", "directory with a size");
        expect_bad("d 0755 -1 0 0 - 1 2 3 4 a -\n", "bad uid");
        expect_bad("d 0755 4294967296 0 0 - 1 2 3 4 a -\n", "bad uid");
        expect_bad("d 0755 0 0 0 - 01 2 3 4 a -\n", "bad mtime");
        expect_bad("d 0755 0 0 0 - -0 2 3 4 a -\n", "bad mtime");
        expect_bad("f 0644 0 0 1 - 1 2 3 4 a -\n", "bad sha256");
        expect_bad("f 0644 0 0 1 5891B5 1 2 3 4 a -\n", "bad sha256");
        snprintf(line, sizeof line, "d 0755 0 0 0 %s 1 2 3 4 a -\n", SHA);
        expect_bad(line, "sha256 on a non-file");
        expect_bad("l 0777 0 0 3 - 1 2 3 4 a -\n", "symlink without a target");
        expect_bad("l 0777 0 0 2 - 1 2 3 4 a abc\n", "size differs");
        expect_bad("l 0755 0 0 3 - 1 2 3 4 a abc\n", "symlink mode");
        expect_bad("d 0755 0 0 0 - 1 2 3 4 a b\n", "target on a non-symlink");

        /* header */
        Manifest *m = NULL;
        char *reason = NULL;
        assert_int_equal(manifest_parse("lastgood-manifest 3 1\n", 22, 10, &m, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "bad header"));
        free(reason);
        reason = NULL;
        assert_int_equal(manifest_parse("lastgood-manifest 1 1\nd 0755 0 0 0 - 1 2 3 4 a\0 -\n", 49, 10, &m, &reason),
                         -EBADMSG);
        free(reason);
        reason = NULL;

        assert_int_equal(manifest_parse("", 0, 10, &m, &reason), -EBADMSG);
        free(reason);
        reason = NULL;

        /* the entry cap */
        char *s = mf("d 0755 0 0 0 - 1 2 3 4 a -\nd 0755 0 0 0 - 1 2 3 4 b -\nd 0755 0 0 0 - 1 2 3 4 c -\n");
        assert_int_equal(manifest_parse(s, strlen(s), 2, &m, &reason), -E2BIG);
        free(reason);
        reason = NULL;
        assert_int_equal(manifest_parse(s, strlen(s), 3, &m, &reason), 0);
        manifest_free(m);
        free(s);
}

static void test_symlink_containment(void **state) {
        const char *root = "etc/sensor";
        assert_null(manifest_check_symlink(root, "etc/sensor/link", "a.conf"));
        assert_null(manifest_check_symlink(root, "etc/sensor/sub/up", "../a.conf"));
        assert_null(manifest_check_symlink(root, "etc/sensor/sub/up", ".."));
        assert_null(manifest_check_symlink(root, "etc/sensor/a/b/c", "../../x/./y"));
        assert_null(manifest_check_symlink(root, "etc/sensor/l", "."));
        assert_string_equal(manifest_check_symlink(root, "etc/sensor/l", "/etc/passwd"), "absolute symlink target");
        assert_string_equal(manifest_check_symlink(root, "etc/sensor/l", "../x"),
                            "symlink target escapes the content path");
        assert_string_equal(manifest_check_symlink(root, "etc/sensor/sub/l", "../../x"),
                            "symlink target escapes the content path");
        /* ".." after a component would be resolved through whatever that
         * component is (maybe a symlink to "."): refused */
        assert_string_equal(manifest_check_symlink(root, "etc/sensor/sub/l", "x/../.."),
                            "symlink target with '..' after a path component");
        assert_string_equal(manifest_check_symlink(root, "etc/sensor", "x"),
                            "a content path itself must not be a symlink");
        assert_string_equal(manifest_check_symlink(root, "etc/sensor/l", ""), "symlink with an empty target");
}

static void test_roots(void **state) {
        char *content[] = { "/usr/lib/x/y", "/etc/sensor/sub", "/etc/sensor",
                            "/usr/lib/x",   "/etc/sensor-b",   NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);
        assert_int_equal(strv_length(roots), 3);
        assert_string_equal(roots[0], "etc/sensor");
        assert_string_equal(roots[1], "etc/sensor-b");
        assert_string_equal(roots[2], "usr/lib/x");
        assert_int_equal(manifest_roots_find(roots, "etc/sensor/a"), 0);
        assert_int_equal(manifest_roots_find(roots, "etc/sensor-b"), 1);
        assert_int_equal(manifest_roots_find(roots, "etc/sensorx"), -1);
        assert_int_equal(manifest_roots_find(roots, "etc"), -1);
        strv_free(roots);

        char *rel[] = { "etc/sensor", NULL };
        assert_int_equal(manifest_roots(rel, &roots), -EINVAL);
        char *dots[] = { "/etc/../x", NULL };
        assert_int_equal(manifest_roots(dots, &roots), -EINVAL);
        char *slash[] = { "/", NULL };
        assert_int_equal(manifest_roots(slash, &roots), -EINVAL);
}

static void test_check_roots(void **state) {
        char *content[] = { "/etc/sensor", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);
        struct {
                const char *body, *why;
        } cases[] = {
                { "d 0755 0 0 0 - 1 2 3 4 etc/sensor -\nd 0755 0 0 0 - 1 2 3 4 etc/sensor/a -\n", NULL },
                { "d 0755 0 0 0 - 1 2 3 4 etc/other -\n", "outside the component's content paths" },
                { "d 0755 0 0 0 - 1 2 3 4 etc/sensor -\nd 0755 0 0 0 - 1 2 3 4 etc/sensor/a/b -\n",
                  "its parent directory is not in the snapshot" },
                { "d 0755 0 0 0 - 1 2 3 4 etc/sensor -\nl 0777 0 0 1 - 1 2 3 4 etc/sensor/l .\n"
                  "d 0755 0 0 0 - 1 2 3 4 etc/sensor/l/x -\n",
                  "its parent is not a directory" },
                { "d 0755 0 0 0 - 1 2 3 4 etc/sensor -\nl 0777 0 0 5 - 1 2 3 4 etc/sensor/l ../..\n",
                  "escapes the content path" },
                { "l 0777 0 0 1 - 1 2 3 4 etc/sensor x\n", "must not be a symlink" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                Manifest *m = NULL;
                char *reason = NULL;
                assert_int_equal(parse(cases[i].body, &m, &reason), 0);
                int r = manifest_check_roots(m, roots, &reason);
                if (!cases[i].why)
                        assert_int_equal(r, 0);
                else {
                        assert_int_equal(r, -EBADMSG);
                        if (!strstr(reason, cases[i].why))
                                fail_msg("case %zu: '%s' lacks '%s'", i, reason, cases[i].why);
                }
                free(reason);
                manifest_free(m);
        }
        strv_free(roots);
}

static void compare(int root_fd, char **roots, Manifest *m, bool *changed, int64_t *newest, bool *updated) {
        ManifestDiff d;
        assert_int_equal(manifest_compare_live(root_fd, roots, NULL, m, &d), 0);
        *changed = d.changed;
        *newest = d.newest_change_ns;
        *updated = d.cache_updated;
        assert_true(d.changed == (d.n_changed + d.n_removed > 0));
}


/* exclude: never walked, never a change (added, changed or removed), and
 * the excluded entries of an older manifest are not missed. */
static void test_exclude(void **state) {
        char *d = unit_mkdtemp();
        unit_sh("cd %s && mkdir -p var/osquery/osquery.db var/osquery/sub && echo 1 > var/osquery/osquery.db/000001.sst"
                " && echo conf > var/osquery/osquery.conf && echo l > var/osquery/a.log && echo l > var/osquery/sub/b.log"
                " && touch -d 2001-01-01 var/osquery/osquery.conf",
                d);
        int root_fd;
        assert_int_equal(root_open(d, &root_fd), 0);
        char *content[] = { "/var/osquery", NULL };
        char *exclude[] = { "/var/osquery/osquery.db", "/var/osquery/*.log", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);

        assert_true(manifest_path_excluded(exclude, "var/osquery/osquery.db"));
        assert_true(manifest_path_excluded(exclude, "var/osquery/osquery.db/000001.sst"));
        assert_true(manifest_path_excluded(exclude, "var/osquery/a.log"));
        assert_false(manifest_path_excluded(exclude, "var/osquery/sub/b.log")); /* '*' stays in its component */
        assert_false(manifest_path_excluded(exclude, "var/osquery/osquery.dbx"));
        assert_false(manifest_path_excluded(exclude, "var/osquery"));
        assert_false(manifest_path_excluded(NULL, "var/osquery/a.log"));
        assert_true(manifest_path_holds_excluded(exclude, "var/osquery"));
        assert_true(manifest_path_holds_excluded(exclude, "var"));
        assert_false(manifest_path_holds_excluded(exclude, "var/osquery/sub"));

        Manifest *m = manifest_new();
        m->created_ns = manifest_now_ns() + 1000000000LL;
        assert_int_equal(manifest_walk(root_fd, roots, exclude, unit_manifest_collect, m), 0);
        manifest_sort(m);
        assert_int_equal(m->n, 4); /* var/osquery, osquery.conf, sub, sub/b.log */
        assert_int_equal(manifest_find(m, "var/osquery/osquery.db"), -1);
        assert_int_equal(manifest_find(m, "var/osquery/a.log"), -1);
        assert_true(manifest_find(m, "var/osquery/sub/b.log") >= 0);

        /* The database churns, a log comes and another goes: no change. */
        unit_sh("cd %s && echo 2 > var/osquery/osquery.db/000002.sst && rm var/osquery/osquery.db/000001.sst"
                " && echo more >> var/osquery/a.log && echo new > var/osquery/c.log",
                d);
        ManifestDiff diff;
        assert_int_equal(manifest_compare_live(root_fd, roots, exclude, m, &diff), 0);
        assert_false(diff.changed);
        assert_int_equal(diff.n_changed + diff.n_removed, 0);
        /* Negative control: the same churn without the exclude is a change. */
        assert_int_equal(manifest_compare_live(root_fd, roots, NULL, m, &diff), 0);
        assert_true(diff.changed);
        assert_int_equal(diff.n_changed, 4); /* osquery.db, its 000002.sst, a.log, c.log: added */
        /* ...and the content proper is still watched. */
        unit_sh("cd %s && echo other > var/osquery/osquery.conf", d);
        assert_int_equal(manifest_compare_live(root_fd, roots, exclude, m, &diff), 0);
        assert_true(diff.changed);
        assert_int_equal(diff.n_changed, 1);

        /* A manifest taken before the exclude was set holds the excluded
         * entries: gone or changed, they are not missed. */
        Manifest *old = manifest_new();
        old->created_ns = manifest_now_ns() + 1000000000LL;
        assert_int_equal(manifest_walk(root_fd, roots, NULL, unit_manifest_collect, old), 0);
        manifest_sort(old);
        unit_sh("cd %s && rm -r var/osquery/osquery.db var/osquery/c.log", d);
        assert_int_equal(manifest_compare_live(root_fd, roots, exclude, old, &diff), 0);
        assert_false(diff.changed);
        assert_int_equal(diff.n_removed, 0);
        assert_int_equal(diff.n_excluded, 4); /* osquery.db, 000002.sst, a.log, c.log */
        assert_int_equal(manifest_compare_live(root_fd, roots, NULL, old, &diff), 0);
        assert_true(diff.changed);
        assert_int_equal(diff.n_removed, 3);
        /* Removing an entry that is not excluded is still a removal. */
        unit_sh("cd %s && rm var/osquery/sub/b.log", d);
        assert_int_equal(manifest_compare_live(root_fd, roots, exclude, old, &diff), 0);
        assert_true(diff.changed);
        assert_int_equal(diff.n_removed, 1);

        manifest_free(old);
        manifest_free(m);
        strv_free(roots);
        close(root_fd);
        unit_rmdir(d);
}

static void test_walk_and_compare_live(void **state) {
        char *d = unit_mkdtemp();
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "cd %s && mkdir -p etc/sensor/sub etc/sensor/empty && echo hi > etc/sensor/a && ln -s a etc/sensor/l"
                 " && mkfifo etc/sensor/fifo && echo x > etc/sensor/sub/b",
                 d);
        assert_int_equal(system(cmd), 0);
        int root_fd;
        assert_int_equal(root_open(d, &root_fd), 0);
        char *content[] = { "/etc/sensor", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);

        Manifest *m = manifest_new();
        m->created_ns = manifest_now_ns() + 1000000000LL; /* as if the scan began later: nothing racy */
        assert_int_equal(manifest_walk(root_fd, roots, NULL, unit_manifest_collect, m), 0);
        /* parents first, siblings sorted, the FIFO skipped */
        assert_int_equal(m->n, 6);
        assert_string_equal(m->entries[0].path, "etc/sensor");
        assert_string_equal(m->entries[1].path, "etc/sensor/a");
        assert_string_equal(m->entries[2].path, "etc/sensor/empty");
        manifest_sort(m);

        bool changed, updated;
        int64_t newest;
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_false(changed);
        assert_false(updated);
        assert_int_equal(newest, 0);

        /* touched: stat moved, content did not -> unchanged, cache refreshed */
        snprintf(cmd, sizeof cmd, "touch -d '2001-01-01' %s/etc/sensor/a", d);
        assert_int_equal(system(cmd), 0);
        usleep(100 * 1000); /* else the refreshed cache is "racy" and checked again */
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_false(changed);
        assert_true(updated);
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_false(changed);
        assert_false(updated);

        /* same size, other bytes, old mtime: only the hash can tell */
        snprintf(cmd, sizeof cmd, "echo ho > %s/etc/sensor/a && touch -d '2001-01-01' %s/etc/sensor/a", d, d);
        assert_int_equal(system(cmd), 0);
        struct stat st;
        snprintf(cmd, sizeof cmd, "%s/etc/sensor/a", d);
        assert_int_equal(lstat(cmd, &st), 0);
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_true(changed);
        assert_int_equal(newest, (int64_t) st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);

        /* removed and added entries count as changes too */
        Manifest *m2 = manifest_new();
        m2->created_ns = manifest_now_ns() + 1000000000LL;
        assert_int_equal(manifest_walk(root_fd, roots, NULL, unit_manifest_collect, m2), 0);
        manifest_sort(m2);
        snprintf(cmd, sizeof cmd, "rm %s/etc/sensor/sub/b", d);
        assert_int_equal(system(cmd), 0);
        compare(root_fd, roots, m2, &changed, &newest, &updated);
        assert_true(changed);
        assert_true(newest > 0);
        snprintf(cmd, sizeof cmd, "echo x > %s/etc/sensor/sub/b && chmod 600 %s/etc/sensor/sub/b", d, d);
        assert_int_equal(system(cmd), 0);
        compare(root_fd, roots, m2, &changed, &newest, &updated);
        assert_true(changed); /* mode differs */

        manifest_free(m);
        manifest_free(m2);
        strv_free(roots);
        close(root_fd);
        unit_rmdir(d);
}

static void digest_of(const char *d, char *const *exclude, char out[static MANIFEST_DIGEST_HEX + 1]) {
        int root_fd;
        assert_int_equal(root_open(d, &root_fd), 0);
        char *content[] = { "/etc/sensor", "/opt/sensor", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);
        assert_int_equal(manifest_content_digest(root_fd, roots, exclude, out), 0);
        assert_int_equal(strlen(out), MANIFEST_DIGEST_HEX);
        strv_free(roots);
        close(root_fd);
}

static void sh_in(const char *d, const char *script) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "cd '%s' && { %s; }", d, script);
        assert_int_equal(system(cmd), 0);
}

/* The content digest names the content, not the machine: two trees with the
 * same files, modes and links (other owners, times, excluded state) have
 * the same digest; a byte, a mode, a name or a link target changes it. */
static void test_content_digest(void **state) {
        char *a = unit_mkdtemp(), *b = unit_mkdtemp();
        const char *tree = "mkdir -p etc/sensor/sub etc/sensor/state && echo rules >etc/sensor/a"
                           " && echo x >etc/sensor/sub/b && ln -s a etc/sensor/l && chmod 0640 etc/sensor/a";
        sh_in(a, tree);
        sh_in(b, tree);
        sh_in(b, "touch -d 2001-01-01 etc/sensor/a && chown 1234:1234 etc/sensor/sub/b && echo live >etc/sensor/state/db");
        char *exclude[] = { "/etc/sensor/state", NULL };
        char da[MANIFEST_DIGEST_HEX + 1], db[MANIFEST_DIGEST_HEX + 1];
        digest_of(a, exclude, da);
        digest_of(b, exclude, db);
        assert_string_equal(da, db);
        /* The excluded state does count when it is not excluded. */
        digest_of(b, NULL, db);
        assert_string_not_equal(da, db);

        static const char *const changes[] = {
                "echo rulez >etc/sensor/a",             /* a byte */
                "chmod 0644 etc/sensor/a",              /* a mode */
                "mv etc/sensor/sub/b etc/sensor/sub/c", /* a name */
                "ln -sfn sub etc/sensor/l",             /* a link target */
                "mkdir -p opt/sensor",                  /* another content path appears */
        };
        for (size_t i = 0; i < ELEMENTSOF(changes); i++) {
                char *c = unit_mkdtemp();
                sh_in(c, tree);
                sh_in(c, changes[i]);
                char dc[MANIFEST_DIGEST_HEX + 1];
                digest_of(c, exclude, dc);
                if (streq(dc, da))
                        fail_msg("digest unchanged after: %s", changes[i]);
                unit_rmdir(c);
        }

        /* Nothing there at all: no digest. */
        char *e = unit_mkdtemp();
        int root_fd;
        assert_int_equal(root_open(e, &root_fd), 0);
        char **roots = NULL;
        assert_int_equal(manifest_roots((char *[]) { "/etc/sensor", NULL }, &roots), 0);
        char dx[MANIFEST_DIGEST_HEX + 1];
        assert_int_equal(manifest_content_digest(root_fd, roots, NULL, dx), -ENOENT);
        strv_free(roots);
        close(root_fd);
        unit_rmdir(e);
        unit_rmdir(a);
        unit_rmdir(b);
}

/* Version 2: the xattrs field, read from the right, canonical; version 1
 * stays version 1 when written back. */
static void test_xattrs_field(void **state) {
        char body[2048], *text = NULL, *reason = NULL;
        size_t len;
        Manifest *m = NULL;
        snprintf(body, sizeof body,
                 "lastgood-manifest 2 1000\n"
                 "d 0755 0 0 0 - 1 2 3 4 etc/sensor - -\n"
                 "f 0755 0 0 6 %s 1 2 3 4 etc/sensor/bin - security.capability=%s user.a%%20=b=%s\n",
                 SHA, SHA, SHA);
        assert_int_equal(manifest_parse(body, strlen(body), 100, &m, &reason), 0);
        assert_true(m->xattrs_known);
        assert_null(m->entries[0].xattrs);
        assert_non_null(m->entries[1].xattrs);
        assert_true(manifest_xattrs_has(m->entries[1].xattrs, "security.capability"));
        assert_true(manifest_xattrs_has(m->entries[1].xattrs, "user.a =b"));
        assert_false(manifest_xattrs_has(m->entries[1].xattrs, "user.a"));
        char *names = manifest_xattrs_names(m->entries[1].xattrs);
        assert_string_equal(names, "security.capability,user.a%20=b");
        free(names);
        assert_int_equal(manifest_format(m, &text, &len), 0);
        assert_string_equal(text, body);
        free(text);
        manifest_free(m);

        /* version 1 (no xattrs field): unknown, and written as version 1 */
        const char *v1 = "lastgood-manifest 1 1000\nd 0755 0 0 0 - 1 2 3 4 etc/sensor -\n";
        assert_int_equal(manifest_parse(v1, strlen(v1), 100, &m, &reason), 0);
        assert_false(m->xattrs_known);
        assert_int_equal(manifest_format(m, &text, &len), 0);
        assert_string_equal(text, v1);
        free(text);
        manifest_free(m);

        static const char *const bad[][2] = {
                { "d 0755 0 0 0 - 1 2 3 4 a -\n", "wrong number of fields" },
                { "d 0755 0 0 0 - 1 2 3 4 a - user.a\n", "not name=sha256" },
                { "d 0755 0 0 0 - 1 2 3 4 a - user.a=%.63s\n", "not name=sha256" },
                { "d 0755 0 0 0 - 1 2 3 4 a - trusted.overlay.opaque=%s\n", "namespace lastgood does not keep" },
                { "d 0755 0 0 0 - 1 2 3 4 a - system.posix_acl_access=%s\n", "namespace lastgood does not keep" },
                { "d 0755 0 0 0 - 1 2 3 4 a - user.=%s\n", "namespace lastgood does not keep" },
                { "d 0755 0 0 0 - 1 2 3 4 a - user.b=%s user.a=%s\n", "not sorted or not unique" },
                { "d 0755 0 0 0 - 1 2 3 4 a - user.a=%s user.a=%s\n", "not sorted or not unique" },
                { "d 0755 0 0 0 - 1 2 3 4 a - user.%%61=%s\n", "badly escaped" },
                { "d 0755 0 0 0 - 1 2 3 4 a - - -\n", "not name=sha256" },
        };
        char upper[65];
        for (size_t i = 0; i < 64; i++)
                upper[i] = (char) toupper(SHA[i]);
        upper[64] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char line[1024];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                snprintf(line, sizeof line, bad[i][0], SHA, SHA); /* the table's own formats */
#pragma GCC diagnostic pop
                snprintf(body, sizeof body, "lastgood-manifest 2 1000\n%s", line);
                m = NULL;
                reason = NULL;
                int r = manifest_parse(body, strlen(body), 100, &m, &reason);
                if (r != -EBADMSG || !reason || !strstr(reason, bad[i][1]))
                        fail_msg("case %zu: expected '%s', got %d '%s'", i, bad[i][1], r, reason ?: "");
                free(reason);
        }
        snprintf(body, sizeof body, "lastgood-manifest 2 1000\nd 0755 0 0 0 - 1 2 3 4 a - user.a=%s\n", upper);
        reason = NULL;
        assert_int_equal(manifest_parse(body, strlen(body), 100, &m, &reason), -EBADMSG); /* one spelling */
        free(reason);
        const char *v3 = "lastgood-manifest 3 1000\n";
        reason = NULL;
        assert_int_equal(manifest_parse(v3, strlen(v3), 100, &m, &reason), -EBADMSG);
        free(reason);
}

static void test_xattrs_add(void **state) {
        ManifestXattrs x = {};
        assert_int_equal(manifest_xattrs_add(&x, "user.b", "2", 1), 0);
        assert_int_equal(manifest_xattrs_add(&x, "security.capability", "c", 1), 0);
        assert_int_equal(manifest_xattrs_add(&x, "user.b", "2", 1), 0); /* pax carries each twice */
        assert_int_equal(manifest_xattrs_add(&x, "user.b", "3", 1), -EEXIST);
        assert_int_equal(manifest_xattrs_add(&x, "trusted.overlay.redirect", "/x", 2), -EINVAL);
        assert_int_equal(manifest_xattrs_add(&x, "system.posix_acl_access", "", 0), -EINVAL);
        assert_int_equal(x.n, 2);
        assert_string_equal(x.items[0].name, "security.capability");
        char *t = NULL;
        assert_int_equal(manifest_xattrs_format(&x, &t), 0);
        assert_non_null(strstr(t, " user.b="));
        free(t);
        for (int i = 0; x.n < MANIFEST_XATTRS_MAX; i++) {
                char n[32];
                snprintf(n, sizeof n, "user.n%03d", i);
                assert_int_equal(manifest_xattrs_add(&x, n, "", 0), 0);
        }
        assert_int_equal(manifest_xattrs_add(&x, "user.one-more", "", 0), -E2BIG);
        manifest_xattrs_done(&x);
        assert_int_equal(manifest_xattrs_format(&x, &t), 0);
        assert_null(t);
}

/* The change check reads xattrs only where the stat data moved, and then a
 * changed capability is a change; a version 1 manifest cannot tell. */
static void test_compare_live_xattrs(void **state) {
        char *d = unit_mkdtemp();
        unit_sh("mkdir -p %s/etc/sensor && printf x > %s/etc/sensor/bin", d);
        char path[512];
        snprintf(path, sizeof path, "%s/etc/sensor/bin", d);
        static const char cap1[] = { 1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        static const char cap2[] = { 1, 0, 0, 2, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        if (setxattr(path, "user.vendor", "1", 1, 0) < 0 ||
            setxattr(path, "security.capability", cap1, sizeof cap1, 0) < 0) {
                unit_rmdir(d);
                skip(); /* this file system cannot hold them (tmpfs before 6.6, not root) */
        }
        int root_fd;
        assert_int_equal(root_open(d, &root_fd), 0);
        char *content[] = { "/etc/sensor", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);

        Manifest *m = manifest_new();
        assert_int_equal(manifest_walk(root_fd, roots, NULL, unit_manifest_collect, m), 0);
        manifest_sort(m);
        m->created_ns = manifest_now_ns() + 1000000000LL;
        ManifestEntry *e = &m->entries[manifest_find(m, "etc/sensor/bin")];
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        int dfd = openat(root_fd, "etc/sensor", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(manifest_xattrs_text_at(dfd, "bin", -1, &st, &e->xattrs), 0);
        assert_true(manifest_xattrs_has(e->xattrs, "security.capability"));
        assert_true(manifest_xattrs_has(e->xattrs, "user.vendor"));
        char *recorded = strdup(e->xattrs);

        bool changed, updated;
        int64_t newest;
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_false(changed);

        /* The fast path: stat data unmoved, so the (here deliberately wrong)
         * record is not even read against the file. */
        free(e->xattrs);
        e->xattrs = NULL;
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_false(changed);
        e->xattrs = strdup(recorded);

        /* another capability, same bytes: a change */
        usleep(60 * 1000);
        assert_int_equal(setxattr(path, "security.capability", cap2, sizeof cap2, 0), 0);
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_true(changed);
        /* capability dropped: a change */
        assert_int_equal(removexattr(path, "security.capability"), 0);
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_true(changed);
        /* back as recorded: only touched */
        assert_int_equal(setxattr(path, "security.capability", cap1, sizeof cap1, 0), 0);
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_false(changed);
        assert_true(updated);

        /* version 1: xattrs unknown, a changed one is not a change */
        m->xattrs_known = false;
        usleep(60 * 1000);
        assert_int_equal(setxattr(path, "security.capability", cap2, sizeof cap2, 0), 0);
        compare(root_fd, roots, m, &changed, &newest, &updated);
        assert_false(changed);

        free(recorded);
        close(dfd);
        manifest_free(m);
        strv_free(roots);
        close(root_fd);
        unit_rmdir(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_format_roundtrip),
                cmocka_unit_test(test_parse_refuses),
                cmocka_unit_test(test_symlink_containment),
                cmocka_unit_test(test_roots),
                cmocka_unit_test(test_check_roots),
                cmocka_unit_test(test_walk_and_compare_live),
                cmocka_unit_test(test_content_digest),
                cmocka_unit_test(test_exclude),
                cmocka_unit_test(test_xattrs_field),
                cmocka_unit_test(test_xattrs_add),
                cmocka_unit_test(test_compare_live_xattrs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
