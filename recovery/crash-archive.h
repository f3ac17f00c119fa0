/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The crash archive: the kernel's crash records (pstore.h) copied to
 * lastgood's state before pstore is cleared, so that they survive and the
 * NVRAM does not fill up.
 */

#include "lib/util.h"

#define PSTORE_ARCHIVE_KEEP 50 /* archived records kept */

/*
 * Copies each dmesg-* record of DIR durably to ARCHIVE_DIR (beneath root_fd,
 * created 0700; normally LASTGOOD_CRASH_DIR) as "<YYYYmmddTHHMMSSZ>-<name>"
 * (the dump's time), then removes it from pstore: efi-pstore records are
 * UEFI variables and fill the NVRAM if left there; unlinking the pstore file
 * deletes the variable. Copy first, delete after, so a power cut loses
 * nothing (a rerun rewrites the same archive name). Keeps the newest
 * PSTORE_ARCHIVE_KEEP archived records. *ret_archived_name (optional) is the
 * archive name of the newest record, NULL when none. Returns the number of
 * records archived, or a negative errno (the first failure; the other
 * records are still handled).
 */
int pstore_archive_and_clear(const char *dir, int root_fd, const char *archive_dir, char **ret_archived_name) _wur_;

/* Why a record is archived, written into its archive name so that whoever
 * reads the archive later (an admin, a support bundle) knows whether it
 * counted. */
typedef enum CrashRecordFate {
        CRASH_RECORD_COUNTED,             /* "<stamp>-<name>": evidence of a failed boot */
        CRASH_RECORD_FROM_CONFIRMED_BOOT, /* "<stamp>-<name>.from-confirmed-boot": a non-fatal
                                           * oops (panic_on_oops=0) of a boot later confirmed;
                                           * never evidence against a later boot */
        _CRASH_RECORD_FATE_MAX,
} CrashRecordFate;

/* pstore_archive_and_clear() with the archive name telling FATE. */
int pstore_archive_and_clear_as(const char *dir, int root_fd, const char *archive_dir, CrashRecordFate fate,
                                char **ret_archived_name) _wur_;
