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
        bool removable;  /* the whole disk's sysfs "removable" says 1 (USB sticks, SD cards) */
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

/*
 * Which ESP may carry a request: only the one this machine booted from, so
 * that a USB stick (or a second disk) someone plugged in cannot ask for
 * safe mode. In order:
 *   - never one on a removable disk;
 *   - LOADER_PARTUUID (the boot loader's LoaderDevicePartUUID) when given:
 *     exactly that partition, case-insensitively, or none;
 *   - else BOOT_DISK (the whole disk holding the root file system): its
 *     first ESP;
 *   - neither known: none.
 * *ret_idx indexes L. -ENODEV when none qualifies.
 */
int esp_select(const EspPartition *l, size_t n, const char *loader_partuuid, const char *boot_disk,
               size_t *ret_idx) _wur_;

/* systemd-boot's (and other loaders') record of the partition they were
 * loaded from: a UTF-16LE GUID in LoaderDevicePartUUID, vendor GUID
 * ESP_LOADER_GUID (volatile, set at every boot). */
#define ESP_LOADER_GUID "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
#define ESP_LOADER_PARTUUID_NAME "LoaderDevicePartUUID"

/* The loader's partition UUID, lowercase, read through libefivar (EFIVARFS_PATH
 * in tests). -ENOENT when the loader did not set it, -EOPNOTSUPP without
 * efivarfs, -EBADMSG when it is not a GUID. */
int esp_loader_partuuid(char ret[static 37]) _wur_;

/* The whole disk ("/dev/NAME") holding the block device DEV, through the
 * sysfs tree at sys_fd (/sys): a partition's parent, a device-mapper or md
 * device's first slave, followed down (bounded). -ENODEV when DEV is not a
 * block device sysfs knows (tmpfs, overlay, NFS). */
int esp_boot_disk_at(int sys_fd, dev_t dev, char **ret) _wur_;

/* Whether the whole disk DEV is removable (sysfs "removable" is 1). */
bool esp_disk_removable_at(int sys_fd, dev_t dev);

/* Where the block device DEVNUM is mounted, from a mountinfo stream
 * (/proc/self/mountinfo format, octal escapes decoded). -ENOENT if nowhere. */
int esp_mountinfo_find(FILE *mountinfo, dev_t devnum, char **ret_path) _wur_;

typedef struct EspRequest {
        char code[ESP_CODE_MAX + 1]; /* "" when the request carries no code */
        uint32_t boots;              /* 0 when not given (the caller's default) */
        /* The ESP it was taken from, for the event: "/dev/sda1 (PARTUUID=…)"
         * or the --esp directory; set by esp_take_request() only. */
        char where[160];
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
 * when set, else from the one ESP esp_select() picks among those
 * esp_find(disks) returns (the loader's partition UUID from efivarfs, else
 * the disk holding root_fd's file system), mounting it at
 * LASTGOOD_ESP_MOUNT_DIR (vfat, nosuid,nodev,noexec) when it is not mounted
 * and unmounting it afterwards. Other ESPs are never read. Same returns as
 * esp_take_request_at(); -ENODEV when there is no such ESP (BIOS machines,
 * an unknown boot disk: not an error worth more than debug).
 */
int esp_take_request(const char *esp_dir, int root_fd, char *const *disks, EspRequest *ret) _wur_;
