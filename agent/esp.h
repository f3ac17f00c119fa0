/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The EFI system partition and the safe-mode request a user can leave on it
 * from another machine when this one will not boot: EFI/lastgood/safemode.
 *
 * The ESP is found with libblkid by its GPT partition type (or MBR type 0xEF)
 * on whole disks, used where it is already mounted (/proc/self/mountinfo), or
 * mounted read-write at LASTGOOD_ESP_MOUNT_DIR for the time it takes to consume the
 * request. ESP paths are host paths: the ESP is not beneath --root.
 *
 * Request file (at most ESP_REQUEST_MAX bytes; a UTF-8 BOM, CR/LF and any
 * whitespace are tolerated, since it may be written on any OS):
 *   empty                          safe mode for one boot, no code
 *   12345678                       with this helpdesk code
 *   12345678 2                     … for 2 boots
 *   code=12345678 boots=2          the same, by name (either may be omitted)
 */

#include <stdio.h>
#include <sys/types.h>

#include "lib/util.h"

#define ESP_TYPE_GUID "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define ESP_MBR_TYPE 0xef
#define ESP_REQUEST_PATH "EFI/lastgood/safemode" /* matched case-insensitively */
#define ESP_REQUEST_MAX 256
#define ESP_CODE_MAX 10   /* digits; the helpdesk module checks the exact length */
#define ESP_BOOTS_MAX 100 /* what the file may say; agent/safe-request.c cuts it to its bound */

typedef struct EspPartition {
        char *disk; /* the whole disk (or image file) that was probed */
        char *node; /* the partition's device node, NULL when none (image files) */
        unsigned partno;
        uint64_t offset; /* bytes from the start of disk */
        uint64_t size;   /* bytes */
        char *fstype;    /* "vfat" when the file system was recognised, else NULL */
        char *uuid;      /* PARTUUID (GPT) or NULL */
} EspPartition;

void esp_partition_done(EspPartition *p);
void esp_partitions_free(EspPartition *l, size_t n);

/*
 * Probes each path of DISKS (whole disks or disk image files; NULL means every
 * disk in /sys/block but ram and zram) and returns every ESP found, in order,
 * as a malloc()ed array. Paths that cannot be opened or carry no partition
 * table are skipped. -ENODEV when no ESP is found.
 */
int esp_find(char *const *disks, EspPartition **ret, size_t *ret_n) _wur_;

/* Where the block device DEVNUM is mounted, from a mountinfo stream
 * (/proc/self/mountinfo format, octal escapes decoded). -ENOENT if nowhere. */
int esp_mountinfo_find(FILE *mountinfo, dev_t devnum, char **ret_path) _wur_;

typedef struct EspRequest {
        char code[ESP_CODE_MAX + 1]; /* "" when the request carries no code */
        uint32_t boots;              /* 0 when not given (the caller's default) */
} EspRequest;

/* Parses the request file contents. -EBADMSG on anything else (unknown or
 * repeated words, a code that is not 6..ESP_CODE_MAX digits, boots outside
 * 1..ESP_BOOTS_MAX, NUL bytes). */
int esp_parse_request(const char *buf, size_t len, EspRequest *ret) _wur_;

/*
 * Reads and deletes EFI/lastgood/safemode under the mounted ESP directory
 * esp_fd, each component matched case-insensitively (vfat is, a test
 * directory is not), never following symlinks. The file is deleted durably
 * (fault point "esp-request-delete") before returning, even when its
 * contents are refused, so a bad request cannot repeat at every boot.
 *
 * Returns 1 and *ret when a request was taken, 0 when there is none,
 * -EFBIG (too large) or -EBADMSG (unparsable) for a refused request that was
 * nevertheless removed, other negative errno when it could not be read or
 * removed (then nothing is returned: a request that stays would be honoured
 * again at every boot).
 */
int esp_take_request_at(int esp_fd, EspRequest *ret) _wur_;

/*
 * What `boot` calls: takes the request from esp_dir (a mounted ESP, --esp)
 * when set, else from each ESP esp_find(disks) returns, mounting it at
 * LASTGOOD_ESP_MOUNT_DIR (vfat, nosuid,nodev,noexec) when it is not mounted and
 * unmounting it afterwards. The first request found wins (it is removed
 * from that ESP only). Same returns as esp_take_request_at(); -ENODEV when
 * there is no ESP (BIOS machines: not an error worth more than debug).
 */
int esp_take_request(const char *esp_dir, char *const *disks, EspRequest *ret) _wur_;
