/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Durable file and tree steps: the one home of every write, rename, link,
 * unlink, mkdir, copy and move that must survive a power cut. Every write
 * goes through write_atomic_at_full(): temp file in the same directory,
 * fsync, renameat, fsync the directory. A reader sees the old bytes or the
 * new bytes, never a mix. Each step passes a fault_point() (lib/fault.h)
 * right before it changes anything.
 *
 * Fixed names. A step a power cut interrupted must be recognisable so that
 * the next run can clean up after it: a temp ("FILEIO_TMP_PREFIX NAME") is a
 * half-written file or a half-copied tree, a doomed tree
 * ("FILEIO_DOOMED_PREFIX NAME") is one whose removal had begun. Both start
 * with ".#" — they may still end in a unit suffix or ".conf"
 * (".#lastgood-tmp.sensor.service") — and systemd and kmod skip names that
 * start with a dot, so neither reads a leftover. A fixed name is only safe for a caller that holds
 * a lock on the directory: two writers would share the temp.
 */

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "lib/util.h"

#define FILEIO_TMP_PREFIX ".#lastgood-tmp."
#define FILEIO_DOOMED_PREFIX ".#lastgood-rm."
/* The longest NAME that still fits with a fixed prefix. */
#define FILEIO_NAME_MAX (255 - (sizeof(FILEIO_TMP_PREFIX) - 1))

typedef enum WriteAtomicFlags {
        /* The temp is FILEIO_TMP_PREFIX NAME, replacing a leftover from a
         * power cut, instead of a random name (safe against concurrent
         * writers, but a leftover stays behind). The caller holds a lock. */
        WRITE_ATOMIC_FIXED_TEMP = 1 << 0,
        WRITE_ATOMIC_OWNER = 1 << 1, /* set uid/gid (else the creator's) */
        WRITE_ATOMIC_MTIME = 1 << 2, /* set mtime (else now) */
        /* Still atomic (a reader sees the old or the new bytes), but not
         * durable: no fsync of the file or the directory. For files other
         * programs read and lastgood rewrites anyway (the metrics textfile),
         * never for state: after a power cut the name may hold the old
         * bytes or an empty file. */
        WRITE_ATOMIC_NO_SYNC = 1 << 3,
} WriteAtomicFlags;

typedef struct WriteAtomicOptions {
        WriteAtomicFlags flags;
        mode_t mode;
        uid_t uid; /* with WRITE_ATOMIC_OWNER */
        gid_t gid;
        struct timespec mtime; /* with WRITE_ATOMIC_MTIME */
} WriteAtomicOptions;

/* Atomically replaces NAME (not following a symlink at NAME) with a regular
 * file holding BUF: owner, mode and mtime are set on the temp before it
 * takes the name. Fault points "write-temp" and "rename". */
int write_atomic_at_full(int dir_fd, const char *name, const void *buf, size_t len,
                         const WriteAtomicOptions *o) _wur_;
/* Same, random temp name, MODE only. */
int write_atomic_at(int dir_fd, const char *name, const void *buf, size_t len, mode_t mode) _wur_;
/* Same, for PATH beneath root_fd, creating the parent directories. */
int write_atomic_root(int root_fd, const char *path, const void *buf, size_t len, mode_t mode) _wur_;

/* Atomically replaces NAME (a file or a symlink, not a directory) with a
 * symlink to TARGET (fixed temp: the caller holds a lock). Fault point
 * "symlink". */
int symlink_atomic_at(int dir_fd, const char *name, const char *target) _wur_;

/* Appends LEN bytes to NAME and fsyncs it (for the append-only event log). */
int append_durable_at(int dir_fd, const char *name, const void *buf, size_t len, mode_t mode) _wur_;

/* Reads all of NAME (no symlink following) into a NUL-terminated buffer;
 * -EFBIG when it is larger than max. */
int read_full_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len) _wur_;
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len) _wur_;
int read_full_root(int root_fd, const char *path, size_t max, char **ret, size_t *ret_len) _wur_;

/* The target of the symlink NAME, whatever its length (up to 64 KiB). */
int readlink_malloc_at(int dir_fd, const char *name, char **ret) _wur_;
/* True when NAME is a symlink to exactly TARGET (e.g. a unit masked with
 * "/dev/null"); false when it is anything else, absent or unreadable. */
bool symlink_points_to_at(int dir_fd, const char *name, const char *target);

/* 1 when NAME exists (not following a symlink; *ret_st filled if non-NULL),
 * 0 when it does not, or -errno. */
int exists_at(int dir_fd, const char *name, struct stat *ret_st) _wur_;

/* fsync a directory by fd (durability of renames/unlinks in it). */
int fsync_dir(int dir_fd) _wur_;

/* Durable rename inside/between directories, fsyncing both. Fault point
 * "rename". */
int rename_durable(int old_dir, const char *old_name, int new_dir, const char *new_name) _wur_;

/* Removes NAME (not a directory) durably; 0 when it was already absent.
 * Fault point "unlink". */
int unlink_durable_at(int dir_fd, const char *name) _wur_;

/* Opens the directory PATH beneath root_fd, creating what is missing (MODE
 * for PATH itself, 0755 for its parents) and making each new directory
 * entry durable (fsync of its parent). Fault point "mkdir" per directory
 * made. */
int mkdir_durable_root(int root_fd, const char *path, mode_t mode, int *ret_fd) _wur_;
/* Opens the directory NAME in dir_fd, never through a symlink, creating it
 * with MODE when missing and making the new entry durable (fsync of dir_fd).
 * Fault point "mkdir" when it makes one. */
int mkdir_durable_at(int dir_fd, const char *name, mode_t mode, int *ret_fd) _wur_;
/* The parent of the absolute PATH beneath root_fd, made as
 * mkdir_durable_root() does; *ret_name points into PATH. */
int root_open_parent_durable(int root_fd, const char *path, int *ret_dir_fd, const char **ret_name) _wur_;

/* Copies the tree SNAME in sdir to DNAME in ddir (which must not exist):
 * regular files, directories and symlinks, keeping mode, owner and times,
 * fsyncing every file and directory. Hard links are not preserved, nor are
 * extended attributes; device nodes, FIFOs and sockets are refused with
 * -EOPNOTSUPP (what was copied so far stays: the caller removes it). */
int copy_tree_at(int sdir, const char *sname, int ddir, const char *dname) _wur_;

/* Removes the tree NAME durably: first renamed to its doomed name, so that a
 * tree that is only half removed never carries its real name. Fault points
 * "rename" and "remove-tree". */
int remove_tree_durable(int dir_fd, const char *name) _wur_;

/*
 * Moves the tree FROM to TO, idempotently and in either direction, so that
 * the same call finishes an interrupted move and also, with the arguments
 * swapped, undoes it. renameat() when on the same filesystem; on EXDEV a
 * copy (copy_tree_at()) to TO's temp, renamed into place when complete,
 * and only then is FROM removed (remove_tree_durable()). The states it can
 * find:
 *   temp or doomed leftovers    a copy or a removal was cut short: removed;
 *   TO and FROM both exist      the copy into TO completed: FROM is removed;
 *   only TO                     done;
 *   only FROM                   moved;
 *   neither                     nothing to move.
 * Callers make sure TO does not exist before they record their intent, and
 * hold a lock on both directories (fixed names). *ret_copied (if non-NULL)
 * is set to true when a copy was made. Fault point "copy-tree" before a
 * copy, plus those of the steps above.
 */
int move_tree_durable(int from_dir, const char *from, int to_dir, const char *to, bool *ret_copied) _wur_;
/* The name a temp or doomed leftover (FILEIO_TMP_PREFIX or
 * FILEIO_DOOMED_PREFIX NAME) stands for, pointing into LEFTOVER; NULL when
 * it is none. For callers that move a directory's entries one by one: a
 * leftover is finished by moving the name it stands for, never moved
 * itself. */
const char *fileio_leftover_of(const char *leftover);
