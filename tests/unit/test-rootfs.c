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
        read_is(fn, root_fd, "/etc/abs", "inside\n");          /* absolute link stays inside */
        read_is(fn, root_fd, "/etc/dirlink/real", "inside\n");
        read_is(fn, root_fd, "/../../etc/real", "inside\n");   /* ".." stops at the root */
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_openat2),
                cmocka_unit_test(test_userspace_walk),
                cmocka_unit_test(test_safe_relative),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
