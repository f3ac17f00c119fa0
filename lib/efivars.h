/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Reading a UEFI variable through libefivar without touching it where there
 * is none: efi_set_variable() segfaults without efivarfs and every read
 * sleeps ~10 ms, so the variable's file is looked for first in the
 * directory libefivar uses (EFIVARFS_PATH, a fake one in tests, read by the
 * library once when it loads).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

/* EFIVARFS_PATH when set, else /sys/firmware/efi/efivars/. */
const char *efivars_dir(void);

/* True when the file NAME-GUID exists in efivars_dir() (or when that cannot
 * be told: then the library is asked). */
bool efivars_present(const char *guid, const char *name);

/* The data of NAME in vendor GUID (lowercase text form), at most MAX bytes.
 * -ENOENT when it is not set, -EOPNOTSUPP without efivarfs, -EFBIG when
 * larger than MAX, -EINVAL for a malformed GUID. */
int efivars_read(const char *guid, const char *name, size_t max, uint8_t **ret, size_t *ret_size) _wur_;

/* Whether UEFI variables can be used here: efivarfs exists and libefivar
 * (loaded on first use) says so. */
bool efivars_supported(void);

/* Sets NAME in vendor GUID to DATA (non-volatile, boot and runtime access;
 * the efivarfs file mode 0600). -EOPNOTSUPP without efivarfs. */
int efivars_write(const char *guid, const char *name, const void *data, size_t size) _wur_;
