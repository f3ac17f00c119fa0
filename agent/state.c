/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/state.h"

#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <zlib.h>

const char *boot_mode_to_string(BootMode m) {
        static const char *const t[_BOOT_MODE_MAX] = {
                [BOOT_MODE_NORMAL] = "normal",
                [BOOT_MODE_RECOVERY] = "recovery",
                [BOOT_MODE_SAFE] = "safe",
        };
        return m < _BOOT_MODE_MAX ? t[m] : "unknown";
}

void state_copy_str(char *field, size_t size, const char *value) {
        size_t n = value ? strnlen(value, size - 1) : 0;
        if (n)
                memcpy(field, value, n);
        memset(field + n, 0, size - n);
}

/* Explicit little-endian field I/O: the record must read back identically
 * on any build, whatever the struct's padding. */
typedef struct Cursor {
        uint8_t *w;
        const uint8_t *r;
        size_t pos;
} Cursor;

static void put_u16(Cursor *c, uint16_t v) {
        c->w[c->pos++] = (uint8_t) v;
        c->w[c->pos++] = (uint8_t) (v >> 8);
}
static void put_u32(Cursor *c, uint32_t v) {
        for (int i = 0; i < 4; i++)
                c->w[c->pos++] = (uint8_t) (v >> (8 * i));
}
static void put_u64(Cursor *c, uint64_t v) {
        for (int i = 0; i < 8; i++)
                c->w[c->pos++] = (uint8_t) (v >> (8 * i));
}
static void put_str(Cursor *c, const char *s, size_t field) {
        size_t n = strnlen(s, field - 1);
        memset(c->w + c->pos, 0, field);
        memcpy(c->w + c->pos, s, n);
        c->pos += field;
}
static uint16_t get_u16(Cursor *c) {
        uint16_t v = (uint16_t) (c->r[c->pos] | (c->r[c->pos + 1] << 8));
        c->pos += 2;
        return v;
}
static uint32_t get_u32(Cursor *c) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v |= (uint32_t) c->r[c->pos++] << (8 * i);
        return v;
}
static uint64_t get_u64(Cursor *c) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v |= (uint64_t) c->r[c->pos++] << (8 * i);
        return v;
}
static int get_str(Cursor *c, char *out, size_t field) {
        /* Refusing unterminated strings: the record is untrusted input. */
        if (!memchr(c->r + c->pos, '\0', field))
                return -EBADMSG;
        /* Canonical form: what follows the NUL is not part of the value
         * (found by fuzzing: garbage there made decode/encode differ). */
        size_t n = strnlen((const char *) c->r + c->pos, field);
        memcpy(out, c->r + c->pos, n);
        memset(out + n, 0, field - n);
        c->pos += field;
        return 0;
}

/* The field order is the format; append only, and bump STATE_FORMAT_VERSION
 * if a field's meaning or size changes. ACT is last_action: a u32 since
 * version 2, a 48-byte string in version 1. */
/* An X-macro list laid out by hand: clang-format cannot keep it stable. */
/* clang-format off */
#define STATE_FIELDS(U32, U64, STR, ACT)                               \
        U64(generation) U64(total_boots) U32(failed_boots)             \
        U32(step_failed_boots) U32(in_boot) U32(safe_mode_requested)   \
        U32(incident) U32(ladder_step) U32(internal_errors)            \
        U32(boot_mode) U64(last_confirmed_usec) U64(last_boot_usec)    \
        U64(loop_started_usec) U64(last_action_usec)                   \
        STR(last_confirmed_boot_id) STR(boot_id) ACT(last_action)      \
        STR(culprit) STR(last_error)
/* Appended by version 3: absent (read as "") from older records. */
#define STATE_FIELDS_V3(STR) STR(confirmed_kernel)
/* Appended by version 4 (absent: 0 and ""); the MAC follows at STATE_MAC_OFFSET. */
#define STATE_FIELDS_V4(U64, STR) U64(log_head_seq) STR(log_head_hash)
/* clang-format on */

/* The MAC sits right before the CRC and covers every byte before it. */
#define STATE_MAC_OFFSET (STATE_RECORD_SIZE - 4 - STATE_MAC_SIZE)

#define STATE_V1_ACTION_SIZE 48

/* A field added without growing the record would overwrite the CRC. */
#define SZ32(f) +4
#define SZ64(f) +8
#define SZSTR(f) +sizeof(((BootState *) 0)->f)
#define SZV1(f) +STATE_V1_ACTION_SIZE
_Static_assert(8 + (0 STATE_FIELDS(SZ32, SZ64, SZSTR, SZ32) STATE_FIELDS_V3(SZSTR)) <= STATE_RECORD_SIZE_V3 - 4,
               "v3 record too small");
_Static_assert(8 + (0 STATE_FIELDS(SZ32, SZ64, SZSTR, SZV1)) <= STATE_RECORD_SIZE_V3 - 4, "v1 record too small");
_Static_assert(8 + (0 STATE_FIELDS(SZ32, SZ64, SZSTR, SZ32) STATE_FIELDS_V3(SZSTR) STATE_FIELDS_V4(SZ64, SZSTR)) <=
                       STATE_MAC_OFFSET,
               "state record too small");
#undef SZ32
#undef SZ64
#undef SZSTR
#undef SZV1

static void state_mac(const uint8_t *buf, const uint8_t *key, uint8_t mac[static STATE_MAC_SIZE]) {
        struct hmac_sha256_ctx ctx;
        hmac_sha256_set_key(&ctx, STATE_KEY_SIZE, key);
        hmac_sha256_update(&ctx, STATE_MAC_OFFSET, buf);
        hmac_sha256_digest(&ctx, STATE_MAC_SIZE, mac);
}

void state_encode(const BootState *s, const uint8_t *key, uint8_t buf[static STATE_RECORD_SIZE]) {
        memset(buf, 0, STATE_RECORD_SIZE);
        Cursor c = { .w = buf };
        memcpy(buf, STATE_MAGIC, 4);
        c.pos = 4;
        put_u16(&c, STATE_FORMAT_VERSION);
        put_u16(&c, STATE_RECORD_SIZE);
#define W32(f) put_u32(&c, (uint32_t) s->f);
#define W64(f) put_u64(&c, s->f);
#define WSTR(f) put_str(&c, s->f, sizeof(s->f));
        STATE_FIELDS(W32, W64, WSTR, W32)
        STATE_FIELDS_V3(WSTR)
        STATE_FIELDS_V4(W64, WSTR)
#undef W32
#undef W64
#undef WSTR
        if (key)
                state_mac(buf, key, buf + STATE_MAC_OFFSET);
        uint32_t crc = (uint32_t) crc32(0L, buf, STATE_RECORD_SIZE - 4);
        c.pos = STATE_RECORD_SIZE - 4;
        put_u32(&c, crc);
}

static int get_action(Cursor *c, LadderAction *ret) {
        uint32_t v = get_u32(c);
        if (v >= _LADDER_ACTION_MAX)
                return -EBADMSG;
        *ret = (LadderAction) v;
        return 0;
}

/* Version 1 wrote the action's name: map it (unknown names are corrupt). */
static int get_action_v1(Cursor *c, LadderAction *ret) {
        char name[STATE_V1_ACTION_SIZE];
        if (get_str(c, name, sizeof name) < 0)
                return -EBADMSG;
        LadderAction a = ladder_action_from_string(name);
        if (a < 0)
                return -EBADMSG;
        *ret = a;
        return 0;
}

int state_decode(const uint8_t *buf, size_t len, BootState *ret) {
        if (len != STATE_RECORD_SIZE && len != STATE_RECORD_SIZE_V3)
                return -EBADMSG;
        if (memcmp(buf, STATE_MAGIC, 4) != 0)
                return -EBADMSG;
        Cursor c = { .r = buf, .pos = len - 4 };
        uint32_t crc = get_u32(&c);
        if (crc != (uint32_t) crc32(0L, buf, (uInt) len - 4))
                return -EBADMSG;
        c.pos = 4;
        uint16_t version = get_u16(&c);
        /* Each version has exactly one size: 1-3 the small one, 4 the big. */
        size_t want = version >= 4 ? STATE_RECORD_SIZE : STATE_RECORD_SIZE_V3;
        if (version < 1 || version > STATE_FORMAT_VERSION || get_u16(&c) != want || len != want)
                return -EBADMSG;

        BootState s = {};
#define R32(f) s.f = get_u32(&c);
#define R64(f) s.f = get_u64(&c);
#define RSTR(f)                                \
        if (get_str(&c, s.f, sizeof(s.f)) < 0) \
                return -EBADMSG;
#define RACT(f)                       \
        if (get_action(&c, &s.f) < 0) \
                return -EBADMSG;
#define RACT1(f)                         \
        if (get_action_v1(&c, &s.f) < 0) \
                return -EBADMSG;
        if (version == 1) {
                STATE_FIELDS(R32, R64, RSTR, RACT1)
        } else {
                STATE_FIELDS(R32, R64, RSTR, RACT)
        }
        if (version >= 3) {
                STATE_FIELDS_V3(RSTR)
        }
        if (version >= 4) {
                STATE_FIELDS_V4(R64, RSTR)
        }
#undef R32
#undef R64
#undef RSTR
#undef RACT
#undef RACT1
        if (s.boot_mode >= _BOOT_MODE_MAX)
                return -EBADMSG;
        /* Implausible: a forged generation near 2^64 would wrap. */
        if (s.generation > STATE_GENERATION_MAX)
                return -EBADMSG;
        *ret = s;
        return 0;
}

bool state_authentic(const uint8_t *buf, size_t len, const uint8_t *key) {
        if (!key || len != STATE_RECORD_SIZE || memcmp(buf, STATE_MAGIC, 4) != 0)
                return false;
        if ((buf[4] | (buf[5] << 8)) != STATE_FORMAT_VERSION)
                return false;
        uint8_t mac[STATE_MAC_SIZE];
        state_mac(buf, key, mac);
        /* nettle's memeql_sec reads every byte whatever differs first. */
        return memeql_sec(mac, buf + STATE_MAC_OFFSET, STATE_MAC_SIZE) != 0;
}

void state_distrust(BootState *s, bool keep_count) {
        if (!keep_count)
                s->failed_boots = 0;
        s->step_failed_boots = 0;
        s->ladder_step = 0;
        s->last_action = LADDER_ACTION_NONE;
        s->last_action_usec = 0;
        s->safe_mode_requested = 0;
        s->in_boot = 1;
        state_set_str(s->culprit, "");
        /* nor does it anchor the event log */
        s->log_head_seq = 0;
        state_set_str(s->log_head_hash, "");
}
