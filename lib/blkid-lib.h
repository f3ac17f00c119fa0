/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libblkid, loaded on first use (lib/dlib.h): only a policy with a
 * `state_device`, and the search for the ESP a safe-mode request may sit
 * on, look up block devices; a healthy boot with the file or efivar backend
 * never maps it.
 */

#include <blkid.h>

#include "lib/dlib.h"

#define BLKID_LIB_SONAME "libblkid.so.1"

#define BLKID_LIB_SYMBOLS(X)                 \
        X(blkid_evaluate_spec)               \
        X(blkid_get_tag_value)               \
        X(blkid_put_cache)                   \
        X(blkid_new_probe)                   \
        X(blkid_new_probe_from_filename)     \
        X(blkid_free_probe)                  \
        X(blkid_probe_set_device)            \
        X(blkid_probe_enable_partitions)     \
        X(blkid_probe_enable_superblocks)    \
        X(blkid_probe_set_superblocks_flags) \
        X(blkid_probe_set_partitions_flags)  \
        X(blkid_do_safeprobe)                \
        X(blkid_probe_lookup_value)          \
        X(blkid_probe_get_partitions)        \
        X(blkid_partlist_numof_partitions)   \
        X(blkid_partlist_get_partition)      \
        X(blkid_partition_get_type_string)   \
        X(blkid_partition_get_table)         \
        X(blkid_parttable_get_type)          \
        X(blkid_partition_get_type)          \
        X(blkid_partition_get_start)         \
        X(blkid_partition_get_size)          \
        X(blkid_partition_get_partno)        \
        X(blkid_partition_get_uuid)

typedef struct BlkidLib {
        BLKID_LIB_SYMBOLS(DLIB_FIELD)
} BlkidLib;

/* libblkid's functions, loaded once; NULL when it cannot be loaded (logged
 * once, at warning level: a device cannot be found without it). */
const BlkidLib *blkid_lib(void);
