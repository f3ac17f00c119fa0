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
 * version-1 and version-2 records decode with it empty. Every record is
 * written back as the current version.
 */

#include <stdint.h>

#include "lib/util.h"
#include "recovery/ladder.h"

#define STATE_RECORD_SIZE 384
#define STATE_FORMAT_VERSION 3
#define STATE_MAGIC "LGST"

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
} BootState;

const char *boot_mode_to_string(BootMode m);

/* Serialises S into BUF (exactly STATE_RECORD_SIZE bytes). */
void state_encode(const BootState *s, uint8_t buf[static STATE_RECORD_SIZE]);
/* Decodes a version-3, -2 or -1 record. -EBADMSG on a bad magic, size,
 * version, CRC, an unterminated string or an out-of-range value. */
int state_decode(const uint8_t *buf, size_t len, BootState *ret) _wur_;

/* Bounded copy into one of the fixed string fields (NULL → ""). */
void state_copy_str(char *field, size_t size, const char *value);
#define state_set_str(field, value) state_copy_str((field), sizeof(field), (value))
