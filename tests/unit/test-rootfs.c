/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include "lib/rootfs.h"

typedef int (*OpenFn)(int, const char *, int, mode_t);

/* root/etc/real, links: abs -> /etc/real, up -> ../../../etc (escape try),
 * loop1 <-> loop2; and an "outside" dir next to root as the canary. */
static char *setup(int *ret_fd) {
        char *d = unit_mkdtemp();
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "set -e; cd '%s'; mkdir -p root/etc/sub outside; echo inside >root/etc/real; echo outside >outside/real;"
                 "ln -s /etc/real root/etc/abs; ln -s ../../../outside/real root/etc/up;"
                 "ln -s /etc root/etc/dirlink; ln -s loop2 root/etc/loop1; ln -s loop1 root/etc/loop2;"
                 "ln -s /../../outside/real root/etc/absup",
                 d);
        assert_int_equal(system(cmd), 0);
        char root[600];
        snprintf(root, sizeof root, "%s/root", d);
        assert_int_equal(root_open(root, ret_fd), 0);
        return d;
}

static void read_is(OpenFn fn, int root_fd, const char *path, const char *want) {
        int fd = fn(root_fd, path, O_RDONLY | O_CLOEXEC, 0);
        assert_true(fd >= 0);
        char buf[64] = {};
        assert_true(read(fd, buf, sizeof buf - 1) > 0);
        close(fd);
        assert_string_equal(buf, want);
}

static void check_resolution(OpenFn fn) {
        int root_fd;
        char *d = setup(&root_fd);
        read_is(fn, root_fd, "/etc/real", "inside\n");
        read_is(fn, root_fd, "etc//sub/../real", "inside\n");
        read_is(fn, root_fd, "/etc/abs", "inside\n"); /* absolute link stays inside */
        read_is(fn, root_fd, "/etc/dirlink/real", "inside\n");
        read_is(fn, root_fd, "/../../etc/real", "inside\n"); /* ".." stops at the root */
        /* Escapes land inside the root, where there is no such file. */
        assert_int_equal(fn(root_fd, "/etc/up", O_RDONLY, 0), -ENOENT);
        assert_int_equal(fn(root_fd, "/etc/absup", O_RDONLY, 0), -ENOENT);
        assert_int_equal(fn(root_fd, "/../outside/real", O_RDONLY, 0), -ENOENT);
        assert_int_equal(fn(root_fd, "/etc/loop1", O_RDONLY, 0), -ELOOP);
        /* O_NOFOLLOW on the last component refuses the link itself. */
        assert_int_equal(fn(root_fd, "/etc/abs", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
        int fd = fn(root_fd, "/etc/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        close(fd);
        close(root_fd);
        unit_rmdir(d);
}

static void test_openat2(void **unused) {
        check_resolution(root_openat);
}

static void test_userspace_walk(void **unused) {
        check_resolution(root_openat_walk);
}

static void test_safe_relative(void **unused) {
        assert_true(path_is_safe_relative("etc/x"));
        assert_false(path_is_safe_relative("/etc/x"));
        assert_false(path_is_safe_relative("etc/../x"));
        assert_false(path_is_safe_relative("./x"));
        assert_false(path_is_safe_relative("a//b"));
        assert_false(path_is_safe_relative(""));
}

static void test_path_predicates(void **unused) {
        assert_true(path_is_normalized_absolute("/"));
        assert_true(path_is_normalized_absolute("/a/b"));
        assert_false(path_is_normalized_absolute("a/b"));
        assert_false(path_is_normalized_absolute("/a/b/"));
        assert_false(path_is_normalized_absolute("//a"));
        assert_false(path_is_normalized_absolute("/a/.."));
        assert_false(path_is_normalized_absolute("/a\x7f"));

        assert_true(path_is_under("/etc/x", "/etc"));
        assert_true(path_is_under("/etc", "/etc"));
        assert_true(path_is_under("/etc", "/"));
        assert_false(path_is_under("/etcx", "/etc"));
        assert_false(path_is_under("/et", "/etc"));
}

static int count_or_stop(int dir_fd, const char *name, void *userdata) {
        size_t *n = userdata;
        struct stat st;
        /* DIR_FD is the directory itself: *at() calls on NAME work. */
        assert_int_equal(fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
        (*n)++;
        return streq(name, "stop") ? 7 : 0;
}

static int fail_on_b(int dir_fd, const char *name, void *userdata) {
        return streq(name, "b") ? -EIO : 0;
}

static bool not_hidden(int dir_fd, const char *name) {
        return name[0] != '.';
}

static void test_dir_iteration(void **unused) {
        char *d = unit_mkdtemp();
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "set -e; cd '%s'; mkdir -p t/sub/deep e; touch t/c t/a t/b t/.h t/sub/deep/x; "
                 "ln -s /nonexistent t/link",
                 d);
        assert_int_equal(system(cmd), 0);
        char t[600];
        snprintf(t, sizeof t, "%s/t", d);
        /* An O_PATH fd works, and is left as it was. */
        int fd = open(t, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);

        size_t n = 0;
        assert_int_equal(dir_for_each_at(fd, count_or_stop, &n), 0);
        assert_int_equal(n, 6); /* a b c .h sub link: never "." or ".." */
        assert_int_equal(dir_for_each_at(fd, fail_on_b, NULL), -EIO);

        char **l = NULL;
        assert_int_equal(dir_list_at(fd, NULL, 0, &l), 0);
        assert_int_equal(strv_length(l), 6);
        assert_string_equal(l[0], ".h"); /* sorted */
        assert_string_equal(l[1], "a");
        assert_string_equal(l[5], "sub");
        strv_free(l);
        assert_int_equal(dir_list_at(fd, not_hidden, 5, &l), 0);
        assert_int_equal(strv_length(l), 5);
        strv_free(l);
        /* Bounded: one more than MAX accepted entries is an error. */
        l = NULL;
        assert_int_equal(dir_list_at(fd, not_hidden, 4, &l), -E2BIG);
        assert_null(l);

        /* An empty directory gives an empty list, not NULL. */
        snprintf(t, sizeof t, "%s/e", d);
        int efd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(efd >= 0);
        assert_int_equal(dir_list_at(efd, NULL, 0, &l), 0);
        assert_non_null(l);
        assert_null(l[0]);
        strv_free(l);
        close(efd);

        /* A stop value comes back as it is. */
        snprintf(cmd, sizeof cmd, "touch '%s/t/stop'", d);
        assert_int_equal(system(cmd), 0);
        n = 0;
        assert_int_equal(dir_for_each_at(fd, count_or_stop, &n), 7);

        /* rm_rf_at walks with it, and never follows the link. */
        int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(rm_rf_at(dfd, "t"), 0);
        assert_int_equal(faccessat(dfd, "t", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(rm_rf_at(dfd, "t"), 0);
        close(dfd);
        close(fd);
        unit_rmdir(d);
}

static void test_open_dir_nofollow(void **unused) {
        char *d = unit_mkdtemp();
        unit_sh("cd %s && mkdir -p a/b/c && ln -s b a/link && : > a/file", d);
        int dir_fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
        assert_true(dir_fd >= 0);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "a/b/c", &fd), 0);
        struct stat st, want;
        assert_int_equal(fstat(fd, &st), 0);
        close(fd);
        assert_int_equal(fstatat(dir_fd, "a/b/c", &want, 0), 0);
        assert_true(st.st_ino == want.st_ino);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "", &fd), 0); /* the directory itself */
        close(fd);
        /* A symlink anywhere on the way, a file, "." or ".." are refused. */
        assert_true(open_dir_nofollow_at(dir_fd, "a/link/c", &fd) < 0);
        assert_true(open_dir_nofollow_at(dir_fd, "a/link", &fd) < 0);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "a/file", &fd), -ENOTDIR);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "a/../a", &fd), -EINVAL);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "a/./b", &fd), -EINVAL);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "a//b", &fd), -EINVAL);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "a/b/", &fd), -EINVAL);
        assert_int_equal(open_dir_nofollow_at(dir_fd, "a/missing", &fd), -ENOENT);
        close(dir_fd);
        unit_rmdir(d);
}

static void test_open_parent_nofollow(void **unused) {
        char *d = unit_mkdtemp();
        unit_sh("cd %s && mkdir -p a/b && ln -s b a/link && ln -s /a/b a/abs", d);
        int root_fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
        assert_true(root_fd >= 0);
        const char *name = NULL;
        assert_int_equal(root_open_parent_nofollow(root_fd, "/a/b/x.prom", &fd, &name), 0);
        assert_string_equal(name, "x.prom");
        struct stat st, want;
        assert_int_equal(fstat(fd, &st), 0);
        close(fd);
        assert_int_equal(fstatat(root_fd, "a/b", &want, 0), 0);
        assert_true(st.st_ino == want.st_ino);
        assert_int_equal(root_open_parent_nofollow(root_fd, "/top", &fd, &name), 0); /* the root itself */
        assert_string_equal(name, "top");
        assert_int_equal(fstat(fd, &st), 0);
        close(fd);
        assert_int_equal(fstat(root_fd, &want), 0);
        assert_true(st.st_ino == want.st_ino);
        /* Control: root_open_parent() resolves the same links (inside the root). */
        assert_int_equal(root_open_parent(root_fd, "/a/link/x", false, &fd, &name), 0);
        close(fd);
        /* Refused: a symlinked directory, relative or absolute, anywhere on the way. */
        assert_true(root_open_parent_nofollow(root_fd, "/a/link/x", &fd, &name) < 0);
        assert_true(root_open_parent_nofollow(root_fd, "/a/abs/x", &fd, &name) < 0);
        assert_int_equal(root_open_parent_nofollow(root_fd, "/a/../a/x", &fd, &name), -EINVAL);
        assert_int_equal(root_open_parent_nofollow(root_fd, "/a/b/", &fd, &name), -EINVAL);
        assert_int_equal(root_open_parent_nofollow(root_fd, "/a/b/..", &fd, &name), -EINVAL);
        close(root_fd);
        unit_rmdir(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_parent_nofollow), cmocka_unit_test(test_openat2),
                cmocka_unit_test(test_userspace_walk),       cmocka_unit_test(test_safe_relative),
                cmocka_unit_test(test_path_predicates),      cmocka_unit_test(test_dir_iteration),
                cmocka_unit_test(test_open_dir_nofollow),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
