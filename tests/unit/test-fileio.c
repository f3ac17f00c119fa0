/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/fileio: the durable file and tree steps. Atomic replace (owner, mode,
 * mtime; fixed and random temps; an injected error leaves the old bytes and
 * no temp), atomic symlink replace, durable unlink and mkdir (never outside
 * the root), tree copy (metadata kept, special files refused), and the
 * idempotent tree move in each state a power cut can leave. Each step's
 * fault point is checked by name: an error injected there changes nothing.
 */
#include "unit.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/rootfs.h"

typedef struct Fixture {
        char *dir;
        int fd;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        f->dir = unit_mkdtemp();
        f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->fd >= 0);
        unsetenv("LASTGOOD_TEST_FORCE_EXDEV");
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        close(f->fd);
        unit_rmdir(f->dir);
        free(f);
        unsetenv("LASTGOOD_TEST_FORCE_EXDEV");
        return 0;
}

static void sh(const char *dir, const char *script) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "cd '%s' && { %s; }", dir, script);
        assert_int_equal(system(cmd), 0);
}

static char *slurp(int dir_fd, const char *name) {
        char *buf = NULL;
        size_t len;
        if (read_full_at(dir_fd, name, 1 << 20, &buf, &len) < 0)
                return NULL;
        return buf;
}

/* The names in DIR/SUB, sorted, space-separated (where a leftover shows). */
static const char *listing(const char *dir, const char *sub) {
        static char *last;
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cd '%s/%s' && ls -A | LC_ALL=C sort | tr '\\n' ' '", dir, sub);
        free(last);
        last = unit_command_output(cmd);
        return last;
}

/* ---- fault points: make the K-th point from now fail with EIO ---- */

static char trace_path[64];
static unsigned long point_base;

static unsigned long fault_counter_now(void) {
        snprintf(trace_path, sizeof trace_path, "/tmp/lastgood-unit-trace.%d", (int) getpid());
        unlink(trace_path);
        setenv("LASTGOOD_FAULT_TRACE", trace_path, 1);
        unsetenv("LASTGOOD_FAULT_AT");
        unsetenv("LASTGOOD_FAULT_ERRNO");
        assert_int_equal(fault_point("probe"), 0);
        FILE *t = fopen(trace_path, "re");
        assert_non_null(t);
        unsigned long n = 0;
        assert_int_equal(fscanf(t, "%lu", &n), 1);
        fclose(t);
        unlink(trace_path);
        return n;
}

static void fail_point(unsigned k) {
        point_base = fault_counter_now();
        char n[32];
        snprintf(n, sizeof n, "%lu", point_base + k);
        setenv("LASTGOOD_FAULT_AT", n, 1);
        setenv("LASTGOOD_FAULT_ERRNO", "EIO", 1);
}

/* The point that failed was NAME; injection off again. */
static void failed_at(const char *name) {
        unsetenv("LASTGOOD_FAULT_AT");
        unsetenv("LASTGOOD_FAULT_ERRNO");
        unsetenv("LASTGOOD_FAULT_TRACE");
        FILE *t = fopen(trace_path, "re");
        assert_non_null(t);
        char line[256], last[256] = "";
        while (fgets(line, sizeof line, t))
                strcpy(last, line);
        fclose(t);
        unlink(trace_path);
        last[strcspn(last, "\n")] = '\0';
        const char *sp = strchr(last, ' ');
        assert_non_null(sp);
        assert_string_equal(sp + 1, name);
}

/* ---- atomic replace ---- */

static void test_write_atomic_full_sets_owner_mode_mtime(void **state) {
        Fixture *f = *state;
        unit_write(f->dir, "conf", "old\n");
        const WriteAtomicOptions o = {
                .flags = WRITE_ATOMIC_OWNER | WRITE_ATOMIC_MTIME,
                .mode = 04750,
                .uid = 1234,
                .gid = 4321,
                .mtime = { .tv_sec = 1500000000, .tv_nsec = 123456789 },
        };
        assert_int_equal(write_atomic_at_full(f->fd, "conf", "new\n", 4, &o), 0);
        char *s = slurp(f->fd, "conf");
        assert_string_equal(s, "new\n");
        free(s);
        struct stat st;
        assert_int_equal(fstatat(f->fd, "conf", &st, 0), 0);
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(st.st_gid, 4321);
        /* chown before chmod: the setuid bit survives */
        assert_int_equal(st.st_mode & 07777, 04750);
        assert_int_equal(st.st_mtim.tv_sec, 1500000000);
        assert_int_equal(st.st_mtim.tv_nsec, 123456789);
        assert_string_equal(listing(f->dir, "."), "conf ");

        /* The plain call: mode only, the creator's owner, mtime now. */
        assert_int_equal(write_atomic_at(f->fd, "conf", "x", 1, 0600), 0);
        assert_int_equal(fstatat(f->fd, "conf", &st, 0), 0);
        assert_int_equal(st.st_uid, getuid());
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_true(st.st_mtim.tv_sec > 1500000000);
}

static void test_write_atomic_fixed_temp_replaces_leftover(void **state) {
        Fixture *f = *state;
        /* A power cut left a half-written temp behind. */
        unit_write(f->dir, FILEIO_TMP_PREFIX "conf", "half");
        const WriteAtomicOptions o = { .flags = WRITE_ATOMIC_FIXED_TEMP, .mode = 0644 };
        assert_int_equal(write_atomic_at_full(f->fd, "conf", "whole", 5, &o), 0);
        char *s = slurp(f->fd, "conf");
        assert_string_equal(s, "whole");
        free(s);
        assert_string_equal(listing(f->dir, "."), "conf ");
}

static void test_write_atomic_does_not_follow_a_link(void **state) {
        Fixture *f = *state;
        sh(f->dir, "echo target >target && ln -s target conf");
        assert_int_equal(write_atomic_at(f->fd, "conf", "new", 3, 0644), 0);
        /* The link was replaced, its target untouched. */
        struct stat st;
        assert_int_equal(fstatat(f->fd, "conf", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        char *s = slurp(f->fd, "target");
        assert_string_equal(s, "target\n");
        free(s);
}

static void test_write_atomic_error_keeps_old_bytes(void **state) {
        Fixture *f = *state;
        const WriteAtomicOptions fixed = { .flags = WRITE_ATOMIC_FIXED_TEMP, .mode = 0644 };
        const WriteAtomicOptions random = { .mode = 0644 };
        const WriteAtomicOptions *opts[] = { &fixed, &random };
        for (size_t i = 0; i < ELEMENTSOF(opts); i++) {
                unit_write(f->dir, "conf", "old");
                fail_point(1);
                assert_int_equal(write_atomic_at_full(f->fd, "conf", "new", 3, opts[i]), -EIO);
                failed_at("write-temp");
                fail_point(2);
                assert_int_equal(write_atomic_at_full(f->fd, "conf", "new", 3, opts[i]), -EIO);
                failed_at("rename");
                char *s = slurp(f->fd, "conf");
                assert_string_equal(s, "old");
                free(s);
                /* No temp stays behind on an error. */
                assert_string_equal(listing(f->dir, "."), "conf ");
        }
}

/* Every fsync this binary makes passes here (it interposes libc's), so a
 * test can tell a durable write from a non-durable one. */
static unsigned n_fsync;
int fsync(int fd) {
        n_fsync++;
        return (int) syscall(SYS_fsync, fd);
}

/* WRITE_ATOMIC_NO_SYNC (the metrics textfile): replaced atomically, mode
 * set, no temp left, a symlink at the name replaced, not followed — and not
 * one fsync, where the durable write makes two (file and directory). */
static void test_write_atomic_no_sync(void **state) {
        Fixture *f = *state;
        const WriteAtomicOptions nosync = { .flags = WRITE_ATOMIC_NO_SYNC, .mode = 0644 };
        sh(f->dir, "echo target >target && ln -s target m.prom");
        n_fsync = 0;
        assert_int_equal(write_atomic_at_full(f->fd, "m.prom", "a 1\n", 4, &nosync), 0);
        assert_int_equal(n_fsync, 0);
        char *s = slurp(f->fd, "m.prom");
        assert_string_equal(s, "a 1\n");
        free(s);
        s = slurp(f->fd, "target");
        assert_string_equal(s, "target\n");
        free(s);
        struct stat st;
        assert_int_equal(fstatat(f->fd, "m.prom", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_string_equal(listing(f->dir, "."), "m.prom target ");

        n_fsync = 0;
        assert_int_equal(write_atomic_at(f->fd, "m.prom", "a 2\n", 4, 0644), 0);
        assert_int_equal(n_fsync, 2);

        /* Atomic still: an error leaves the old bytes and no temp. */
        fail_point(2);
        assert_int_equal(write_atomic_at_full(f->fd, "m.prom", "a 3\n", 4, &nosync), -EIO);
        failed_at("rename");
        s = slurp(f->fd, "m.prom");
        assert_string_equal(s, "a 2\n");
        free(s);
        assert_string_equal(listing(f->dir, "."), "m.prom target ");
}

/* ---- links, unlink, mkdir ---- */

static void test_symlink_atomic(void **state) {
        Fixture *f = *state;
        unit_write(f->dir, "unit.service", "[Service]\n");
        sh(f->dir, "ln -s stale '" FILEIO_TMP_PREFIX "unit.service'");
        assert_false(symlink_points_to_at(f->fd, "unit.service", "/dev/null"));
        assert_int_equal(symlink_atomic_at(f->fd, "unit.service", "/dev/null"), 0);
        assert_true(symlink_points_to_at(f->fd, "unit.service", "/dev/null"));
        assert_false(symlink_points_to_at(f->fd, "unit.service", "/dev/nul"));
        assert_false(symlink_points_to_at(f->fd, "absent", "/dev/null"));
        assert_string_equal(listing(f->dir, "."), "unit.service ");

        /* An error at the point: the old link stays, no temp. */
        fail_point(1);
        assert_int_equal(symlink_atomic_at(f->fd, "unit.service", "/elsewhere"), -EIO);
        failed_at("symlink");
        assert_true(symlink_points_to_at(f->fd, "unit.service", "/dev/null"));
        assert_string_equal(listing(f->dir, "."), "unit.service ");
}

static void test_readlink_long_target(void **state) {
        Fixture *f = *state;
        char target[1201];
        memset(target, 'a', sizeof target - 1);
        target[sizeof target - 1] = '\0';
        assert_int_equal(symlinkat(target, f->fd, "long"), 0);
        char *t = NULL;
        assert_int_equal(readlink_malloc_at(f->fd, "long", &t), 0);
        assert_string_equal(t, target);
        free(t);
        unit_write(f->dir, "file", "x");
        assert_int_equal(readlink_malloc_at(f->fd, "file", &t), -EINVAL);
}

static void test_exists_and_unlink(void **state) {
        Fixture *f = *state;
        unit_write(f->dir, "file", "x");
        struct stat st;
        assert_int_equal(exists_at(f->fd, "file", &st), 1);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(exists_at(f->fd, "absent", NULL), 0);
        assert_int_equal(exists_at(f->fd, "file/below", NULL), -ENOTDIR);

        fail_point(1);
        assert_int_equal(unlink_durable_at(f->fd, "file"), -EIO);
        failed_at("unlink");
        assert_int_equal(exists_at(f->fd, "file", NULL), 1);
        assert_int_equal(unlink_durable_at(f->fd, "file"), 0);
        assert_int_equal(exists_at(f->fd, "file", NULL), 0);
        assert_int_equal(unlink_durable_at(f->fd, "file"), 0); /* already gone */
}

static void test_mkdir_durable_root(void **state) {
        Fixture *f = *state;
        int root_fd, fd = -1;
        assert_int_equal(root_open(f->dir, &root_fd), 0);
        assert_int_equal(mkdir_durable_root(root_fd, "/a/b/c", 0700, &fd), 0);
        close(fd);
        struct stat st;
        assert_int_equal(fstatat(f->fd, "a/b", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0755);
        assert_int_equal(fstatat(f->fd, "a/b/c", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        /* Existing: opened, not changed. */
        assert_int_equal(mkdir_durable_root(root_fd, "/a/b", 0700, &fd), 0);
        close(fd);
        assert_int_equal(fstatat(f->fd, "a/b", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0755);

        const char *name = NULL;
        assert_int_equal(root_open_parent_durable(root_fd, "/x/y/file", &fd, &name), 0);
        assert_string_equal(name, "file");
        close(fd);
        assert_int_equal(exists_at(f->fd, "x/y", NULL), 1);
        assert_int_equal(exists_at(f->fd, "x/y/file", NULL), 0);

        fail_point(1);
        assert_int_equal(mkdir_durable_root(root_fd, "/a/new", 0700, &fd), -EIO);
        failed_at("mkdir");
        assert_int_equal(exists_at(f->fd, "a/new", NULL), 0);

        /* An absolute link in the root resolves inside it: nothing is made
         * at the host's path it names. */
        char outside[512];
        snprintf(outside, sizeof outside, "%s.outside", f->dir);
        assert_int_equal(symlinkat(outside, f->fd, "esc"), 0);
        assert_true(mkdir_durable_root(root_fd, "/esc/sub", 0755, &fd) < 0);
        assert_int_equal(access(outside, F_OK), -1);
        assert_int_equal(errno, ENOENT);
        close(root_fd);
}

static void test_mkdir_durable_at(void **state) {
        Fixture *f = *state;
        int fd = -1;
        assert_int_equal(mkdir_durable_at(f->fd, "d", 0710, &fd), 0);
        close(fd);
        struct stat st;
        assert_int_equal(fstatat(f->fd, "d", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0710);
        /* Existing: opened, not changed, no durable step. */
        assert_int_equal(mkdir_durable_at(f->fd, "d", 0700, &fd), 0);
        close(fd);
        assert_int_equal(fstatat(f->fd, "d", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0710);
        /* Never through a symlink. */
        sh(f->dir, "ln -s d link && : > file");
        assert_true(mkdir_durable_at(f->fd, "link", 0700, &fd) < 0);
        assert_int_equal(mkdir_durable_at(f->fd, "file", 0700, &fd), -ENOTDIR);
        fail_point(1);
        assert_int_equal(mkdir_durable_at(f->fd, "new", 0700, &fd), -EIO);
        failed_at("mkdir");
        assert_int_equal(exists_at(f->fd, "new", NULL), 0);
}

static void test_leftover_of(void **unused) {
        assert_string_equal(fileio_leftover_of(FILEIO_TMP_PREFIX "defs"), "defs");
        assert_string_equal(fileio_leftover_of(FILEIO_DOOMED_PREFIX "a.sig"), "a.sig");
        assert_null(fileio_leftover_of(FILEIO_TMP_PREFIX));
        assert_null(fileio_leftover_of("defs"));
        assert_null(fileio_leftover_of(".#other.defs"));
        assert_null(fileio_leftover_of(NULL));
}

/* ---- trees ---- */
/* ---- trees ---- */

static const char TREE[] =
        "mkdir -p t/sub && printf one >t/a && printf two >t/sub/b && ln -s a t/link &&"
        " chmod 0600 t/sub/b && chmod 0750 t/sub && chown 1234:4321 t/a && chown -h 7:8 t/link &&"
        " find t -exec touch -h -d @1600000000 {} +";

static char *tree_sig(const char *dir, const char *name) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "cd '%s/%s' && { find . -printf '%%p %%y %%m %%U %%G %%s %%l %%T@\\n' | LC_ALL=C sort;"
                 " find . -type f -exec sha256sum {} + | LC_ALL=C sort; }",
                 dir, name);
        return unit_command_output(cmd);
}

static void test_copy_tree_keeps_metadata(void **state) {
        Fixture *f = *state;
        sh(f->dir, TREE);
        char *before = tree_sig(f->dir, "t");
        assert_int_equal(copy_tree_at(f->fd, "t", f->fd, "u"), 0);
        char *after = tree_sig(f->dir, "u");
        assert_string_equal(before, after);
        free(before);
        free(after);

        /* Device nodes, FIFOs, sockets have no business in content. */
        sh(f->dir, "mkfifo t/sub/fifo");
        assert_int_equal(copy_tree_at(f->fd, "t", f->fd, "v"), -EOPNOTSUPP);
        /* The destination must not exist. */
        assert_int_equal(copy_tree_at(f->fd, "t/a", f->fd, "u"), -EEXIST);
}

static void test_remove_tree_durable(void **state) {
        Fixture *f = *state;
        sh(f->dir, TREE);
        fail_point(2); /* 1: the rename to the doomed name, 2: the removal */
        assert_int_equal(remove_tree_durable(f->fd, "t"), -EIO);
        failed_at("remove-tree");
        /* Cut short: the tree no longer carries its real name. */
        assert_string_equal(listing(f->dir, "."), FILEIO_DOOMED_PREFIX "t ");
        sh(f->dir, "rm -rf '" FILEIO_DOOMED_PREFIX "t'");
        sh(f->dir, TREE);
        assert_int_equal(remove_tree_durable(f->fd, "t"), 0);
        assert_string_equal(listing(f->dir, "."), "");
}

static void move_both_ways(Fixture *f, bool exdev) {
        sh(f->dir, "mkdir from to");
        sh(f->dir, "cd from && mkdir -p t/sub && printf one >t/a && printf two >t/sub/b && ln -s a t/link &&"
                   " chown 1234:4321 t/a && find t -exec touch -h -d @1600000000 {} +");
        int from = openat(f->fd, "from", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
            to = openat(f->fd, "to", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(from >= 0 && to >= 0);
        char *before = tree_sig(f->dir, "from/t");
        if (exdev)
                setenv("LASTGOOD_TEST_FORCE_EXDEV", "1", 1);
        bool copied = false;
        assert_int_equal(move_tree_durable(from, "t", to, "stash", &copied), 0);
        assert_int_equal(copied, exdev);
        assert_string_equal(listing(f->dir, "from"), "");
        assert_string_equal(listing(f->dir, "to"), "stash ");
        char *moved = tree_sig(f->dir, "to/stash");
        assert_string_equal(before, moved);
        /* Again: already done, nothing changes. */
        assert_int_equal(move_tree_durable(from, "t", to, "stash", NULL), 0);
        assert_string_equal(listing(f->dir, "to"), "stash ");
        /* And back. */
        copied = false;
        assert_int_equal(move_tree_durable(to, "stash", from, "t", &copied), 0);
        assert_int_equal(copied, exdev);
        char *back = tree_sig(f->dir, "from/t");
        assert_string_equal(before, back);
        assert_string_equal(listing(f->dir, "to"), "");
        /* Neither side: nothing to move. */
        assert_int_equal(move_tree_durable(to, "absent", from, "absent2", NULL), 0);
        free(before);
        free(moved);
        free(back);
        close(from);
        close(to);
}

static void test_move_tree_rename(void **state) {
        move_both_ways(*state, false);
}

static void test_move_tree_exdev_copy(void **state) {
        move_both_ways(*state, true);
}

/* The states a cut can leave, each finished by the next call. */
static void test_move_tree_finishes_cut_states(void **state) {
        Fixture *f = *state;
        sh(f->dir, "mkdir from to && printf live >from/t");
        int from = openat(f->fd, "from", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
            to = openat(f->fd, "to", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(from >= 0 && to >= 0);

        /* A half-made copy and a half-removed tree of an earlier cut. */
        sh(f->dir, "printf par >'to/" FILEIO_TMP_PREFIX "stash' && mkdir 'from/" FILEIO_DOOMED_PREFIX "t'");
        setenv("LASTGOOD_TEST_FORCE_EXDEV", "1", 1);
        assert_int_equal(move_tree_durable(from, "t", to, "stash", NULL), 0);
        assert_string_equal(listing(f->dir, "from"), "");
        assert_string_equal(listing(f->dir, "to"), "stash ");
        char *s = slurp(to, "stash");
        assert_string_equal(s, "live");
        free(s);

        /* Cut after the copy took its name, before the source went: both
         * exist, and the copy is complete, so the source is removed. */
        sh(f->dir, "printf live >from/t");
        assert_int_equal(move_tree_durable(from, "t", to, "stash", NULL), 0);
        assert_string_equal(listing(f->dir, "from"), "");

        /* An error at the copy's point: nothing moved. */
        sh(f->dir, "rm to/stash && printf live >from/t");
        fail_point(1);
        assert_int_equal(move_tree_durable(from, "t", to, "stash", NULL), -EIO);
        failed_at("copy-tree");
        assert_string_equal(listing(f->dir, "from"), "t ");
        assert_string_equal(listing(f->dir, "to"), "");
        close(from);
        close(to);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_atomic_full_sets_owner_mode_mtime, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_fixed_temp_replaces_leftover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_does_not_follow_a_link, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_error_keeps_old_bytes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_no_sync, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_atomic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_readlink_long_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exists_and_unlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_durable_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_durable_at, setup, teardown),
                cmocka_unit_test(test_leftover_of),
                cmocka_unit_test_setup_teardown(test_copy_tree_keeps_metadata, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_tree_durable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_move_tree_rename, setup, teardown),
                cmocka_unit_test_setup_teardown(test_move_tree_exdev_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_move_tree_finishes_cut_states, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
