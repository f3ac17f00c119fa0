/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Every path of the installed system is resolved under one root directory fd
 * (--root), with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS): absolute
 * symlinks and ".." are resolved as if the root were "/", so nothing escapes
 * it, whatever the target system's links say.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include "lib/util.h"

/* Opens DIR (or "/") as the root. */
int root_open(const char *dir, int *ret_fd) _wur_;

/* openat2() beneath root_fd; PATH may be absolute ("/etc/x" means root/etc/x). */
int root_openat(int root_fd, const char *path, int flags, mode_t mode) _wur_;

/* The user-space equivalent root_openat() falls back to where openat2() is
 * missing (kernels before 5.6, valgrind). Public for its tests. */
int root_openat_walk(int root_fd, const char *path, int flags, mode_t mode) _wur_;

/* Opens the directory PATH beneath root_fd, creating it (and parents) with
 * MODE when create is true. */
int root_open_dir(int root_fd, const char *path, bool create, mode_t mode, int *ret_fd) _wur_;

/* Splits PATH into its parent directory (opened beneath root_fd, created if
 * asked) and its last component (pointer into PATH). */
int root_open_parent(int root_fd, const char *path, bool create, int *ret_dir_fd, const char **ret_name) _wur_;

/* Same, but no component of PATH's directory may be a symlink (-ELOOP or
 * -ENOTDIR): for a file root writes where others may own the directories
 * (a symlink placed there would redirect the write, even inside the root). */
int root_open_parent_nofollow(int root_fd, const char *path, int *ret_dir_fd, const char **ret_name) _wur_;

/* Opens NAME in dir_fd for reading, only if it is a regular file: never
 * through a symlink (-ELOOP), never blocking on a FIFO someone planted
 * (-EBADF for anything but a regular file). *ret_st (optional): its stat. */
int openat_regular(int dir_fd, const char *name, struct stat *ret_st) _wur_;

/* Opens the directory PATH, relative to dir_fd ("" is dir_fd itself), never
 * through a symlink at any of its components (-ENOTDIR or -ELOOP), and only
 * with components that are names (no "." or "..": -EINVAL). */
int open_dir_nofollow_at(int dir_fd, const char *path, int *ret_fd) _wur_;

/* mkdir -p of a path relative to dir_fd (no ".." components allowed). */
int mkdir_p_at(int dir_fd, const char *path, mode_t mode) _wur_;

/* Recursively removes NAME inside dir_fd (no following of symlinks). */
int rm_rf_at(int dir_fd, const char *name) _wur_;

/* True when PATH is a relative path with no "..", "." or empty components. */
bool path_is_safe_relative(const char *path);
/* Normalized: absolute, no empty, "." or ".." components, no trailing "/",
 * no control characters, shorter than PATH_MAX. "/" is one. */
bool path_is_normalized_absolute(const char *path);
/* PATH is DIR or lies beneath it (both normalized absolute): "/etc/x" is
 * under "/etc", "/etcx" is not. */
bool path_is_under(const char *path, const char *dir);

/*
 * Directory iteration over a directory fd (any fd of a directory, O_PATH
 * included; it is neither consumed nor moved). "." and ".." are never passed.
 *
 * dir_for_each_at() calls FN for each entry in readdir order; FN may remove
 * the entry. FN returns 0 to go on, > 0 to stop (dir_for_each_at() returns
 * that value) or a negative errno to fail. A failed read is -errno.
 */
typedef int (*DirEntryFn)(int dir_fd, const char *name, void *userdata);
int dir_for_each_at(int dir_fd, DirEntryFn fn, void *userdata) _wur_;

/* The names FILTER accepts (NULL: all), sorted with strcmp(). -E2BIG when
 * more than MAX are accepted (0: no limit): a directory someone filled with
 * junk costs bounded memory. DIR_FD is read from its start and left at its
 * end (an O_PATH fd is reopened instead): not for two threads at once. */
typedef bool (*DirFilterFn)(int dir_fd, const char *name);
int dir_list_at(int dir_fd, DirFilterFn filter, size_t max, char ***ret) _wur_;
/* The same for FD itself, a directory opened for reading and not read yet:
 * no second open, no stdio DIR (the content walks list every directory of
 * a component at each confirm). FD stays open and usable for *at() calls. */
int dir_list_fd(int fd, DirFilterFn filter, size_t max, char ***ret) _wur_;

/* In the initramfs the root is mounted read-only: a step that must write
 * remounts it read-write (and only then). 0 when already writable. */
int root_ensure_writable(int root_fd) _wur_;
