/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The boot state record: one small, fixed-size, CRC-protected binary record.
 * It is written at most twice per healthy boot (once by `boot`, once by
 * `confirm`), because its home may be UEFI NVRAM, whose flash wears and whose
 * variable store firmware must garbage-collect.
 *
 * Layout (little endian, STATE_RECORD_SIZE bytes): magic "LGST", u16 format
 * version, u16 record size, the fields below in order, zero padding, and a
 * CRC32 (zlib) over everything before it in the last four bytes.
 *
 * Version 2 stores last_action as a u32 (LadderAction) where version 1 had a
 * 48-byte string; version-1 records (on installed machines) still decode,
 * their string mapped to the enum. Version 3 appends confirmed_kernel;
 * version-1 and version-2 records decode with it empty. Version 4 grows the
 * record to 512 bytes and appends the event log's head (log_head_seq,
 * log_head_hash: a point the log must still contain, see eventlog.h) and,
 * before the CRC, a 32-byte HMAC-SHA256 over every byte before it. Versions
 * 1-3 (384 bytes) still decode. Every record is written back as version 4.
 *
 * Authentication. Anyone who can boot another OS can write the UEFI
 * variable or an unencrypted state partition, so the record is signed with
 * a key only the root file system holds (LASTGOOD_STATE_KEY_FILE, 32 random
 * bytes, root-owned 0600, made on the first write; the initramfs step runs
 * after the root is mounted). A record whose MAC does not verify — forged,
 * no key, or an older version that had no MAC — is *unauthenticated*:
 * state_distrust() keeps its counters (the boot is counted conservatively,
 * so an upgrade from version 3 loses no genuine count) but drops everything
 * that could by itself start a ladder step, name a culprit or request safe
 * mode. The CRC stays: it tells a torn or garbled record (corrupt) from a
 * well-formed one that is merely unauthenticated.
 *
 * Generations never wrap: a generation above STATE_GENERATION_MAX is
 * implausible (2^48 writes at two a boot is beyond any machine's life) and
 * the record is corrupt; a forged copy at 2^64-1 therefore cannot make every
 * later write look older.
 */

#include <stdint.h>

#include "lib/util.h"
#include "recovery/ladder.h"

#define STATE_RECORD_SIZE 512
#define STATE_RECORD_SIZE_V3 384 /* versions 1-3 */
#define STATE_FORMAT_VERSION 4
#define STATE_MAGIC "LGST"
#define STATE_KEY_SIZE 32
#define STATE_MAC_SIZE 32 /* HMAC-SHA256 */
#define STATE_GENERATION_MAX (UINT64_C(1) << 48)

typedef enum BootMode {
        BOOT_MODE_NORMAL,
        BOOT_MODE_RECOVERY,
        BOOT_MODE_SAFE,
        _BOOT_MODE_MAX,
} BootMode;

typedef struct BootState {
        uint64_t generation;          /* +1 on every write: the newest copy wins */
        uint64_t total_boots;         /* every `boot` */
        uint32_t failed_boots;        /* consecutive failed boots that count (see policy) */
        uint32_t step_failed_boots;   /* failed boots since the last ladder step */
        uint32_t in_boot;             /* 1: a boot started and has not been confirmed */
        uint32_t safe_mode_requested; /* pending safe-mode boots (safe-mode --next-boot) */
        uint32_t incident;            /* incident number; 0 = none yet */
        uint32_t ladder_step;         /* ladder steps done in the current incident */
        uint32_t internal_errors;     /* internal errors recorded (cumulative) */
        uint32_t boot_mode;           /* BootMode of the current boot */
        LadderAction last_action;     /* what the ladder did last in this incident */
        uint64_t last_confirmed_usec; /* CLOCK_REALTIME */
        uint64_t last_boot_usec;
        uint64_t loop_started_usec; /* first failed boot of the current run */
        uint64_t last_action_usec;
        char last_confirmed_boot_id[37];
        char boot_id[37];    /* the boot that set in_boot */
        char culprit[64];    /* component the current incident blames */
        char last_error[40]; /* short description of the last internal error */
        /* uname(2) release of the last confirmed boot (read_kernel_release()),
         * "" when unknown (written before version 3). */
        char confirmed_kernel[KERNEL_RELEASE_SIZE];
        /* The event log's head when the record was written (version 4): the
         * seq of its last line and that line's sha256 (lowercase hex); 0 and
         * "" when the log was empty or the record is older. */
        uint64_t log_head_seq;
        char log_head_hash[65];
} BootState;

const char *boot_mode_to_string(BootMode m);

/* Serialises S into BUF (exactly STATE_RECORD_SIZE bytes, version 4). With
 * KEY (STATE_KEY_SIZE bytes) the MAC is set, without it the MAC is zero (an
 * unauthenticated record). */
void state_encode(const BootState *s, const uint8_t *key, uint8_t buf[static STATE_RECORD_SIZE]);
/* Decodes a version-4 record (STATE_RECORD_SIZE bytes) or a version-3, -2 or
 * -1 one (STATE_RECORD_SIZE_V3). -EBADMSG on a bad magic, size, version,
 * CRC, an unterminated string or an out-of-range value (a generation above
 * STATE_GENERATION_MAX included). Does not check the MAC. */
int state_decode(const uint8_t *buf, size_t len, BootState *ret) _wur_;
/* True when BUF is a version-4 record whose MAC verifies with KEY (NULL:
 * false). Constant time in the MAC comparison. */
bool state_authentic(const uint8_t *buf, size_t len, const uint8_t *key);
/* What an unauthenticated record may still say: its history stays (for
 * status), but it names no culprit, has taken no ladder step in its
 * incident, requests no safe mode, and its boot is assumed unconfirmed
 * (in_boot = 1: counted conservatively). Its failed_boots count is kept only
 * with KEEP_COUNT (a version-3 record found before any key existed: the
 * upgrade), else it restarts at zero, so a forged count cannot make a step
 * due by itself. */
void state_distrust(BootState *s, bool keep_count);

/* Bounded copy into one of the fixed string fields (NULL → ""). */
void state_copy_str(char *field, size_t size, const char *value);
#define state_set_str(field, value) state_copy_str((field), sizeof(field), (value))
