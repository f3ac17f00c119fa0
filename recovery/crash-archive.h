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
