/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Durable file I/O. Every write that must survive a power cut goes through
 * write_atomic_at(): temp file in the same directory, fsync, renameat, fsync
 * the directory. A reader sees the old bytes or the new bytes, never a mix.
 */

#include <sys/types.h>

#include "lib/util.h"

int write_atomic_at(int dir_fd, const char *name, const void *buf, size_t len, mode_t mode) _wur_;
/* Same, for PATH beneath root_fd, creating the parent directories. */
int write_atomic_root(int root_fd, const char *path, const void *buf, size_t len, mode_t mode) _wur_;

/* Appends LEN bytes to NAME and fsyncs it (for the append-only event log). */
int append_durable_at(int dir_fd, const char *name, const void *buf, size_t len, mode_t mode) _wur_;

/* Reads all of NAME (no symlink following) into a NUL-terminated buffer;
 * -EFBIG when it is larger than max. */
int read_full_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len) _wur_;
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len) _wur_;
int read_full_root(int root_fd, const char *path, size_t max, char **ret, size_t *ret_len) _wur_;

/* fsync a directory by fd (durability of renames/unlinks in it). */
int fsync_dir(int dir_fd) _wur_;

/* Durable rename inside/between directories, fsyncing both. */
int rename_durable(int old_dir, const char *old_name, int new_dir, const char *new_name) _wur_;
