/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Archiving the kernel's crash records and clearing them from pstore: the
 * writing half of what pstore.c reads.
 */
#include "recovery/crash-archive.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/rootfs.h"
#include "recovery/pstore.h"

/* "<UTC stamp>-<record name>": what pstore_archive_and_clear() writes. */
static bool archive_name_ours(int dir_fd, const char *name) {
        if (strlen(name) <= UTC_STAMP_LEN + 1 || name[UTC_STAMP_LEN] != '-' || name[8] != 'T' ||
            name[UTC_STAMP_LEN - 1] != 'Z')
                return false;
        for (size_t i = 0; i < UTC_STAMP_LEN - 1; i++)
                if (i != 8 && !(name[i] >= '0' && name[i] <= '9'))
                        return false;
        struct stat st;
        return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode);
}

/* The names pstore makes ("dmesg-efi-179560510201001", "dmesg-ramoops-0"):
 * anything else is not ours to copy or delete. */
static bool record_name_safe(const char *name) {
        size_t n = strlen(name);
        return n >= 1 && n <= 200 &&
               strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

/* Keeps the newest PSTORE_ARCHIVE_KEEP archived records (names sort by time). */
static int archive_prune(int afd) {
        _cleanup_strv_free_ char **names = NULL;
        int r = dir_list_at(afd, archive_name_ours, 0, &names);
        if (r < 0)
                return r;
        size_t n = strv_length(names);
        if (n <= PSTORE_ARCHIVE_KEEP)
                return 0;
        for (size_t i = 0; i < n - PSTORE_ARCHIVE_KEEP; i++) {
                r = fault_point("crash-prune");
                if (r < 0)
                        return r;
                if (unlinkat(afd, names[i], 0) < 0 && errno != ENOENT)
                        return -errno;
        }
        return fsync_dir(afd);
}

int pstore_archive_and_clear(const char *dir, int root_fd, const char *archive_dir, char **ret_archived_name) {
        return pstore_archive_and_clear_as(dir, root_fd, archive_dir, CRASH_RECORD_COUNTED, ret_archived_name);
}

int pstore_archive_and_clear_as(const char *dir, int root_fd, const char *archive_dir, CrashRecordFate fate,
                                char **ret_archived_name) {
        static const char *const suffix[_CRASH_RECORD_FATE_MAX] = {
                [CRASH_RECORD_COUNTED] = "",
                [CRASH_RECORD_FROM_CONFIRMED_BOOT] = ".from-confirmed-boot",
        };
        if ((unsigned) fate >= _CRASH_RECORD_FATE_MAX)
                return -EINVAL;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                if (errno != ENOENT)
                        return -errno;
                if (ret_archived_name)
                        *ret_archived_name = NULL;
                return 0;
        }
        PstoreFile *c = NULL;
        size_t n = 0, skipped = 0;
        int r = pstore_list_files(dfd, &c, &n, &skipped);
        if (r < 0)
                return r;
        if (n == 0) {
                pstore_files_free(c, n);
                if (ret_archived_name)
                        *ret_archived_name = NULL;
                return 0;
        }

        _cleanup_close_ int afd = -1;
        r = root_open_dir(root_fd, archive_dir, true, 0700, &afd);
        if (r < 0) {
                pstore_files_free(c, n);
                return r;
        }

        _cleanup_free_ char *newest = NULL;
        int archived = 0, first_error = 0;
        for (size_t i = 0; i < n; i++) {
                const char *name = c[i].name;
                if (!record_name_safe(name))
                        continue; /* not a name pstore makes: leave it alone */
                _cleanup_free_ char *data = NULL;
                size_t len;
                bool truncated;
                uint64_t mtime;
                r = pstore_read_file(dfd, name, PSTORE_RECORD_MAX, &data, &len, &truncated, &mtime);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        if (first_error == 0)
                                first_error = r;
                        continue;
                }
                /* The dump's time names the copy; an mtime beyond any date
                 * formats as the epoch. */
                uint64_t t = c[i].time_sec ?: now_realtime_usec() / USEC_PER_SEC;
                char stamp[UTC_STAMP_LEN + 1], aname[256];
                format_utc_stamp(stamp, t <= UINT64_MAX / USEC_PER_SEC ? t * USEC_PER_SEC : UINT64_MAX);
                r = xsnprintf(aname, sizeof aname, "%s-%s%s", stamp, name, suffix[fate]);
                if (r >= 0)
                        /* A rerun after a power cut rewrites the same name. */
                        r = write_atomic_at(afd, aname, data, len, 0600);
                if (r >= 0)
                        r = fault_point("pstore-clear");
                if (r >= 0 && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                        r = -errno;
                if (r < 0) {
                        if (first_error == 0)
                                first_error = r;
                        continue;
                }
                archived++;
                if (!newest) {
                        newest = strdup(aname);
                        if (!newest && first_error == 0)
                                first_error = -ENOMEM;
                }
        }
        pstore_files_free(c, n);

        r = archive_prune(afd);
        if (r < 0 && first_error == 0)
                first_error = r;
        if (first_error < 0)
                return first_error;
        if (ret_archived_name)
                *ret_archived_name = TAKE_PTR(newest);
        return archived;
}
