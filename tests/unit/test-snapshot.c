/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <dlfcn.h>
#include <signal.h>
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

/* Whether E's content changed since its newest snapshot; *newest: the
 * newest ctime among the changes. */
static bool content_changed(Env *e, bool refresh, uint64_t *newest) {
        ContentChange ch;
        assert_int_equal(snapshot_content_changed(e->root_fd, &e->p, &e->c, refresh, &ch), 0);
        *newest = ch.newest_ctime_usec;
        return ch.changed;
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
        changed = content_changed(e, true, &newest);
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
        changed = content_changed(e, false, &newest);
        assert_false(changed);
        char *sig1 = manifest_sig(e);
        assert_string_equal(sig0, sig1);
        changed = content_changed(e, true, &newest);
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
        changed = content_changed(e, true, &newest);
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
        changed = content_changed(e, true, &newest);
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
        changed = content_changed(e, false, &newest);
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
        changed = content_changed(e, true, &newest);
        assert_false(changed);
        free(id);
        free(used);
        env_free(e);
}

static void test_create_if_changed(void **state) {
        Env *e = env_new();
        bool created;
        char *id1 = NULL, *id2 = NULL, *id3 = NULL;
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, 0, &created, &id1, NULL), 0);
        assert_true(created);
        usleep(100 * 1000);
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, 0, &created, &id2, NULL), 0);
        assert_false(created);
        assert_string_equal(id1, id2);
        assert_int_equal(count_snapshots(e), 1);
        unit_sh("echo more >> %s/etc/sensor/a.conf", e->dir);
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, 0, &created, &id3, NULL), 0);
        assert_true(created);
        assert_true(strcmp(id3, id1) > 0); /* ids sort by creation */
        assert_int_equal(count_snapshots(e), 2);
        free(id1);
        free(id2);
        free(id3);
        env_free(e);
}

/* Known-good means it booted: with a bound (the start of the boot confirm
 * confirms) a file changed at or after it is not snapshotted; the previous
 * snapshot stays the newest, and the change becomes known-good at the next
 * boot. */
static void test_create_holds_back_content_changed_after_bound(void **state) {
        Env *e = env_new();
        usleep(120 * 1000); /* the content predates the boot by more than a tick */
        uint64_t boot1 = now_realtime_usec();
        bool created;
        char *id1 = NULL, *id2 = NULL, *id3 = NULL, *id4 = NULL, *newer = NULL;
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, boot1, &created, &id1, &newer), 0);
        assert_true(created);
        assert_null(newer);

        /* The updater rewrites a file during the boot (more than a tick
         * after it began: ctimes come from the kernel's coarse clock). */
        usleep(20 * 1000);
        unit_sh("echo updated >> %s/etc/sensor/a.conf", e->dir);
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, boot1, &created, &id2, &newer), 0);
        assert_false(created);
        assert_string_equal(newer, "etc/sensor/a.conf");
        assert_string_equal(id2, id1); /* the previous one stays known-good */
        assert_int_equal(count_snapshots(e), 1);
        free(newer);
        newer = NULL;

        /* The next boot: all of it was in place when it began. */
        usleep(120 * 1000);
        uint64_t boot2 = now_realtime_usec();
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, boot2, &created, &id3, &newer), 0);
        assert_true(created);
        assert_null(newer);
        assert_true(strcmp(id3, id1) > 0);
        assert_int_equal(count_snapshots(e), 2);

        /* A file added during that boot (a new channel file) waits too. */
        usleep(20 * 1000);
        unit_sh("echo new > %s/etc/sensor/sub/channel-291", e->dir);
        free(id2);
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, boot2, &created, &id2, &newer), 0);
        assert_false(created);
        assert_string_equal(newer, "etc/sensor/sub/channel-291");
        assert_string_equal(id2, id3);
        free(newer);
        newer = NULL;

        /* A directory's ctime is no bar: it moves with whatever is made in
         * it (here a FIFO, which is not content; excluded state alike). */
        unit_sh("echo again >> %s/etc/sensor/a.conf", e->dir);
        usleep(120 * 1000);
        uint64_t boot3 = now_realtime_usec();
        unit_sh("mkfifo %s/etc/sensor/fifo", e->dir);
        assert_int_equal(snapshot_create_if_changed(e->root_fd, &e->p, &e->c, boot3, &created, &id4, &newer), 0);
        assert_true(created);
        assert_null(newer);
        assert_int_equal(count_snapshots(e), 3);
        free(id1);
        free(id2);
        free(id3);
        free(id4);
        env_free(e);
}

/* The updater of test_create_racing_updater: rewrites PATH in place, again
 * and again, alternating version A (SIZE bytes of 'A') and version B (of
 * 'B'), in chunks with pauses so that a reader overlapping a rewrite would
 * see both; the quiet spells between rewrites (some long) let snapshots
 * through. Runs until killed. */
static _Noreturn void updater(const char *path, size_t size) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                _exit(1);
        char chunk[16384];
        for (unsigned n = 1;; n++) {
                memset(chunk, n % 2 ? 'B' : 'A', sizeof chunk);
                for (size_t o = 0; o < size; o += sizeof chunk) {
                        if (pwrite(fd, chunk, sizeof chunk, (off_t) o) != (ssize_t) sizeof chunk)
                                _exit(1);
                        usleep(200);
                }
                usleep(n % 5 == 0 ? 400 * 1000 : (n % 3) * 20 * 1000);
        }
}

/* 'A' or 'B' when the file holds one version throughout, else 0. */
static char file_version(const char *path, size_t size) {
        _cleanup_free_ char *buf = malloc(size + 1);
        assert_non_null(buf);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = loop_read(fd, buf, size + 1);
        close(fd);
        if (n != (ssize_t) size || (buf[0] != 'A' && buf[0] != 'B'))
                return 0;
        for (size_t i = 1; i < size; i++)
                if (buf[i] != buf[0])
                        return 0;
        return buf[0];
}

/* A snapshot taken while the vendor's updater rewrites a file is never
 * stored torn: every snapshot that was stored, restored, holds exactly one
 * version, or create said -EBUSY. */
static void test_create_racing_updater(void **state) {
        Env *e = env_new();
        e->p.snapshots.keep = 100;
        const size_t size = 1024 * 1024;
        char path[600];
        snprintf(path, sizeof path, "%s/etc/sensor/big.bin", e->dir);
        unit_sh("head -c 1048576 /dev/zero | tr '\\0' A > %s/etc/sensor/big.bin", e->dir);
        assert_int_equal(file_version(path, size), 'A');

        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                updater(path, size);
        char *ids[64] = {};
        size_t n_ok = 0, n_busy = 0;
        uint64_t end = now_monotonic_usec() + 5 * USEC_PER_SEC;
        while (now_monotonic_usec() < end && n_ok < ELEMENTSOF(ids)) {
                char *id = NULL;
                int r = snapshot_create(e->root_fd, &e->p, &e->c, &id);
                if (r == -EBUSY) {
                        n_busy++;
                        continue;
                }
                assert_int_equal(r, 0);
                ids[n_ok++] = id;
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status)); /* the updater ran the whole time */
        print_message("racing updater: %zu snapshots stored, %zu refused as busy\n", n_ok, n_busy);
        assert_true(n_ok > 0);

        for (size_t i = 0; i < n_ok; i++) {
                char keep[64], *used = NULL;
                snprintf(keep, sizeof keep, "/var/lib/keep/%zu", i);
                assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, ids[i], 0, keep, &used), 0);
                char v = file_version(path, size);
                if (v == 0)
                        fail_msg("snapshot %s holds a torn big.bin", ids[i]);
                unit_sh("grep -qx hello %s/etc/sensor/a.conf", e->dir);
                free(used);
                free(ids[i]);
        }
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
        changed = content_changed(e, true, &when);
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
        changed = content_changed(e, true, &t);
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

/* exclude: live state (a database, logs) is never snapshotted, never a
 * change, never restored, and never moved to the keep dir: a restore puts
 * the content back around it. */
static void test_exclude(void **state) {
        Env *e = env_new();
        char *exclude[] = { "/etc/sensor/db", "/etc/sensor/*.log", NULL };
        e->c.exclude = exclude;
        unit_sh("cd %s && mkdir etc/sensor/db && echo 1 > etc/sensor/db/000001.sst && echo l1 > etc/sensor/x.log"
                " && echo s > etc/sensor/sub/s.log",
                e->dir);
        usleep(60 * 1000); /* older than a tick: nothing racy */
        char *id = NULL;
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &id), 0);
        char mpath[600];
        snprintf(mpath, sizeof mpath, "%s/var/lib/lastgood/snapshots/sensor/%s/manifest", e->dir, id);
        unit_sh("! grep -q 'etc/sensor/db\\|x.log' %s && grep -q etc/sensor/sub/s.log %s", mpath);
        assert_int_equal(snapshot_verify(e->root_fd, &e->p, &e->c, NULL), 0);

        /* The live state churns: no change. */
        unit_sh("cd %s && echo 2 > etc/sensor/db/000002.sst && rm etc/sensor/db/000001.sst && echo l2 >> etc/sensor/x.log"
                " && echo y > etc/sensor/y.log",
                e->dir);
        uint64_t newest;
        assert_false(content_changed(e, false, &newest));
        e->c.exclude = NULL; /* negative control */
        assert_true(content_changed(e, false, &newest));
        e->c.exclude = exclude;

        /* A bad update of the content proper, then a restore. */
        unit_sh("cd %s && echo broken > etc/sensor/a.conf && echo new > etc/sensor/new", e->dir);
        assert_true(content_changed(e, false, &newest));
        char *db_before = tree_sig(e->dir, "etc/sensor/db");
        char *used = NULL;
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, id, 0, "/var/lib/keep", &used), 0);
        /* The content is the snapshot's, the live state what it was, in place. */
        unit_sh("cd %s && grep -qx hello etc/sensor/a.conf && test ! -e etc/sensor/new"
                " && test \"$(cat etc/sensor/x.log)\" = \"$(printf 'l1\\nl2')\" && grep -qx y etc/sensor/y.log"
                " && test ! -e etc/sensor/db/000001.sst",
                e->dir);
        char *db_after = tree_sig(e->dir, "etc/sensor/db");
        assert_string_equal(db_before, db_after);
        /* The keep dir has the replaced content, not the live state. */
        unit_sh("cd %s/var/lib/keep/etc/sensor && grep -qx broken a.conf && test -f new && test ! -e db"
                " && test ! -e x.log && test ! -e y.log && test -f sub/s.log",
                e->dir);
        assert_false(content_changed(e, true, &newest));

        /* A snapshot taken before the exclude was set holds the state: a
         * restore from it leaves the live state alone all the same. */
        e->c.exclude = NULL;
        char *all = NULL;
        sleep(1); /* a new id */
        assert_int_equal(snapshot_create(e->root_fd, &e->p, &e->c, &all), 0);
        snprintf(mpath, sizeof mpath, "%s/var/lib/lastgood/snapshots/sensor/%s/manifest", e->dir, all);
        unit_sh("grep -q etc/sensor/db/000002.sst %s", mpath);
        e->c.exclude = exclude;
        unit_sh("cd %s && echo 3 > etc/sensor/db/000003.sst && rm etc/sensor/y.log && echo broken > etc/sensor/a.conf",
                e->dir);
        free(db_before);
        db_before = tree_sig(e->dir, "etc/sensor/db");
        free(used);
        assert_int_equal(snapshot_restore(e->root_fd, &e->p, &e->c, all, 0, "/var/lib/keep2", &used), 0);
        free(db_after);
        db_after = tree_sig(e->dir, "etc/sensor/db");
        assert_string_equal(db_before, db_after);
        unit_sh("cd %s && grep -qx hello etc/sensor/a.conf && test ! -e etc/sensor/y.log"
                " && test ! -e var/lib/keep2/etc/sensor/db",
                e->dir);
        assert_int_equal(snapshot_verify(e->root_fd, &e->p, &e->c, NULL), 0);

        /* An import drops excluded entries (checked like the others). */
        char tarball[600];
        snprintf(tarball, sizeof tarball, "%s/import.tar", e->dir);
        unit_sh("cd %s && tar --numeric-owner --exclude etc/sensor/bin -cf import.tar etc/sensor", e->dir);
        char *imported = NULL;
        assert_int_equal(snapshot_import(e->root_fd, &e->p, &e->c, tarball, &imported), 0);
        snprintf(mpath, sizeof mpath, "%s/var/lib/lastgood/snapshots/sensor/%s/manifest", e->dir, imported);
        unit_sh("! grep -q 'etc/sensor/db\\|x.log' %s && grep -q etc/sensor/a.conf %s", mpath);
        assert_int_equal(snapshot_verify(e->root_fd, &e->p, &e->c, imported), 0);

        e->c.exclude = NULL;
        free(imported);
        free(all);
        free(db_before);
        free(db_after);
        free(used);
        free(id);
        env_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_healthy_path_does_not_load_libarchive),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_xattrs_roundtrip),
                cmocka_unit_test(test_change_check_writes_only_when_asked),
                cmocka_unit_test(test_create_if_changed),
                cmocka_unit_test(test_create_holds_back_content_changed_after_bound),
                cmocka_unit_test(test_create_racing_updater),
                cmocka_unit_test(test_prune_keeps_newest),
                cmocka_unit_test(test_restore_change_right_after_snapshot),
                cmocka_unit_test(test_bad_snapshot_is_skipped),
                cmocka_unit_test(test_extraction_refuses_write_through_symlink),
                cmocka_unit_test(test_invalid_arguments),
                cmocka_unit_test(test_exclude),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
