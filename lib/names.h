/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the names lastgood takes from the policy, the command line, crash
 * records and its own files may be. Each kind has one validator here, and
 * every module that turns such a name into a file name, a modprobe.d line or
 * a unit link checks it with that one: the policy parser refuses what
 * quarantine, snapshots or safe mode would refuse later.
 */

#include "lib/fileio.h"
#include "lib/util.h"

/* Component names become directory names (snapshots/<name>, quarantine/<name>). */
#define NAME_COMPONENT_MAX 63
/* The kernel's MODULE_NAME_LEN - 1. */
#define NAME_MODULE_MAX 55
/* A file name lastgood creates in a directory it shares (unit links, stashed
 * content): room is left within NAME_MAX for the fixed temp-file prefix. */
#define NAME_FILE_MAX FILEIO_NAME_MAX

/* [A-Za-z0-9_.-]{1,63}, not starting with '.' (so never "." or ".."), and
 * not LASTGOOD_QUARANTINE_REGISTRY_NAME (a file beside those directories). */
bool name_is_component(const char *s);

/* [A-Za-z0-9_-]{1,55}: anything else (a newline, a space) could inject lines
 * into modprobe.d. */
bool name_is_module(const char *s);
/* The same for the N bytes at S, which need not be NUL-terminated (the text
 * of a crash record). */
bool name_is_module_n(const char *s, size_t n);
/* Module names compare with '-' and '_' alike, as the kernel does
 * (`modprobe fake-sensor` loads fake_sensor). */
bool name_module_equal(const char *a, const char *b);

typedef enum NameMatchFlags {
        NAME_MATCH_MODULE = 1 << 0,    /* '-' and '_' are one character, as in module names */
        NAME_MATCH_TRUNCATED = 1 << 1, /* S may be the first bytes of a longer name (a task's comm
                                        * cut at 15 by the kernel): true if some name that begins
                                        * with S matches */
} NameMatchFlags;
/* Shell glob PATTERN ('*', '?', '[…]' with '!'/'^' and ranges, '\' escapes:
 * fnmatch(3) without flags) against S. Linear in the worst case (no
 * backtracking blow-up on hostile patterns). */
bool name_glob_match(const char *pattern, const char *s, NameMatchFlags flags);
/* A kernel_modules entry (a name or a glob, '-' and '_' alike) against a module name. */
bool name_module_match(const char *pattern, const char *name);

/* A systemd unit name: 1 to NAME_FILE_MAX bytes of [A-Za-z0-9:_.@\-], not
 * starting with '.', ending in a unit type suffix (".service", ".socket", …).
 * It becomes a symlink name in /etc/systemd/system, so it never holds a '/'. */
bool name_is_unit(const char *s);

/* A component's content path, snapshotted, restored and moved aside by
 * quarantine: a normalized absolute path (path_is_normalized_absolute())
 * whose components are at most NAME_FILE_MAX bytes, not in /proc, /sys, /dev
 * or /run, and neither lastgood's own state (LASTGOOD_STATE_DIR or beneath
 * it) nor a directory lastgood writes into, nor an ancestor of one ("/",
 * "/etc", …): replacing those would make a recovery undo itself. */
bool name_is_content_path(const char *s);
