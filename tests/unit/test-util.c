/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

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
        strv_free(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_parse_size_and_numbers),
                cmocka_unit_test(test_cmdline),
                cmocka_unit_test(test_strv),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
