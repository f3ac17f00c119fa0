/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * libarchive, loaded with dlopen() on first use through a table of function
 * pointers: the healthy boot path (boot, confirm with unchanged content)
 * never loads it and its ~15 dependencies. Only the declarations come from
 * libarchive's headers; the binary does not link it.
 *
 * libarchive's own header is also called <archive.h>. This file pulls it in
 * first with #include_next (it is reached through the -Irecovery search
 * path, or, from recovery/ itself, relative to the includer, in which case
 * the search starts over and comes back here once more — hence the guard on
 * libarchive's own include guard rather than #pragma once).
 */
#ifndef ARCHIVE_H_INCLUDED
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winclude-next-absolute-path"
#endif
#include_next <archive.h>
#ifdef __clang__
#pragma clang diagnostic pop
#endif
#endif

#ifndef LASTGOOD_ARCHIVE_H
#define LASTGOOD_ARCHIVE_H

#include <archive_entry.h>

#include "lib/dlib.h"
#include "recovery/manifest.h"
#include "lib/util.h"

#define ARCHIVE_LIB_SONAME "libarchive.so.13"

/* X(function): every libarchive function lastgood calls. */
#define ARCHIVE_LIB_SYMBOLS(X)                     \
        X(archive_error_string)                    \
        X(archive_errno)                           \
        X(archive_libzstd_version)                 \
        X(archive_zlib_version)                    \
        X(archive_read_new)                        \
        X(archive_read_support_format_tar)         \
        X(archive_read_support_filter_gzip)        \
        X(archive_read_support_filter_zstd)        \
        X(archive_read_open_fd)                    \
        X(archive_read_open_memory)                \
        X(archive_read_next_header)                \
        X(archive_read_data_block)                 \
        X(archive_read_free)                       \
        X(archive_write_new)                       \
        X(archive_write_set_format_pax_restricted) \
        X(archive_write_add_filter_zstd)           \
        X(archive_write_add_filter_gzip)           \
        X(archive_write_set_bytes_in_last_block)   \
        X(archive_write_open_fd)                   \
        X(archive_write_header)                    \
        X(archive_write_data)                      \
        X(archive_write_data_block)                \
        X(archive_write_finish_entry)              \
        X(archive_write_close)                     \
        X(archive_write_free)                      \
        X(archive_write_disk_new)                  \
        X(archive_write_disk_set_options)          \
        X(archive_entry_new)                       \
        X(archive_entry_free)                      \
        X(archive_entry_clear)                     \
        X(archive_entry_pathname)                  \
        X(archive_entry_set_pathname)              \
        X(archive_entry_filetype)                  \
        X(archive_entry_set_filetype)              \
        X(archive_entry_perm)                      \
        X(archive_entry_set_perm)                  \
        X(archive_entry_uid)                       \
        X(archive_entry_gid)                       \
        X(archive_entry_set_uid)                   \
        X(archive_entry_set_gid)                   \
        X(archive_entry_size)                      \
        X(archive_entry_size_is_set)               \
        X(archive_entry_set_size)                  \
        X(archive_entry_symlink)                   \
        X(archive_entry_set_symlink)               \
        X(archive_entry_hardlink)                  \
        X(archive_entry_mtime)                     \
        X(archive_entry_mtime_nsec)                \
        X(archive_entry_set_mtime)                 \
        X(archive_entry_sparse_count)              \
        X(archive_entry_xattr_add_entry)           \
        X(archive_entry_xattr_reset)               \
        X(archive_entry_xattr_next)

typedef struct ArchiveLib {
        ARCHIVE_LIB_SYMBOLS(DLIB_FIELD)
        bool have_zstd;
        bool have_gzip;
} ArchiveLib;

/* Loads libarchive once. -ENOPKG when it or a symbol is missing. */
int archive_lib_load(const ArchiveLib **ret) _wur_;

/* A reader for tar only (the RAR/ISO/7z readers are where most libarchive
 * CVEs were), with the zstd and gzip filters when built in (never an
 * external program) and plain tar. */
int archive_reader_new(const ArchiveLib *al, struct archive **ret) _wur_;
/* A pax (restricted) writer on FD, zstd-compressed, or gzip when zstd is not
 * available. *ret_compression: "zstd" or "gzip". */
int archive_writer_new(const ArchiveLib *al, int fd, struct archive **ret, const char **ret_compression) _wur_;

typedef void (*ArchiveProgressFn)(uint64_t entries, uint64_t bytes, void *userdata);

/*
 * Reads a tar stream and validates every entry before anything is written:
 * a safe relative path inside one of ROOTS, a regular file, directory or
 * symlink only (no hard links, devices, FIFOs, sockets, sparse files), a
 * symlink target inside its root, entry count and expanded size within the
 * caps, and — with EXPECT (restore, verify) — type, mode, owner, size,
 * target and sha256 equal to the manifest, setuid/setgid only as recorded,
 * extended attributes exactly as recorded (none under a version 1
 * manifest), and exactly the manifest's entry set. Without EXPECT (import),
 * setuid, setgid and file capabilities are refused and FOUND receives the
 * manifest of what was read (owner set to root). Every entry's xattrs must
 * be of the namespaces lastgood keeps (manifest.h), each name once.
 *
 * With STAGE_FDS (one directory per root), each accepted entry is extracted
 * below the staging directory of its root, under the root's last component
 * (e.g. "etc/sensor/x" -> <stage>/sensor/x), with libarchive's secure
 * extraction flags, owner and xattrs, by switching the working directory (restored after).
 * With REPACK, each accepted entry is copied to that writer.
 *
 * Entries EXCLUDE (a component's exclude entries, manifest_path_excluded())
 * excludes are checked like any other, but neither extracted, repacked nor
 * added to FOUND: an import drops them, and a restore from a snapshot taken
 * before the exclude was set leaves the live state in place.
 */
typedef struct ArchiveScan {
        char *const *roots;
        char *const *exclude;
        const Manifest *expect;
        uint64_t max_entries;
        uint64_t max_expanded_bytes;
        const int *stage_fds;
        struct archive *repack;
        ArchiveProgressFn progress;
        void *progress_userdata;

        /* Results: FOUND when EXPECT is NULL; REASON (naming the entry) on
         * -EBADMSG, and also -E2BIG/-EFBIG for the caps. Free with
         * archive_scan_done(). */
        Manifest *found;
        char *reason;
        uint64_t n_entries;
        uint64_t expanded_bytes;
} ArchiveScan;

/* 0 if valid; -EBADMSG (invalid or hostile), -E2BIG (too many entries),
 * -EFBIG (too large) with s->reason; other -errno for I/O failures. */
int archive_scan_fd(const ArchiveLib *al, int fd, ArchiveScan *s) _wur_;
int archive_scan_memory(const ArchiveLib *al, const void *buf, size_t len, ArchiveScan *s) _wur_;
void archive_scan_done(ArchiveScan *s);

#endif
