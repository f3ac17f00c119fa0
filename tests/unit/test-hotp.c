/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HOTP pinned to the published vectors: RFC 4226 Appendix D (HMAC-SHA-1)
 * and RFC 6238 Appendix B (HMAC-SHA-256, the TOTP table read as HOTP with
 * counter = T / 30). */
#include "unit.h"

#include "agent/hotp.h"

static const uint8_t rfc4226_key[] = "12345678901234567890"; /* 20 bytes + NUL */
#define RFC4226_KEY_LEN 20

/* RFC 4226 Appendix D: count, truncated value (hex and decimal), 6-digit HOTP. */
static const struct {
        uint32_t truncated;
        const char *hotp6;
        const char *hotp8;
} rfc4226[] = {
        { 0x4c93cf18, "755224", "84755224" }, { 0x41397eea, "287082", "94287082" },
        { 0x082fef30, "359152", "37359152" }, { 0x66ef7655, "969429", "26969429" },
        { 0x61c5938a, "338314", "40338314" }, { 0x33c083d4, "254676", "68254676" },
        { 0x7256c032, "287922", "18287922" }, { 0x04e5b397, "162583", "82162583" },
        { 0x2823443f, "399871", "73399871" }, { 0x2679dc69, "520489", "45520489" },
};

static void test_rfc4226_truncated(void **state) {
        for (uint64_t c = 0; c < ELEMENTSOF(rfc4226); c++) {
                uint32_t v = 0;
                assert_int_equal(hotp_truncated(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, c, &v), 0);
                assert_int_equal(v, rfc4226[c].truncated);
        }
        /* The decimal column of the RFC for two rows, as printed there. */
        uint32_t v;
        assert_int_equal(hotp_truncated(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, 0, &v), 0);
        assert_int_equal(v, 1284755224u);
        assert_int_equal(hotp_truncated(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, 9, &v), 0);
        assert_int_equal(v, 645520489u);
}

static void test_rfc4226_six_digits(void **state) {
        for (uint64_t c = 0; c < ELEMENTSOF(rfc4226); c++) {
                char code[HOTP_DIGITS_MAX + 1];
                assert_int_equal(hotp_code(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, c, 6, code), 0);
                assert_string_equal(code, rfc4226[c].hotp6);
        }
}

static void test_rfc4226_eight_digits(void **state) {
        /* lastgood's length: the same truncated values modulo 10^8 (these are
         * also RFC 6238's SHA-1 column, which uses the same key). */
        for (uint64_t c = 0; c < ELEMENTSOF(rfc4226); c++) {
                char code[HOTP_DIGITS_MAX + 1];
                assert_int_equal(hotp_code(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, c, HOTP_DIGITS, code), 0);
                assert_string_equal(code, rfc4226[c].hotp8);
                assert_int_equal(strlen(code), 8);
        }
}

static void test_rfc6238_sha256(void **state) {
        static const uint8_t key[] = "12345678901234567890123456789012";
        static const struct {
                uint64_t time;
                const char *totp;
        } v[] = {
                { 59, "46119246" },         { 1111111109, "68084774" }, { 1111111111, "67062674" },
                { 1234567890, "91819424" }, { 2000000000, "90698825" }, { 20000000000ULL, "77737706" },
        };
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                char code[HOTP_DIGITS_MAX + 1];
                assert_int_equal(hotp_code(HOTP_SHA256, key, 32, v[i].time / 30, 8, code), 0);
                assert_string_equal(code, v[i].totp);
        }
}

static void test_leading_zeros_kept(void **state) {
        /* Counter 7's 8-digit value is 82162583 but 9 digits pad: 082162583. */
        char code[HOTP_DIGITS_MAX + 1];
        assert_int_equal(hotp_code(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, 7, 9, code), 0);
        assert_string_equal(code, "082162583");
}

static void test_invalid_arguments(void **state) {
        char code[HOTP_DIGITS_MAX + 1];
        uint32_t v;
        /* Keys shorter than 128 bits are refused (RFC 4226 R6). */
        assert_int_equal(hotp_code(HOTP_SHA1, rfc4226_key, 15, 0, 8, code), -EINVAL);
        assert_int_equal(hotp_truncated(HOTP_SHA256, rfc4226_key, 0, 0, &v), -EINVAL);
        assert_int_equal(hotp_code(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, 0, 5, code), -EINVAL);
        assert_int_equal(hotp_code(HOTP_SHA1, rfc4226_key, RFC4226_KEY_LEN, 0, 10, code), -EINVAL);
        assert_int_equal(hotp_code((HotpAlgorithm) 7, rfc4226_key, RFC4226_KEY_LEN, 0, 8, code), -EINVAL);
}

static void test_algorithm_names(void **state) {
        assert_int_equal(hotp_algorithm_from_string("sha256"), HOTP_SHA256);
        assert_int_equal(hotp_algorithm_from_string("sha1"), HOTP_SHA1);
        assert_int_equal(hotp_algorithm_from_string("md5"), -EINVAL);
        assert_int_equal(hotp_algorithm_from_string(NULL), -EINVAL);
        assert_string_equal(hotp_algorithm_to_string(HOTP_SHA1), "sha1");
}

static void test_code_equal(void **state) {
        assert_true(hotp_code_equal("12345678", "12345678"));
        assert_false(hotp_code_equal("12345678", "12345679"));
        assert_false(hotp_code_equal("02345678", "12345678"));
        assert_false(hotp_code_equal("1234567", "12345678"));
        assert_false(hotp_code_equal("", "12345678"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc4226_truncated),    cmocka_unit_test(test_rfc4226_six_digits),
                cmocka_unit_test(test_rfc4226_eight_digits), cmocka_unit_test(test_rfc6238_sha256),
                cmocka_unit_test(test_leading_zeros_kept),   cmocka_unit_test(test_invalid_arguments),
                cmocka_unit_test(test_algorithm_names),      cmocka_unit_test(test_code_equal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
