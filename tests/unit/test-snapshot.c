/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <dlfcn.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "recovery/archive.h"
#include "lib/rootfs.h"
#include "recovery/snapshot.h"

typedef struct Env {
        char *dir; /* the temporary root */
        int root_fd;
        Policy p;
        Component c;
        char *content[3];
} Env;

/* The temporary root in DIR (malloc()ed, removed by env_free()). */
static Env *env_new_in(char *dir) {
        Env *e = calloc(1, sizeof(Env));
        assert_non_null(e);
        e->dir = dir;
        assert_int_equal(policy_init_defaults(&e->p), 0);
        e->content[0] = "/etc/sensor";
        e->content[1] = "/usr/lib/sensor/engine.so";
        e->c = (Component) { .name = "sensor", .content = e->content };
        e->p.components = &e->c;
        e->p.n_components = 1;
        unit_sh("cd %s && mkdir -p etc/sensor/sub etc/sensor/empty usr/lib/sensor var/lib"
                " && echo hello > etc/sensor/a.conf && chmod 640 etc/sensor/a.conf"
                " && printf bin > etc/sensor/bin && chmod 4755 etc/sensor/bin"
                " && ln -s a.conf etc/sensor/link && ln -s ../a.conf etc/sensor/sub/up && chmod 700 etc/sensor/sub"
                " && echo engine > usr/lib/sensor/engine.so",
                e->dir);
        assert_int_equal(root_open(e->dir, &e->root_fd), 0);
        return e;
}

static Env *env_new(void) {
        return env_new_in(unit_mkdtemp());
}

static void env_free(Env *e) {
        e->p.components = NULL;
        e->p.n_components = 0;
        policy_done(&e->p);
        close(e->root_fd);
        unit_rmdir(e->dir);
        free(e);
}

/* A signature of the content: types, modes, owners, targets, sizes, hashes. */
static char *tree_sig(const char *dir, const char *sub) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "cd %s/%s && { find . -printf '%%p %%y %%m %%U %%l %%s\\n' | sort; "
                 "find . -type f -print0 | sort -z | xargs -0 -r sha256sum; }",
                 dir, sub);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char *buf = calloc(1, 65536);
        assert_non_null(buf);
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        assert_int_equal(pclose(f), 0);
        return buf;
}

static size_t count_snapshots(Env *e) {
        SnapshotInfo *l;
        size_t n;
        assert_int_equal(snapshot_list(e->root_fd, &e->p, "sensor", &l, &n), 0);
        snapshot_info_free(l, n);
        return n;
}

/* First: the boot path (change check, recovery) must not load libarchive.
 * The snapshot is made in a child so that this process stays clean. */
static void test_healthy_path_does_not_load_libarchive(void **state) {
        Env *e = env_new();
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *id = NULL;
                _exit(snapshot_create(e->root_fd, &e->p, &e->c, &id) < 0 ? 1 : 0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        bool changed;
        uint64_t newest;
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, true, &changed, &newest), 0);
        assert_false(changed);
        assert_int_equal(newest, 0);
        assert_int_equal(snapshot_recover_interrupted(e->root_fd, &e->p), 0);
        assert_null(dlopen(ARCHIVE_LIB_SONAME, RTLD_NOW | RTLD_NOLOAD));
        env_free(e);
}

/* Inode and times of every stored manifest: a rewrite changes them. */
static char *manifest_sig(Env *e) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "cd %s && find var/lib/lastgood/snapshots -name manifest -exec stat -c '%%i %%y' {} +", e->dir);
        return unit_command_output(cmd);
}

/* A read-only query (status) must not write: only a caller that asks for it
 * refreshes the stat cache of a manifest whose files were merely touched. */
static void test_change_check_writes_only_when_asked(void **state) {
        Env *e = env_new();
        char *id = NULL;
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &id), 0);
        char *sig0 = manifest_sig(e);
        /* Same bytes, new stat data: the check must hash and may refresh. */
        unit_sh("sleep 0.06; cd %s && cp -p etc/sensor/a.conf etc/sensor/a.tmp && mv etc/sensor/a.tmp etc/sensor/a.conf",
                e->dir);
        bool changed;
        uint64_t newest;
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, false, &changed, &newest), 0);
        assert_false(changed);
        char *sig1 = manifest_sig(e);
        assert_string_equal(sig0, sig1);
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, true, &changed, &newest), 0);
        assert_false(changed);
        char *sig2 = manifest_sig(e);
        assert_string_not_equal(sig1, sig2);
        free(sig0);
        free(sig1);
        free(sig2);
        free(id);
        env_free(e);
}

static void test_roundtrip(void **state) {
        Env *e = env_new();
        char *before = tree_sig(e->dir, "etc/sensor");
        char *id = NULL;
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &id), 0);
        assert_int_equal(snapshot_verify(e->root_fd, &e->p, &e->c, NULL), 0);

        unit_sh("cd %s && echo broken > etc/sensor/a.conf && chmod 755 etc/sensor/bin && rm -r etc/sensor/empty"
                " && echo new > etc/sensor/new && rm usr/lib/sensor/engine.so",
                e->dir);
        bool changed;
        uint64_t newest;
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, true, &changed, &newest), 0);
        assert_true(changed);
        assert_true(newest > 0);

        char *used = NULL;
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, NULL, 0, "/var/lib/keep", &used), 0);
        assert_string_equal(used, id);
        char *after = tree_sig(e->dir, "etc/sensor");
        assert_string_equal(before, after);
        unit_sh("grep -qx engine %s/usr/lib/sensor/engine.so && grep -qx broken %s/var/lib/keep/etc/sensor/a.conf"
                " && test -f %s/var/lib/keep/etc/sensor/new && test ! -e %s/var/lib/lastgood/snapshots/.work",
                e->dir);

        /* restored content has new inodes: the first check hashes and
         * refreshes the cache, and reports no change */
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, true, &changed, &newest), 0);
        assert_false(changed);

        /* the keep dir must not be inside the content */
        char *x = NULL;
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, NULL, 0, "/etc/sensor/old", &x), -EINVAL);
        free(before);
        free(after);
        free(id);
        free(used);
        env_free(e);
}

/* user.* and security.capability survive snapshot -> strip -> restore, on
 * a file owned by another user (a chown after the capability clears it);
 * a changed capability is a change. */
static void test_xattrs_roundtrip(void **state) {
        Env *e = env_new();
        char path[512];
        snprintf(path, sizeof path, "%s/etc/sensor/a.conf", e->dir);
        static const char cap[] = { 1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        if (chown(path, 1234, 1234) < 0 || setxattr(path, "user.vendor", "v1", 2, 0) < 0 ||
            setxattr(path, "security.capability", cap, sizeof cap, 0) < 0) {
                env_free(e);
                skip(); /* this file system cannot hold them (tmpfs before 6.6, not root) */
        }
        char *id = NULL;
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &id), 0);
        assert_int_equal(snapshot_verify(e->root_fd, &e->p, &e->c, NULL), 0);

        /* only the capability goes: a change, although the bytes are the same */
        assert_int_equal(removexattr(path, "security.capability"), 0);
        bool changed;
        uint64_t newest;
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, false, &changed, &newest), 0);
        assert_true(changed);
        assert_int_equal(removexattr(path, "user.vendor"), 0);

        char *used = NULL;
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, id, 0, "/var/lib/keep", &used), 0);
        char buf[64];
        assert_int_equal(getxattr(path, "user.vendor", buf, sizeof buf), 2);
        assert_memory_equal(buf, "v1", 2);
        assert_int_equal(getxattr(path, "security.capability", buf, sizeof buf), (ssize_t) sizeof cap);
        assert_memory_equal(buf, cap, sizeof cap);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, true, &changed, &newest), 0);
        assert_false(changed);
        free(id);
        free(used);
        env_free(e);
}

static void test_create_if_changed(void **state) {
        Env *e = env_new();
        bool created;
        char *id1 = NULL, *id2 = NULL, *id3 = NULL;
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, &created, &id1), 0);
        assert_true(created);
        usleep(100 * 1000);
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, &created, &id2), 0);
        assert_false(created);
        assert_string_equal(id1, id2);
        assert_int_equal(count_snapshots(e), 1);
        unit_sh("echo more >> %s/etc/sensor/a.conf", e->dir);
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, &created, &id3), 0);
        assert_true(created);
        assert_true(strcmp(id3, id1) > 0); /* ids sort by creation */
        assert_int_equal(count_snapshots(e), 2);
        free(id1);
        free(id2);
        free(id3);
        env_free(e);
}

static void test_prune_keeps_newest(void **state) {
        Env *e = env_new();
        e->p.snapshots.keep = 2;
        char *ids[4] = {};
        for (int i = 0; i < 4; i++)
                assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &ids[i]), 0);
        SnapshotInfo *l;
        size_t n;
        assert_int_equal(snapshot_list(e->root_fd, &e->p, NULL, &l, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(l[0].id, ids[2]);
        assert_string_equal(l[1].id, ids[3]);
        snapshot_info_free(l, n);

        /* max_bytes below the size of one: still the newest stays */
        e->p.snapshots.max_bytes = 1;
        char *last = NULL;
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &last), 0);
        assert_int_equal(snapshot_list(e->root_fd, &e->p, NULL, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].id, last);
        snapshot_info_free(l, n);
        for (int i = 0; i < 4; i++)
                free(ids[i]);
        free(last);
        env_free(e);
}

static void test_restore_change_right_after_snapshot(void **state) {
        Env *e = env_new();
        usleep(50 * 1000); /* the content predates the snapshot by more than a tick */
        char *id = NULL, *used = NULL;
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &id), 0);
        char *good = tree_sig(e->dir, "etc/sensor");
        /* A bad change at once: its ctime (a coarse clock) may be earlier
         * than the snapshot's creation time, yet the snapshot predates it. */
        char path[600];
        snprintf(path, sizeof path, "%s/etc/sensor/a.conf", e->dir);
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "bad\n", 4), 4);
        close(fd);
        bool changed;
        uint64_t when;
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, true, &changed, &when), 0);
        assert_true(changed);
        assert_true(when > 0);
        /* What a coarse ctime looks like when the change follows the
         * snapshot within a tick: the snapshot's creation time is later
         * than the change's ctime. */
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "sed -i 's/^created_usec .*/created_usec %llu/' %s/var/lib/lastgood/snapshots/sensor/%s/meta",
                 (unsigned long long) when + 1000, e->dir, id);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, NULL, when, "/var/lib/keep", &used), 0);
        assert_string_equal(used, id);
        char *now = tree_sig(e->dir, "etc/sensor");
        assert_string_equal(now, good);
        free(now);
        free(good);
        free(used);
        free(id);
        env_free(e);
}

static void test_bad_snapshot_is_skipped(void **state) {
        Env *e = env_new();
        char *old = NULL, *new = NULL, *used = NULL;
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &old), 0);
        char *v1 = tree_sig(e->dir, "etc/sensor");
        sleep(1);
        uint64_t between = now_realtime_usec();
        /* ctimes come from a coarse clock: keep the change well after BETWEEN. */
        usleep(50 * 1000);
        unit_sh("echo v2 > %s/etc/sensor/a.conf", e->dir);
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &new), 0);

        /* before_usec: only snapshots taken before that time */
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, NULL, between, "/var/lib/keep1", &used), 0);
        assert_string_equal(used, old);
        free(used);

        /* a corrupt manifest (hash of one file) on the newest: never restored */
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "sed -i -E '/ etc\\/sensor\\/a.conf /s/ [0-9a-f]{64} / %064d /' %s/var/lib/lastgood/snapshots/sensor/%s/manifest",
                 0, e->dir, new);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(snapshot_verify(e->root_fd, &e->p, &e->c, new), -EBADMSG);
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, new, 0, "/var/lib/keep2", &used), -EBADMSG);
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, NULL, 0, "/var/lib/keep3", &used), 0);
        assert_string_equal(used, old);
        char *now = tree_sig(e->dir, "etc/sensor");
        assert_string_equal(now, v1);

        SnapshotInfo *l;
        size_t n;
        assert_int_equal(snapshot_list(e->root_fd, &e->p, "sensor", &l, &n), 0);
        assert_int_equal(n, 2);
        assert_false(l[0].bad);
        assert_true(l[1].bad);
        assert_non_null(strstr(l[1].bad_reason, "etc/sensor/a.conf"));
        snapshot_info_free(l, n);

        /* the change check compares with the newest good one */
        bool changed;
        uint64_t t;
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, true, &changed, &t), 0);
        assert_false(changed);
        free(old);
        free(new);
        free(used);
        free(v1);
        free(now);
        env_free(e);
}

/* The extraction layer on its own (libarchive's secure flags), below our
 * own checks: a manifest that was not checked against the roots lets a
 * write through a symlink reach archive_write_disk, which must refuse it. */
static void test_extraction_refuses_write_through_symlink(void **state) {
        char *d = unit_mkdtemp();
        unit_sh("cd %s && mkdir stage outside && /usr/bin/python3 -c '"
                "import tarfile, io\n"
                "t = tarfile.open(\"a.tar\", \"w\")\n"
                "i = tarfile.TarInfo(\"etc/sensor\"); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)\n"
                "i = tarfile.TarInfo(\"etc/sensor/l\"); i.type = tarfile.SYMTYPE; i.linkname = \".\"; t.addfile(i)\n"
                "i = tarfile.TarInfo(\"etc/sensor/l/x\"); i.size = 1; t.addfile(i, io.BytesIO(b\"x\"))\n"
                "t.close()'",
                d);
        char path[512];
        snprintf(path, sizeof path, "%s/a.tar", d);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char *buf = NULL;
        size_t len = 0;
        {
                struct stat st;
                assert_int_equal(fstat(fd, &st), 0);
                len = (size_t) st.st_size;
                buf = malloc(len);
                assert_int_equal(read(fd, buf, len), (ssize_t) len);
                close(fd);
        }

        /* what an unchecked manifest would say */
        Manifest *m = manifest_new();
        ManifestEntry en = { .path = "etc/sensor", .type = 'd', .mode = 0755 };
        assert_int_equal(manifest_add(m, &en), 0);
        en = (ManifestEntry) { .path = "etc/sensor/l", .type = 'l', .mode = 0777, .size = 1, .target = "." };
        assert_int_equal(manifest_add(m, &en), 0);
        en = (ManifestEntry) { .path = "etc/sensor/l/x", .type = 'f', .mode = 0644, .size = 1 };
        assert_int_equal(manifest_add(m, &en), 0);

        char *content[] = { "/etc/sensor", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);
        snprintf(path, sizeof path, "%s/stage", d);
        int stage = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(stage >= 0);
        const ArchiveLib *al;
        assert_int_equal(archive_lib_load(&al), 0);
        ArchiveScan s = {
                .roots = roots, .expect = m, .max_entries = 100, .max_expanded_bytes = 1000, .stage_fds = &stage
        };
        assert_int_equal(archive_scan_memory(al, buf, len, &s), -EBADMSG);
        assert_non_null(s.reason);
        if (!strstr(s.reason, "entry 'etc/sensor/l/x': refused by extraction"))
                fail_msg("reason: %s", s.reason);
        archive_scan_done(&s);
        /* nothing landed where the link points (the stage itself) */
        unit_sh("test ! -e %s/stage/sensor/x && test -z \"$(ls -A %s/outside)\"", d);
        /* and the working directory was restored */
        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof cwd));
        assert_null(strstr(cwd, "stage"));

        close(stage);
        strv_free(roots);
        manifest_free(m);
        free(buf);
        unit_rmdir(d);
}

static void test_invalid_arguments(void **state) {
        Env *e = env_new();
        char *id = NULL;
        Component bad = { .name = "../x", .content = e->content };
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &bad, &id), -EINVAL);
        char *rel[] = { "etc/sensor", NULL };
        Component relc = { .name = "ok", .content = rel };
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &relc, &id), -EINVAL);
        assert_int_equal(snapshot_verify(e->root_fd, &e->p, &e->c, "../../etc"), -EINVAL);
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, NULL, 0, NULL, &id), -ENOENT);
        Component hidden = { .name = ".hidden", .content = e->content };
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &hidden, &id), -EINVAL);
        assert_int_equal(snapshot_list(e->root_fd, &e->p, "a/b", NULL, NULL), -EINVAL);
        /* Content paths are checked as the policy checks them: a restore of
         * lastgood's own state, or of what holds a directory it writes into,
         * would undo recoveries. */
        static const char *const refused[] = { "/var/lib/lastgood/state", "/etc", "/proc/sys", "/" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                char *own[] = { (char *) refused[i], NULL };
                Component ownc = { .name = "ok", .content = own };
                assert_int_equal(snapshot_create(e->root_fd, &e->p, &ownc, &id), -EINVAL);
        }
        assert_null(id);
        env_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_healthy_path_does_not_load_libarchive),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_xattrs_roundtrip),
                cmocka_unit_test(test_change_check_writes_only_when_asked),
                cmocka_unit_test(test_create_if_changed),
                cmocka_unit_test(test_prune_keeps_newest),
                cmocka_unit_test(test_restore_change_right_after_snapshot),
                cmocka_unit_test(test_bad_snapshot_is_skipped),
                cmocka_unit_test(test_extraction_refuses_write_through_symlink),
                cmocka_unit_test(test_invalid_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
