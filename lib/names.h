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
        NAME_MATCH_MODULE = 1 << 0,      /* '-' and '_' are one character, as in module names */
        NAME_MATCH_TRUNCATED = 1 << 1,   /* S may be the first bytes of a longer name (a task's comm
                                        * cut at 15 by the kernel): true if some name that begins
                                        * with S matches */
        NAME_MATCH_PATHNAME = 1 << 2,    /* '/' in S only matches a '/' in PATTERN (FNM_PATHNAME): '*',
                                          * '?' and brackets stay within one path component */
        NAME_MATCH_LEADING_DIR = 1 << 3, /* also true when PATTERN matches a leading part of S that ends
                                          * before a '/' (FNM_LEADING_DIR): S lies below a match */
        NAME_MATCH_ANCESTOR = 1 << 4,    /* also true when S is a leading directory of some path that
                                          * matches (S ends where PATTERN still has a '/' to match):
                                          * something below S may match */
} NameMatchFlags;
/* Shell glob PATTERN ('*', '?', '[…]' with '!'/'^' and ranges, '\' escapes:
 * fnmatch(3) without flags) against S. Linear in the worst case (no
 * backtracking blow-up on hostile patterns). */
bool name_glob_match(const char *pattern, const char *s, NameMatchFlags flags);
/* A kernel_modules entry (a name or a glob, '-' and '_' alike) against a module name. */
bool name_module_match(const char *pattern, const char *name);

/* Globs in the policy (kernel_modules, processes, bpf_programs): at most
 * this many bytes, whatever they expand to. */
#define NAME_PATTERN_MAX 127
/* The kernel's TASK_COMM_LEN - 1: a task's comm is cut to this many bytes. */
#define NAME_COMM_MAX 15

/* S holds a glob character ('*', '?' or '['): it is a pattern, not a name. */
bool name_has_glob(const char *s);
/* A kernel_modules entry: a module name (name_is_module()), or a glob over
 * the same characters ('*', '?', '[…]' with '!'/'^' and ranges of
 * [A-Za-z0-9_-]; no '\': nothing in a module name needs escaping) of at
 * most NAME_PATTERN_MAX bytes. A '[' without its ']' is refused (fnmatch
 * would take it literally, and no module name holds one). */
bool name_is_module_pattern(const char *s);
/* Folds '-' to '_' outside brackets, as lsmod spells module names (inside,
 * '-' may be a range: "[a-z]"). The matching folds anyway; this is for
 * display and for the names written to modprobe.d. */
void name_module_pattern_normalize(char *s);
/* A processes entry, matched against a crashing task's comm: printable ASCII
 * (a comm is the task's own choice and may hold spaces or '/', as in
 * "kworker/0:1"), glob characters and '\' escapes, not starting or ending
 * with a space, at most NAME_PATTERN_MAX bytes, with well-formed brackets.
 * The kernel cuts a comm at NAME_COMM_MAX bytes, so a pattern matches a cut
 * comm on its first NAME_COMM_MAX characters; to make that visible a
 * pattern must need at most NAME_COMM_MAX characters ('?', a bracket and an
 * escaped character count one, '*' none), or end in '*': "falcon-sensor-bpf"
 * is refused (it would match every "falcon-sensor-b…"), "falcon-sensor-b*"
 * says the same thing truthfully. */
bool name_is_process_pattern(const char *s);
/* A bpf_programs entry, matched against <name> of bpf_prog_<tag>_<name>: the
 * kernel's program names ([A-Za-z0-9_.], BPF_OBJ_NAME_LEN) or, with BTF,
 * the program's C function name; globs as for modules; at most
 * NAME_PATTERN_MAX bytes. */
bool name_is_bpf_pattern(const char *s);
/* A panic_messages entry, matched against the message of the fatal
 * block's "Kernel panic - not syncing: MESSAGE" line (e.g. "audit: backlog
 * limit exceeded", which the audit subsystem panics with under `-f 2`):
 * printable ASCII, globs and '\' escapes as for processes, not starting or
 * ending with a space, at most NAME_PATTERN_MAX bytes. */
bool name_is_panic_pattern(const char *s);

/* A systemd unit name: 1 to NAME_FILE_MAX bytes of [A-Za-z0-9:_.@\-], not
 * starting with '.', ending in a unit type suffix (".service", ".socket", …).
 * It becomes a symlink name in /etc/systemd/system, so it never holds a '/'. */
bool name_is_unit(const char *s);
/* A units entry: a unit name (name_is_unit()), or a glob over the same
 * characters but '\' ('*', '?', '[…]'; at most NAME_PATTERN_MAX bytes; not
 * starting with '.') whose unit type suffix is literal: "falcon-sensor*.service"
 * is one, "falcon.*" and "falcon*" are not. Match a unit file name with
 * name_glob_match(pattern, name, 0). */
bool name_is_unit_pattern(const char *s);

/* A component's content path, snapshotted, restored and moved aside by
 * quarantine: a normalized absolute path (path_is_normalized_absolute())
 * without glob characters ('*', '?', '[': taken literally they would name
 * nothing the admin meant, silently)
 * whose components are at most NAME_FILE_MAX bytes, not in /proc, /sys, /dev
 * or /run, and neither lastgood's own state (LASTGOOD_STATE_DIR or beneath
 * it) nor a directory lastgood writes into, nor an ancestor of one ("/",
 * "/etc", …): replacing those would make a recovery undo itself. */
bool name_is_content_path(const char *s);
/* Why S is not a content path (a short phrase for messages: "a system
 * directory", "lastgood's own state or configuration, or holds it", …), or
 * NULL when it is one. Besides the rules above it refuses, exactly, the
 * system's own directories ("/usr", "/etc/systemd", "/boot", "/var/lib", …;
 * the one list, in lastgood-policy(5)) and, at, below or above, lastgood's
 * configuration (LASTGOOD_CONFIG_DIR) and its quarantine modprobe.d file. */
const char *name_content_path_refusal(const char *s);

/* An `exclude` entry of a component: an absolute path or a glob of one,
 * matched with NAME_MATCH_PATHNAME ('*' never crosses a '/'). Normalized as
 * a path (path_is_normalized_absolute(): no "..", ".", empty components or
 * trailing '/'), each component at most NAME_FILE_MAX bytes and, if it holds
 * glob characters, a well-formed glob (brackets closed, no '\' escaping the
 * end of a component). Whether it lies under the component's content is the
 * policy parser's check (name_exclude_is_under()). */
bool name_is_exclude_pattern(const char *s);
/* The exclude entry PATTERN lies strictly below the content path CONTENT:
 * CONTENT, literally, is its leading part and at least one component
 * follows. "/opt/cs/log.*" is under "/opt/cs"; "/opt/cs" and "/opt/c*" are
 * not. */
bool name_exclude_is_under(const char *pattern, const char *content);
/* One of the `exclude` entries EXCLUDE (absolute, name_is_exclude_pattern())
 * matches PATH, written relative to the root ("opt/cs/log", as manifest
 * paths are) or absolute, with NAME_MATCH_PATHNAME | FLAGS: with
 * NAME_MATCH_LEADING_DIR, PATH or one of its directories is excluded; with
 * NAME_MATCH_ANCESTOR, something below PATH may be. The one matcher of
 * exclusion (manifest_path_excluded() and the policy's nesting check). */
bool name_exclude_match(char *const *exclude, const char *path, NameMatchFlags flags);
