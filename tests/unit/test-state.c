/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <zlib.h>

#include "agent/state.h"

static BootState sample(void) {
        BootState s = {
                .generation = 7, .total_boots = 42, .failed_boots = 2, .step_failed_boots = 1,
                .in_boot = 1, .safe_mode_requested = 3, .incident = 5, .ladder_step = 2,
                .internal_errors = 9, .boot_mode = BOOT_MODE_RECOVERY,
                .last_confirmed_usec = 1700000000000000ULL, .last_boot_usec = 1700000001000000ULL,
                .loop_started_usec = 1700000002000000ULL, .last_action_usec = 1700000003000000ULL,
        };
        state_set_str(s.last_confirmed_boot_id, "0b1c2d3e-0000-4000-8000-000000000001");
        state_set_str(s.boot_id, "0b1c2d3e-0000-4000-8000-000000000002");
        state_set_str(s.last_action, "restore-content");
        state_set_str(s.culprit, "fakesensor");
        state_set_str(s.last_error, "none");
        return s;
}

static void test_roundtrip(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        assert_memory_equal(&s, &d, sizeof s);
}

static void test_layout_is_little_endian_and_versioned(void **unused) {
        BootState s = sample();
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, buf);
        assert_memory_equal(buf, "LGST", 4);
        assert_int_equal(buf[4] | buf[5] << 8, STATE_FORMAT_VERSION);
        assert_int_equal(buf[6] | buf[7] << 8, STATE_RECORD_SIZE);
        assert_int_equal(buf[8], 7); /* generation, LE */
}

static void test_every_single_bit_flip_is_rejected(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, buf);
        for (size_t i = 0; i < sizeof buf; i++)
                for (int bit = 0; bit < 8; bit++) {
                        buf[i] ^= (uint8_t) (1 << bit);
                        assert_int_equal(state_decode(buf, sizeof buf, &d), -EBADMSG);
                        buf[i] ^= (uint8_t) (1 << bit);
                }
}

static void test_wrong_size_and_garbage(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE + 8];
        state_encode(&s, buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE - 1, &d), -EBADMSG);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE + 8, &d), -EBADMSG);
        assert_int_equal(state_decode(buf, 0, &d), -EBADMSG);
        memset(buf, 0xff, sizeof buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE, &d), -EBADMSG);
        memset(buf, 0, sizeof buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE, &d), -EBADMSG);
}

static void test_strings_are_bounded(void **unused) {
        BootState s = sample(), d;
        char longs[200];
        memset(longs, 'x', sizeof longs - 1);
        longs[sizeof longs - 1] = '\0';
        state_set_str(s.culprit, longs);
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        assert_int_equal(strlen(d.culprit), sizeof d.culprit - 1);
}

/* Regression (fuzzer): bytes after a string's NUL are not part of it. */
static void test_garbage_after_nul_is_canonicalised(void **unused) {
        BootState s = sample(), d, e;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, buf);
        /* last_action "restore-content" starts after 8+16+32+32+74 bytes;
         * poke a byte after its NUL and fix the CRC. */
        size_t off = 8 + 16 + 32 + 32 + 74 + 20;
        buf[off] = 'X';
        uint32_t crc = (uint32_t) crc32(0L, buf, STATE_RECORD_SIZE - 4);
        for (int i = 0; i < 4; i++)
                buf[STATE_RECORD_SIZE - 4 + i] = (uint8_t) (crc >> (8 * i));
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        state_encode(&d, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &e), 0);
        assert_memory_equal(&d, &e, sizeof d);
        assert_string_equal(d.last_action, "restore-content");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_layout_is_little_endian_and_versioned),
                cmocka_unit_test(test_every_single_bit_flip_is_rejected),
                cmocka_unit_test(test_wrong_size_and_garbage),
                cmocka_unit_test(test_strings_are_bounded),
                cmocka_unit_test(test_garbage_after_nul_is_canonicalised),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
