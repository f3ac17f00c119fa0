/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include "lib/encode.h"

static void test_hex(void **unused) {
        static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
        char *s = NULL;
        assert_int_equal(hex_encode(bytes, sizeof bytes, &s), 0);
        assert_string_equal(s, "00017f80abff");

        uint8_t out[8];
        size_t n = 0;
        assert_int_equal(hex_decode_to(s, strlen(s), out, sizeof out, &n), 0);
        assert_int_equal(n, sizeof bytes);
        assert_memory_equal(out, bytes, sizeof bytes);
        assert_int_equal(hex_decode_to("ABcd", 4, out, sizeof out, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(out[0], 0xab);
        assert_int_equal(out[1], 0xcd);
        free(s);

        /* Odd length, a non-hex digit, too long for the buffer. */
        assert_int_equal(hex_decode_to("abc", 3, out, sizeof out, &n), -EBADMSG);
        assert_int_equal(hex_decode_to("0g", 2, out, sizeof out, &n), -EBADMSG);
        assert_int_equal(hex_decode_to("0 ", 2, out, sizeof out, &n), -EBADMSG);
        assert_int_equal(hex_decode_to("000000", 6, out, 2, &n), -EBADMSG);

        void *d = NULL;
        assert_int_equal(hex_decode("6869", 4, &d, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(d, "hi"); /* NUL-terminated after the bytes */
        free(d);
        assert_int_equal(hex_decode("", 0, &d, &n), 0);
        assert_int_equal(n, 0);
        free(d);
        assert_int_equal(hex_decode("6", 1, &d, &n), -EBADMSG);

        assert_int_equal(unhexchar('F'), 15);
        assert_int_equal(unhexchar('a'), 10);
        assert_true(unhexchar('g') < 0);
        assert_true(unhexchar('\0') < 0);
        assert_int_equal(hexchar(0x1c), 'c');
}

static void test_token(void **unused) {
        static const char *const cases[] = { "plain/path.txt", "with space", "100%", "-",  "",
                                             "tab\there",      "\xff\x01",   "a-b",  "--", "new\nline",
                                             "\xc3\xbc" };
        static const char *const encoded[] = {
                "plain/path.txt", "with%20space", "100%25", "%2D",        "",      "tab%09here",
                "%FF%01",         "a-b",          "--",     "new%0Aline", "%C3%BC"
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *e = pct_token_encode(cases[i]), *d = NULL;
                assert_non_null(e);
                assert_string_equal(e, encoded[i]);
                assert_int_equal(pct_token_decode(e, &d), 0);
                assert_string_equal(d, cases[i]);
                free(e);
                free(d);
        }
        /* Only the canonical spelling: one value, one token. */
        char *d = NULL;
        assert_int_equal(pct_token_decode("%41", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("%2d", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("%ff", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("a%2Db", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("-", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("a b", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("\xff", &d), -EBADMSG);
        /* Malformed, or a NUL inside a C string. */
        assert_int_equal(pct_token_decode("%00", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("%2", &d), -EBADMSG);
        assert_int_equal(pct_token_decode("a%", &d), -EBADMSG);
        assert_null(d);
}

static char *field(const char *s) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        pct_field_write(f, s);
        assert_int_equal(fclose(f), 0);
        return buf;
}

static void test_field(void **unused) {
        static const char *const cases[] = { "plain_text.conf", "", "-", "two words", "a\nb", "50%",
                                             "x=y,z:1@2+3" };
        static const char *const encoded[] = { "plain_text.conf", "-",     "%2D",        "two%20words",
                                               "a%0Ab",           "50%25", "x=y,z:1@2+3" };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *e = field(cases[i]), *d = NULL;
                assert_string_equal(e, encoded[i]);
                assert_int_equal(pct_field_decode(e, &d), 0);
                assert_string_equal(d, cases[i]);
                free(e);
                free(d);
        }
        char *e = field(NULL);
        assert_string_equal(e, "-");
        free(e);
        /* A field never holds a space or a newline, nor a NUL. */
        char *d = NULL;
        assert_int_equal(pct_field_decode("a b", &d), -EBADMSG);
        assert_int_equal(pct_field_decode("a\nb", &d), -EBADMSG);
        assert_int_equal(pct_field_decode("%00", &d), -EBADMSG);
        assert_int_equal(pct_field_decode("%0", &d), -EBADMSG);
        assert_int_equal(pct_field_decode("%zz", &d), -EBADMSG);
        assert_null(d);
        /* Lenient about case, as the registry always was. */
        assert_int_equal(pct_field_decode("a%2fb", &d), 0);
        assert_string_equal(d, "a/b");
        free(d);
}

static void test_filename(void **unused) {
        char *s = NULL;
        assert_int_equal(pct_filename_encode("/opt/v/defs", 255, &s), 0);
        assert_string_equal(s, "opt%2Fv%2Fdefs");
        free(s);
        assert_int_equal(pct_filename_encode("/a%b", 255, &s), 0);
        assert_string_equal(s, "a%25b");
        free(s);
        /* Exactly MAX fits, one more does not. */
        assert_int_equal(pct_filename_encode("/ab/cd", 7, &s), 0);
        assert_string_equal(s, "ab%2Fcd");
        free(s);
        assert_int_equal(pct_filename_encode("/ab/cde", 7, &s), -ENAMETOOLONG);
}

static void test_utf16le(void **unused) {
        char out[8];
        assert_int_equal(utf16le_to_ascii("A\0b\0-\0\0\0x\0", 10, out, sizeof out), 0); /* stops at NUL */
        assert_string_equal(out, "Ab-");
        assert_int_equal(utf16le_to_ascii("A\0b\0", 4, out, sizeof out), 0); /* no NUL: the end */
        assert_string_equal(out, "Ab");
        assert_int_equal(utf16le_to_ascii("", 0, out, sizeof out), 0);
        assert_string_equal(out, "");
        strcpy(out, "keep");
        assert_int_equal(utf16le_to_ascii("A\0b", 3, out, sizeof out), -EBADMSG);        /* odd size */
        assert_int_equal(utf16le_to_ascii("A\0\x01\x01", 4, out, sizeof out), -EBADMSG); /* not ASCII */
        assert_int_equal(utf16le_to_ascii("A\0\n\0", 4, out, sizeof out), -EBADMSG);     /* control */
        assert_int_equal(utf16le_to_ascii("1\0002\0003\0", 6, out, 3), -ENOBUFS);        /* 3 + NUL > 3 */
        assert_string_equal(out, "keep"); /* written only on success */
        assert_int_equal(utf16le_to_ascii("1\0002\0003\0", 6, out, 4), 0);
        assert_string_equal(out, "123");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf16le),  cmocka_unit_test(test_hex),
                cmocka_unit_test(test_token),    cmocka_unit_test(test_field),
                cmocka_unit_test(test_filename),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
