/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <zlib.h>

#include "agent/state.h"

static BootState sample(void) {
        BootState s = {
                .generation = 7,
                .total_boots = 42,
                .failed_boots = 2,
                .step_failed_boots = 1,
                .in_boot = 1,
                .safe_mode_requested = 3,
                .incident = 5,
                .ladder_step = 2,
                .internal_errors = 9,
                .boot_mode = BOOT_MODE_RECOVERY,
                .last_action = LADDER_ACTION_RESTORE_CONTENT,
                .last_confirmed_usec = 1700000000000000ULL,
                .last_boot_usec = 1700000001000000ULL,
                .loop_started_usec = 1700000002000000ULL,
                .last_action_usec = 1700000003000000ULL,
        };
        state_set_str(s.last_confirmed_boot_id, "0b1c2d3e-0000-4000-8000-000000000001");
        state_set_str(s.boot_id, "0b1c2d3e-0000-4000-8000-000000000002");
        state_set_str(s.culprit, "fakesensor");
        state_set_str(s.last_error, "none");
        state_set_str(s.confirmed_kernel, "6.1.0-58-amd64");
        s.log_head_seq = 12;
        state_set_str(s.log_head_hash, "5f9a0000000000000000000000000000000000000000000000000000000000aa");
        return s;
}

static const uint8_t KEY[STATE_KEY_SIZE] = "0123456789abcdef0123456789abcde";

/* Offsets of the version-3 layout: 8 bytes of header, 2 u64, 8 u32, 4 u64,
 * two boot ids of 37 bytes, then last_action (u32), culprit (64),
 * last_error (40) and, new in version 3, confirmed_kernel (65). */
#define OFF_LAST_ACTION (8 + 16 + 32 + 32 + 74)
#define OFF_CULPRIT (OFF_LAST_ACTION + 4)
#define OFF_CONFIRMED_KERNEL (OFF_CULPRIT + 64 + 40)
/* Version 4: log_head_seq (u64), log_head_hash (65); the MAC before the CRC. */
#define OFF_LOG_HEAD_SEQ (OFF_CONFIRMED_KERNEL + 65)
#define OFF_MAC (STATE_RECORD_SIZE - 4 - STATE_MAC_SIZE)

static void fix_crc_n(uint8_t *buf, size_t n) {
        uint32_t crc = (uint32_t) crc32(0L, buf, (uInt) n - 4);
        for (int i = 0; i < 4; i++)
                buf[n - 4 + i] = (uint8_t) (crc >> (8 * i));
}
#define fix_crc(buf) fix_crc_n((buf), STATE_RECORD_SIZE)

static void put_le(uint8_t *p, uint64_t v, int n) {
        for (int i = 0; i < n; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* A version-1 record (last_action a 48-byte string ACTION), a version-2
 * one (last_action a u32; ACTION NULL) or a version-3 one (with
 * confirmed_kernel) as installed machines have them, STATE_RECORD_SIZE_V3
 * bytes, written out field by field, independently of state_encode(). */
static void encode_old(unsigned version, const BootState *s, const char *action,
                       uint8_t buf[static STATE_RECORD_SIZE_V3]) {
        memset(buf, 0, STATE_RECORD_SIZE_V3);
        memcpy(buf, "LGST", 4);
        put_le(buf + 4, version, 2);
        put_le(buf + 6, STATE_RECORD_SIZE_V3, 2);
        size_t o = 8;
        put_le(buf + o, s->generation, 8), o += 8;
        put_le(buf + o, s->total_boots, 8), o += 8;
        const uint32_t u32s[] = { s->failed_boots,        s->step_failed_boots, s->in_boot,
                                  s->safe_mode_requested, s->incident,          s->ladder_step,
                                  s->internal_errors,     s->boot_mode };
        for (size_t i = 0; i < ELEMENTSOF(u32s); i++)
                put_le(buf + o, u32s[i], 4), o += 4;
        const uint64_t u64s[] = { s->last_confirmed_usec, s->last_boot_usec, s->loop_started_usec,
                                  s->last_action_usec };
        for (size_t i = 0; i < ELEMENTSOF(u64s); i++)
                put_le(buf + o, u64s[i], 8), o += 8;
        memcpy(buf + o, s->last_confirmed_boot_id, strlen(s->last_confirmed_boot_id)), o += 37;
        memcpy(buf + o, s->boot_id, strlen(s->boot_id)), o += 37;
        if (version == 1)
                memcpy(buf + o, action, strlen(action)), o += 48;
        else
                put_le(buf + o, s->last_action, 4), o += 4;
        memcpy(buf + o, s->culprit, strlen(s->culprit)), o += 64;
        memcpy(buf + o, s->last_error, strlen(s->last_error)), o += 40;
        if (version == 3)
                memcpy(buf + o, s->confirmed_kernel, strlen(s->confirmed_kernel)), o += 65;
        assert_true(o <= STATE_RECORD_SIZE_V3 - 4);
        fix_crc_n(buf, STATE_RECORD_SIZE_V3);
}

static void encode_v1(const BootState *s, const char *action, uint8_t buf[static STATE_RECORD_SIZE_V3]) {
        encode_old(1, s, action, buf);
}

static void test_roundtrip(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, NULL, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        assert_memory_equal(&s, &d, sizeof s);
}

static void test_layout_is_little_endian_and_versioned(void **unused) {
        BootState s = sample();
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, NULL, buf);
        assert_memory_equal(buf, "LGST", 4);
        assert_int_equal(STATE_FORMAT_VERSION, 4);
        assert_int_equal(STATE_RECORD_SIZE, 512);
        assert_int_equal(buf[4] | buf[5] << 8, STATE_FORMAT_VERSION);
        assert_int_equal(buf[6] | buf[7] << 8, STATE_RECORD_SIZE);
        assert_int_equal(buf[8], 7); /* generation, LE */
        /* last_action is a u32 now, the enum's stored value */
        assert_int_equal(buf[OFF_LAST_ACTION], LADDER_ACTION_RESTORE_CONTENT);
        assert_memory_equal(buf + OFF_CULPRIT, "fakesensor", 11);
        assert_memory_equal(buf + OFF_CONFIRMED_KERNEL, "6.1.0-58-amd64", 15);
        assert_int_equal(buf[OFF_LOG_HEAD_SEQ], 12);
        assert_memory_equal(buf + OFF_LOG_HEAD_SEQ + 8, "5f9a", 4);
        /* no key: the MAC is zero */
        static const uint8_t zero[STATE_MAC_SIZE];
        assert_memory_equal(buf + OFF_MAC, zero, sizeof zero);
}

static void test_every_single_bit_flip_is_rejected(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, NULL, buf);
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
        state_encode(&s, NULL, buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE - 1, &d), -EBADMSG);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE + 8, &d), -EBADMSG);
        assert_int_equal(state_decode(buf, 0, &d), -EBADMSG);
        memset(buf, 0xff, sizeof buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE, &d), -EBADMSG);
        memset(buf, 0, sizeof buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE, &d), -EBADMSG);
}

static void test_unknown_versions_and_actions_are_refused(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        for (unsigned v = 0; v < 8; v++) {
                state_encode(&s, NULL, buf);
                put_le(buf + 4, v, 2);
                fix_crc(buf);
                /* versions 1-3 have the small size only */
                assert_int_equal(state_decode(buf, sizeof buf, &d), v == 4 ? 0 : -EBADMSG);
        }
        /* a version-4 header on a record of the old size */
        encode_old(3, &s, NULL, buf);
        put_le(buf + 4, 4, 2);
        fix_crc_n(buf, STATE_RECORD_SIZE_V3);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE_V3, &d), -EBADMSG);
        /* a last_action beyond the enum (with a valid CRC) */
        state_encode(&s, NULL, buf);
        put_le(buf + OFF_LAST_ACTION, _LADDER_ACTION_MAX, 4);
        fix_crc(buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), -EBADMSG);
}

static void test_strings_are_bounded(void **unused) {
        BootState s = sample(), d;
        char longs[200];
        memset(longs, 'x', sizeof longs - 1);
        longs[sizeof longs - 1] = '\0';
        state_set_str(s.culprit, longs);
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, NULL, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        assert_int_equal(strlen(d.culprit), sizeof d.culprit - 1);
}

/* Regression (fuzzer): bytes after a string's NUL are not part of it. */
static void test_garbage_after_nul_is_canonicalised(void **unused) {
        BootState s = sample(), d, e;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, NULL, buf);
        /* poke a byte after culprit's NUL and fix the CRC */
        buf[OFF_CULPRIT + 20] = 'X';
        fix_crc(buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        state_encode(&d, NULL, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &e), 0);
        assert_memory_equal(&d, &e, sizeof d);
        assert_string_equal(d.culprit, "fakesensor");
}

/* Version-1 records exist on installed machines: they decode, the action's
 * name mapped to the enum, and are written back as the current version. */
static void test_version_1_records_decode(void **unused) {
        static const struct {
                const char *name;
                LadderAction action;
        } table[] = {
                { "", LADDER_ACTION_NONE },
                { "restore-content", LADDER_ACTION_RESTORE_CONTENT },
                { "quarantine", LADDER_ACTION_QUARANTINE },
                { "safe-mode", LADDER_ACTION_SAFE_MODE },
                { "restore-content-retry", LADDER_ACTION_RESTORE_CONTENT_RETRY },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                BootState s = sample(), d, e;
                s.last_action = table[i].action;
                state_set_str(s.confirmed_kernel, ""); /* version 1 has none */
                state_set_str(s.log_head_hash, "");
                s.log_head_seq = 0;
                uint8_t buf[STATE_RECORD_SIZE];
                encode_v1(&s, table[i].name, buf);
                assert_int_equal(state_decode(buf, STATE_RECORD_SIZE_V3, &d), 0);
                assert_memory_equal(&s, &d, sizeof s);
                state_encode(&d, NULL, buf);
                assert_int_equal(buf[4] | buf[5] << 8, STATE_FORMAT_VERSION);
                assert_int_equal(state_decode(buf, sizeof buf, &e), 0);
                assert_memory_equal(&d, &e, sizeof d);
        }
        /* a name version 1 never wrote is corrupt, not "no action" */
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        encode_v1(&s, "reboot", buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE_V3, &d), -EBADMSG);
        /* and so is an unterminated one */
        char full[49];
        memset(full, 'q', 48);
        full[48] = '\0';
        encode_v1(&s, full, buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE_V3, &d), -EBADMSG);
}

/* Version-2 records (installed machines before the kernel release was
 * kept) decode with confirmed_kernel empty, every other field as written,
 * and are written back as the current version with the field in place. */
static void test_version_2_records_decode(void **unused) {
        BootState s = sample(), d, e;
        s.log_head_seq = 0;
        state_set_str(s.log_head_hash, "");
        uint8_t buf[STATE_RECORD_SIZE];
        encode_old(2, &s, NULL, buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE_V3, &d), 0);
        assert_string_equal(d.confirmed_kernel, "");
        assert_string_equal(d.culprit, "fakesensor");
        assert_string_equal(d.last_error, "none");
        assert_int_equal(d.last_action, LADDER_ACTION_RESTORE_CONTENT);
        state_set_str(s.confirmed_kernel, "");
        assert_memory_equal(&s, &d, sizeof s);

        /* Bytes where version 3 keeps the field are padding in version 2:
         * whatever they hold, a version-2 record does not read them. */
        encode_old(2, &s, NULL, buf);
        memcpy(buf + OFF_CONFIRMED_KERNEL, "planted", 8);
        fix_crc_n(buf, STATE_RECORD_SIZE_V3);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE_V3, &d), 0);
        assert_string_equal(d.confirmed_kernel, "");

        /* Confirmed on a new kernel: written back as version 4, kept. */
        state_set_str(d.confirmed_kernel, "6.1.0-59-amd64");
        state_encode(&d, NULL, buf);
        assert_int_equal(buf[4] | buf[5] << 8, STATE_FORMAT_VERSION);
        assert_int_equal(state_decode(buf, sizeof buf, &e), 0);
        assert_memory_equal(&d, &e, sizeof d);
        assert_string_equal(e.confirmed_kernel, "6.1.0-59-amd64");

        /* An unterminated release is refused like any unterminated string. */
        state_encode(&d, NULL, buf);
        memset(buf + OFF_CONFIRMED_KERNEL, 'k', 65);
        fix_crc(buf);
        assert_int_equal(state_decode(buf, sizeof buf, &e), -EBADMSG);
}

/* Version-3 records (this release's predecessor) decode, confirmed_kernel
 * included, with no log head; they carry no MAC, so they never authenticate. */
static void test_version_3_records_decode(void **unused) {
        BootState s = sample(), d;
        s.log_head_seq = 0;
        state_set_str(s.log_head_hash, "");
        uint8_t buf[STATE_RECORD_SIZE];
        encode_old(3, &s, NULL, buf);
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE_V3, &d), 0);
        assert_memory_equal(&s, &d, sizeof s);
        assert_false(state_authentic(buf, STATE_RECORD_SIZE_V3, KEY));
        /* the old size with the new version's padding is still refused */
        assert_int_equal(state_decode(buf, STATE_RECORD_SIZE, &d), -EBADMSG);
}

/* The MAC: set with a key, verified with the same key only, over every
 * byte before it; a record without one (or an old version) never passes. */
static void test_mac(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, KEY, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        assert_memory_equal(&s, &d, sizeof s);
        assert_true(state_authentic(buf, sizeof buf, KEY));
        assert_false(state_authentic(buf, sizeof buf, NULL));
        uint8_t other[STATE_KEY_SIZE];
        memcpy(other, KEY, sizeof other);
        other[0] ^= 1;
        assert_false(state_authentic(buf, sizeof buf, other));
        assert_false(state_authentic(buf, sizeof buf - 1, KEY));

        /* every byte under the MAC counts, even with a fixed CRC (a forger
         * can compute a CRC, not the MAC) */
        for (size_t i = 0; i < OFF_MAC + STATE_MAC_SIZE; i++) {
                buf[i] ^= 0x40;
                fix_crc(buf);
                assert_false(state_authentic(buf, sizeof buf, KEY));
                buf[i] ^= 0x40;
        }
        fix_crc(buf);
        assert_true(state_authentic(buf, sizeof buf, KEY));

        /* no key: a well-formed record, but not an authentic one */
        state_encode(&s, NULL, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        assert_false(state_authentic(buf, sizeof buf, KEY));
}

/* A forged generation near 2^64 would wrap on the next write: refused. */
static void test_implausible_generation_is_corrupt(void **unused) {
        BootState s = sample(), d;
        uint8_t buf[STATE_RECORD_SIZE];
        s.generation = STATE_GENERATION_MAX;
        state_encode(&s, NULL, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), 0);
        s.generation = STATE_GENERATION_MAX + 1;
        state_encode(&s, NULL, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), -EBADMSG);
        s.generation = UINT64_MAX;
        state_encode(&s, KEY, buf);
        assert_int_equal(state_decode(buf, sizeof buf, &d), -EBADMSG);
}

/* What an unauthenticated record keeps and what it loses. */
static void test_distrust(void **unused) {
        BootState s = sample();
        s.failed_boots = 50;
        s.step_failed_boots = 50;
        s.in_boot = 0;
        s.safe_mode_requested = UINT32_MAX;
        state_distrust(&s, false);
        assert_int_equal(s.failed_boots, 0);
        assert_int_equal(s.step_failed_boots, 0);
        assert_int_equal(s.ladder_step, 0);
        assert_int_equal(s.safe_mode_requested, 0);
        assert_int_equal(s.last_action, LADDER_ACTION_NONE);
        assert_int_equal(s.in_boot, 1);
        assert_string_equal(s.culprit, "");
        assert_true(s.log_head_seq == 0);
        assert_string_equal(s.log_head_hash, "");
        /* history stays */
        assert_int_equal(s.total_boots, 42);
        assert_int_equal(s.incident, 5);
        assert_int_equal(s.generation, 7);

        s = sample();
        s.failed_boots = 3;
        state_distrust(&s, true); /* the upgrade: the count stays */
        assert_int_equal(s.failed_boots, 3);
        assert_string_equal(s.culprit, "");
        assert_int_equal(s.ladder_step, 0);
}

static void test_action_names(void **unused) {
        assert_null(ladder_action_to_string(LADDER_ACTION_NONE));
        assert_null(ladder_action_to_string(_LADDER_ACTION_MAX));
        assert_null(ladder_action_to_string(_LADDER_ACTION_INVALID));
        for (LadderAction a = LADDER_ACTION_NONE + 1; a < _LADDER_ACTION_MAX; a++)
                assert_int_equal(ladder_action_from_string(ladder_action_to_string(a)), a);
        assert_int_equal(ladder_action_from_string(""), LADDER_ACTION_NONE);
        assert_int_equal(ladder_action_from_string("Restore-Content"), _LADDER_ACTION_INVALID);
        assert_int_equal(ladder_action_from_string(NULL), _LADDER_ACTION_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_layout_is_little_endian_and_versioned),
                cmocka_unit_test(test_every_single_bit_flip_is_rejected),
                cmocka_unit_test(test_wrong_size_and_garbage),
                cmocka_unit_test(test_unknown_versions_and_actions_are_refused),
                cmocka_unit_test(test_strings_are_bounded),
                cmocka_unit_test(test_garbage_after_nul_is_canonicalised),
                cmocka_unit_test(test_version_1_records_decode),
                cmocka_unit_test(test_version_2_records_decode),
                cmocka_unit_test(test_version_3_records_decode),
                cmocka_unit_test(test_mac),
                cmocka_unit_test(test_implausible_generation_is_corrupt),
                cmocka_unit_test(test_distrust),
                cmocka_unit_test(test_action_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
