/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <sys/utsname.h>

#include "agent/cmdline.h"
#include "lib/util.h"

static void test_parse_duration(void **unused) {
        uint64_t u;
        assert_int_equal(parse_duration("90s", &u), 0);
        assert_int_equal(u, 90 * USEC_PER_SEC);
        assert_int_equal(parse_duration("72h", &u), 0);
        assert_int_equal(u, 72 * 3600 * USEC_PER_SEC);
        assert_int_equal(parse_duration("5min", &u), 0);
        assert_int_equal(u, 300 * USEC_PER_SEC);
        assert_int_equal(parse_duration("500ms", &u), 0);
        assert_int_equal(u, 500 * USEC_PER_MSEC);
        assert_int_equal(parse_duration("15", &u), 0);
        assert_int_equal(u, 15 * USEC_PER_SEC);
        assert_int_equal(parse_duration("-1s", &u), -EINVAL);
        assert_int_equal(parse_duration("1 s", &u), -EINVAL);
        assert_int_equal(parse_duration("s", &u), -EINVAL);
        assert_int_equal(parse_duration("10y", &u), -EINVAL);
        assert_int_equal(parse_duration("99999999999999999999s", &u), -ERANGE);
        assert_int_equal(parse_duration("9999999999999999d", &u), -ERANGE);
}

static void test_parse_size_and_numbers(void **unused) {
        uint64_t u;
        uint32_t v;
        assert_int_equal(parse_size("1G", &u), 0);
        assert_int_equal(u, 1ULL << 30);
        assert_int_equal(parse_size("512M", &u), 0);
        assert_int_equal(u, 512ULL << 20);
        assert_int_equal(parse_size("12X", &u), -EINVAL);
        assert_int_equal(parse_u32_range("3", 1, 50, &v), 0);
        assert_int_equal(v, 3);
        assert_int_equal(parse_u32_range("0", 1, 50, &v), -ERANGE);
        assert_int_equal(parse_u32_range("51", 1, 50, &v), -ERANGE);
        assert_int_equal(parse_u32_range("03", 1, 50, &v), -EINVAL);
        assert_int_equal(parse_u32_range("+3", 1, 50, &v), -EINVAL);
        assert_int_equal(parse_u32_range("3 ", 1, 50, &v), -EINVAL);
        assert_int_equal(parse_bool("yes"), 1);
        assert_int_equal(parse_bool("false"), 0);
        assert_int_equal(parse_bool("maybe"), -EINVAL);
}

static void test_cmdline(void **unused) {
        char *v = NULL;
        assert_int_equal(cmdline_get("quiet lastgood.safemode=1 ro", "lastgood.safemode", &v), 1);
        assert_string_equal(v, "1");
        free(v);
        assert_int_equal(cmdline_get("lastgood.safemode", "lastgood.safemode", &v), 1);
        assert_string_equal(v, "");
        free(v);
        assert_int_equal(cmdline_get("a=\"x y\" lastgood.safemode=\"12 34\"", "lastgood.safemode", &v), 1);
        assert_string_equal(v, "12 34");
        free(v);
        assert_int_equal(cmdline_get("lastgood.safemode=1 lastgood.safemode=2", "lastgood.safemode", &v), 1);
        assert_string_equal(v, "2");
        free(v);
        /* A longer key with the same prefix is not a match. */
        assert_int_equal(cmdline_get("lastgood.safemodex=1 quiet", "lastgood.safemode", &v), 0);
        assert_int_equal(cmdline_get("", "lastgood.safemode", &v), 0);
}

static void test_strv(void **unused) {
        char **l = NULL;
        assert_int_equal(strv_push(&l, "a"), 0);
        assert_int_equal(strv_push(&l, "b"), 0);
        assert_int_equal(strv_length(l), 2);
        assert_true(strv_contains(l, "b"));
        assert_false(strv_contains(l, "c"));
        char **c = strv_copy(l);
        assert_string_equal(c[1], "b");
        strv_free(c);
        assert_int_equal(strv_push(&l, "B"), 0);
        assert_int_equal(strv_push(&l, "a0"), 0);
        strv_sort(l);
        assert_string_equal(l[0], "B");
        assert_string_equal(l[1], "a");
        assert_string_equal(l[2], "a0");
        assert_string_equal(l[3], "b");
        assert_null(l[4]);
        strv_sort(NULL);
        strv_free(l);
}

static void test_utc_stamp(void **unused) {
        char buf[UTC_STAMP_LEN + 1];
        assert_string_equal(format_utc_stamp(buf, 0), "19700101T000000Z");
        assert_string_equal(format_utc_stamp(buf, 1764069101ULL * USEC_PER_SEC + 999999), "20251125T111141Z");
        /* Out of gmtime's range: the epoch, never garbage in a file name. */
        assert_string_equal(format_utc_stamp(buf, UINT64_MAX), "19700101T000000Z");
}

static void test_loops(void **unused) {
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(loop_write(p[1], "hello, world", 12), 0);
        assert_int_equal(loop_write(p[1], "", 0), 0);
        close(p[1]);
        char buf[32];
        /* Reads up to the end of the file: short only there. */
        assert_int_equal(loop_read(p[0], buf, 5), 5);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(loop_read(p[0], buf, sizeof buf), 7);
        assert_memory_equal(buf, ", world", 7);
        assert_int_equal(loop_read(p[0], buf, sizeof buf), 0);
        close(p[0]);
        assert_int_equal(loop_read(p[0], buf, sizeof buf), -EBADF);
        assert_int_equal(loop_write(p[0], "x", 1), -EBADF);

        char *d = unit_mkdtemp();
        unit_write(d, "f", "0123456789");
        char path[512];
        snprintf(path, sizeof path, "%s/f", d);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(loop_pread(fd, buf, 4, 3), 4);
        assert_memory_equal(buf, "3456", 4);
        assert_int_equal(loop_pread(fd, buf, sizeof buf, 8), 2);
        assert_int_equal(loop_pread(fd, buf, sizeof buf, 10), 0);
        assert_int_equal(loop_pread(fd, buf, sizeof buf, -1), -EINVAL);
        close(fd);
        unit_rmdir(d);

        uint8_t a[64] = {}, b[64] = {}, zero[64] = {};
        assert_int_equal(random_bytes(a, sizeof a), 0);
        assert_int_equal(random_bytes(b, sizeof b), 0);
        assert_memory_not_equal(a, zero, sizeof a);
        assert_memory_not_equal(a, b, sizeof a);
}

static void test_memstream(void **unused) {
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        assert_non_null(f);
        fprintf(f, "entry %d\n", 7);
        fputs("end\n", f);
        char *s = NULL;
        size_t len = 0;
        assert_int_equal(memstream_finalize(&m, &s, &len), 0);
        assert_string_equal(s, "entry 7\nend\n");
        assert_int_equal(len, 12);
        assert_null(m.f);
        assert_null(m.buf);
        free(s);

        /* Empty text, no length wanted. */
        assert_non_null(memstream_init(&m));
        assert_int_equal(memstream_finalize(&m, &s, NULL), 0);
        assert_string_equal(s, "");
        free(s);

        /* Never opened (or open_memstream() failed): nothing to hand out. */
        MemStream none = {};
        s = NULL;
        assert_int_equal(memstream_finalize(&none, &s, &len), -ENOMEM);
        assert_null(s);

        /* Dropped unfinished (the cleanup): nothing leaks (ASan). */
        f = memstream_init(&m);
        assert_non_null(f);
        fputs("never finished", f);
}

static void test_kernel_release(void **unused) {
        char buf[KERNEL_RELEASE_SIZE], want[KERNEL_RELEASE_SIZE];
        struct utsname u;
        assert_int_equal(uname(&u), 0);
        snprintf(want, sizeof want, "%s", u.release);

        unsetenv("LASTGOOD_KERNEL_RELEASE");
        assert_int_equal(read_kernel_release(buf), 0);
        assert_string_equal(buf, want);

        /* Tests simulate a kernel update. */
        setenv("LASTGOOD_KERNEL_RELEASE", "6.1.0-58-amd64", 1);
        assert_int_equal(read_kernel_release(buf), 0);
        assert_string_equal(buf, "6.1.0-58-amd64");

        /* 64 bytes fit, 65 do not; empty is refused; BUF untouched then. */
        char longest[KERNEL_RELEASE_SIZE + 1];
        memset(longest, 'k', sizeof longest);
        longest[KERNEL_RELEASE_SIZE - 1] = '\0';
        setenv("LASTGOOD_KERNEL_RELEASE", longest, 1);
        assert_int_equal(read_kernel_release(buf), 0);
        assert_string_equal(buf, longest);
        longest[KERNEL_RELEASE_SIZE - 1] = 'k';
        longest[KERNEL_RELEASE_SIZE] = '\0';
        strcpy(buf, "kept");
        setenv("LASTGOOD_KERNEL_RELEASE", longest, 1);
        assert_int_equal(read_kernel_release(buf), -EINVAL);
        assert_string_equal(buf, "kept");
        setenv("LASTGOOD_KERNEL_RELEASE", "", 1);
        assert_int_equal(read_kernel_release(buf), -EINVAL);
        assert_string_equal(buf, "kept");
        unsetenv("LASTGOOD_KERNEL_RELEASE");
}

/* parse_u64 is hand-written (manifests parse ten numbers per entry): the
 * edges strtoull used to handle. */
static void test_parse_u64_edges(void **unused) {
        uint64_t v = 7;
        assert_int_equal(parse_u64("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_u64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_u64("99999999999999999999", &v), -ERANGE);
        assert_int_equal(parse_u64("1844674407370955161", &v), 0);
        assert_true(v == UINT64_MAX / 10);
        v = 7;
        assert_int_equal(parse_u64("", &v), -EINVAL);
        assert_int_equal(parse_u64("01", &v), -EINVAL);
        assert_int_equal(parse_u64("-1", &v), -EINVAL);
        assert_int_equal(parse_u64("1a", &v), -EINVAL);
        assert_int_equal(parse_u64("1 ", &v), -EINVAL);
        assert_int_equal(parse_u64(" 1", &v), -EINVAL);
        assert_int_equal(parse_u64("1/", &v), -EINVAL); /* '/' is '0' - 1 */
        assert_int_equal(parse_u64("1:", &v), -EINVAL); /* ':' is '9' + 1 */
        assert_int_equal(v, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_duration), cmocka_unit_test(test_parse_u64_edges), cmocka_unit_test(test_parse_size_and_numbers),
                cmocka_unit_test(test_cmdline),        cmocka_unit_test(test_strv),
                cmocka_unit_test(test_utc_stamp),      cmocka_unit_test(test_loops),
                cmocka_unit_test(test_memstream),      cmocka_unit_test(test_kernel_release),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
