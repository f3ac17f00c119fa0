/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The manifest of a content snapshot: one line per entry, what the archive
 * must hold (type, mode, owner, size, sha256, symlink target) plus a stat
 * cache (mtime, ctime, inode, device) for the cheap "did it change?" check,
 * as git's index does.
 *
 * Format (text, '\n'-terminated lines, no blank lines):
 *
 *   lastgood-manifest 2 <created_ns>
 *   <type> <mode> <uid> <gid> <size> <sha256> <mtime_ns> <ctime_ns> <ino> <dev> <path> <target> <xattrs>
 *
 * xattrs is "-" (none) or one field per extended attribute lastgood keeps
 * (MANIFEST_XATTR_NAMESPACES), sorted by name, unique:
 * <name as a pct token>=<sha256 of the value, 64 lowercase hex digits>. The
 * name is read from the right (the hash has a fixed length), so a name may
 * hold '=' and the fields stay unambiguous.
 *
 * Version 1 (before extended attributes were kept) has no xattrs field. Its
 * snapshots' archives hold no extended attributes, and it says nothing
 * about the live files': such a manifest has xattrs_known false, and is
 * written back as version 1 (stat-cache refreshes), so that "not recorded"
 * never turns into "recorded as none".
 *
 * type is f, d or l; mode exactly four octal digits (07777 bits); sha256 64
 * lowercase hex digits for files, "-" otherwise; target "-" unless a symlink.
 * Paths and targets are escaped with pct_token_write() (lib/encode.h): every
 * byte outside 0x21..0x7e and '%' is written as %XX (uppercase hex), and a
 * whole token "-" as %2D. Only the canonical encoding is accepted, so a path
 * has exactly one spelling.
 * Entries are sorted by path (strcmp), unique, relative, without "." or ".."
 * components. created_ns is when the scan that produced the stat cache began.
 *
 * The manifest is parsed as hostile input (it may have been planted): size
 * cap, strict fields, bounded entry count.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include "lib/util.h"

#define MANIFEST_MAGIC "lastgood-manifest"
#define MANIFEST_VERSION 2
#define MANIFEST_MAX_SIZE (512u * 1024u * 1024u)
#define MANIFEST_PATH_MAX 4095
#define SHA256_LEN 32
/* Extended attributes kept per entry, and the size of one value (the
 * kernel's XATTR_SIZE_MAX). */
#define MANIFEST_XATTRS_MAX 64
#define MANIFEST_XATTR_VALUE_MAX (64u * 1024u)
/* File systems stamp mtime and ctime from a coarse clock (one jiffy: up to
 * 10 ms) unless they have multigrain time stamps (Linux 6.13): two changes
 * within one tick may carry the same ctime, and a ctime may be up to a tick
 * older than the change. A ctime this close to "now" proves nothing yet. */
#define MANIFEST_RACY_MARGIN_NS ((int64_t) 50 * 1000 * 1000)

typedef struct ManifestEntry {
        char *path;    /* relative to the root, e.g. "etc/sensor/x.bin" */
        char *target;  /* symlinks only, else NULL */
        char type;     /* 'f', 'd' or 'l' */
        uint32_t mode; /* permission bits including setuid/setgid/sticky (07777) */
        uint32_t uid, gid;
        uint64_t size;              /* files: bytes; symlinks: length of the target; dirs: 0 */
        uint8_t sha256[SHA256_LEN]; /* files only */
        int64_t mtime_ns, ctime_ns;
        uint64_t ino, dev;
        /* The xattrs field as written ("name=hash name=hash", canonical), or
         * NULL for none: equal text means equal attributes. */
        char *xattrs;
} ManifestEntry;

typedef struct Manifest {
        int64_t created_ns;
        /* false for a version 1 manifest: its entries' xattrs are unknown,
         * not absent, and are neither compared nor written. */
        bool xattrs_known;
        ManifestEntry *entries;
        size_t n, allocated;
} Manifest;

/* An empty manifest of the current version (xattrs_known). */
Manifest *manifest_new(void);
void manifest_free(Manifest *m);
static inline void manifest_freep(Manifest **m) {
        manifest_free(*m);
}
#define _cleanup_manifest_ _cleanup_(manifest_freep)

/* Appends a copy of E (path, target and xattrs duplicated). */
int manifest_add(Manifest *m, const ManifestEntry *e) _wur_;
void manifest_sort(Manifest *m);
/* Binary search in a sorted manifest; -1 when absent. */
ssize_t manifest_find(const Manifest *m, const char *path);
/* Sets type/mode/uid/gid/size/stat-cache fields of E from ST (not path,
 * target or sha256). */
void manifest_entry_from_stat(ManifestEntry *e, const struct stat *st);

/* Parses BUF (LEN bytes, hostile). -EBADMSG with *ret_reason (a message
 * naming the line) on any format error, -E2BIG with more than max_entries
 * entries, -EFBIG above MANIFEST_MAX_SIZE. */
int manifest_parse(const char *buf, size_t len, uint64_t max_entries, Manifest **ret, char **ret_reason) _wur_;

/*
 * The binary form of a manifest: a cache of a manifest file for what reads
 * one at every confirm (snapshot.c: the unchanged-content check), where
 * parsing the text was three quarters of the work. KEY (opaque here) names
 * what it caches — the text file's identity — and must match to decode;
 * a checksum covers the rest. Decoding checks what manifest_parse() checks
 * of each entry's form (type, safe and sorted paths, targets, field
 * ranges), so that a damaged cache is refused, never a different manifest.
 * The text stays the authority: restore and verify always parse it.
 */
int manifest_encode_binary(const Manifest *m, const void *key, size_t key_len, char **ret, size_t *ret_len) _wur_;
/* 0 and *ret; -EBADMSG for another key, a bad checksum or a bad entry;
 * -E2BIG for more than MAX_ENTRIES; -ENOMEM. */
int manifest_decode_binary(const char *buf, size_t len, const void *key, size_t key_len,
                           uint64_t max_entries, Manifest **ret) _wur_;
int manifest_format(const Manifest *m, char **ret, size_t *ret_len) _wur_;

/* Sets *RET (when RET is not NULL) to a newly formatted reason, freeing the
 * old one; NULL on OOM. */
void manifest_set_reason(char **ret, const char *fmt, ...) _printf_(2, 3);

/*
 * Content roots: a component's content paths made relative ("/etc/x" ->
 * "etc/x"), sorted, with paths nested in another root dropped. -EINVAL
 * when a path is not absolute or not normalised.
 */
int manifest_roots(char *const *content, char ***ret) _wur_;
/* Index of the root that PATH lies in (PATH == root or below it), or -1. */
ssize_t manifest_roots_find(char *const *roots, const char *path);

/* NULL if the symlink LINK_PATH -> TARGET stays inside ROOT (lexically:
 * relative, ".." only as a leading run that does not climb above ROOT);
 * otherwise a static string saying why not. */
const char *manifest_check_symlink(const char *root, const char *link_path, const char *target);

/* PATH fits what a manifest records: at most MANIFEST_PATH_MAX bytes, no
 * component longer than NAME_MAX (a manifest with a longer one is refused
 * when read, so an import must not store one). */
bool manifest_path_fits(const char *path);

/* Checks every entry of a parsed manifest against the content roots: inside
 * a root, a root itself a file or a directory, the parent of every other
 * entry present as a directory, symlink targets inside. -EBADMSG with
 * *ret_reason naming the entry. */
int manifest_check_roots(const Manifest *m, char *const *roots, char **ret_reason) _wur_;

/*
 * Extended attributes. lastgood keeps the security.* namespace (SELinux
 * labels, file capabilities, IMA/EVM signatures, SMACK labels) and user.*.
 * Not trusted.*: that root-only namespace holds other software's
 * bookkeeping of one particular file system (overlayfs' trusted.overlay.*
 * redirect, origin and opaque markers, gluster's metadata), which describes
 * where a file sits in a stack, not the file, and which, planted, changes
 * what overlayfs shows. Not system.* (ACLs, which the manifest does not
 * model).
 */
typedef struct ManifestXattr {
        char *name;
        void *value;
        size_t size;
} ManifestXattr;

typedef struct ManifestXattrs {
        ManifestXattr *items; /* sorted by name (strcmp), unique */
        size_t n;
} ManifestXattrs;

void manifest_xattrs_done(ManifestXattrs *x);
/* True for a name in a namespace lastgood keeps. */
bool manifest_xattr_name_kept(const char *name);
/* True for an LSM label the kernel may give a new file by itself
 * (security.selinux, security.SMACK64). */
bool manifest_xattr_name_is_lsm_label(const char *name);
/* Adds NAME = VALUE, keeping the list sorted. -EEXIST when NAME is there
 * with another value (the same value again is ignored), -E2BIG above
 * MANIFEST_XATTRS_MAX, -EINVAL for a name lastgood does not keep, an
 * empty or too long name, or a value above MANIFEST_XATTR_VALUE_MAX. */
int manifest_xattrs_add(ManifestXattrs *x, const char *name, const void *value, size_t size) _wur_;
/* Reads the kept xattrs of the entry NAME in dir_fd (ST: its lstat data),
 * through FD when it is an open fd of it (else -1). A file system without
 * xattrs gives none. -E2BIG / -EFBIG beyond the caps. */
int manifest_xattrs_read(int dir_fd, const char *name, int fd, const struct stat *st, ManifestXattrs *ret) _wur_;
/* The canonical xattrs text of X, NULL (and 0) for none. */
int manifest_xattrs_format(const ManifestXattrs *x, char **ret) _wur_;
/* Two xattrs texts (NULL: none) describe the same attributes. */
static inline bool manifest_xattrs_equal(const char *a, const char *b) {
        return a && b ? streq(a, b) : a == b;
}
/* TEXT (an xattrs text, NULL: none) records NAME. */
bool manifest_xattrs_has(const char *text, const char *name);
/* manifest_xattrs_read() and manifest_xattrs_format() in one. */
int manifest_xattrs_text_at(int dir_fd, const char *name, int fd, const struct stat *st, char **ret) _wur_;
/* The names of an xattrs text, for messages: "user.a,security.capability",
 * or "none". NULL on OOM. */
char *manifest_xattrs_names(const char *text);

/* sha256 of everything readable from FD. */
int manifest_hash_fd(int fd, uint8_t ret[static SHA256_LEN], uint64_t *ret_size) _wur_;

/*
 * A component's `exclude` entries (absolute paths or globs, config/policy.h)
 * against PATH, relative to the root like every manifest path: PATH is
 * excluded when an entry matches it or one of its directories ('*' never
 * crosses a '/'). The one test of exclusion: the walks below, the archive
 * scan (archive.h), restore and quarantine all ask it.
 */
bool manifest_path_excluded(char *const *exclude, const char *path);
/* Something below the directory PATH (not excluded itself) may be excluded:
 * an entry could match a path that goes on from it. */
bool manifest_path_holds_excluded(char *const *exclude, const char *path);

/*
 * Walks ROOTS beneath root_fd without following symlinks: FN is called for
 * each root that exists, then depth-first for everything below a directory,
 * parents before children, siblings in strcmp order. Sockets, FIFOs and
 * device nodes are skipped (not content), and so is whatever EXCLUDE (a
 * component's exclude entries, NULL: none) excludes, with all below it,
 * unvisited. PATH is relative to root_fd; DIR_FD + NAME address the entry.
 * FN returns < 0 to stop, > 0 to skip what is below the entry.
 */
typedef int (*ManifestWalkFn)(int dir_fd, const char *name, const char *path, const struct stat *st,
                              void *userdata);
int manifest_walk(int root_fd, char *const *roots, char *const *exclude, ManifestWalkFn fn, void *userdata) _wur_;

/* The same over USERDATA[0..N_WORKERS) threads (at most
 * MANIFEST_WALK_MAX_WORKERS; the caller's is one): the roots and their
 * direct entries with USERDATA[0], their subtrees shared out. FN must be
 * safe to run concurrently on distinct entries with distinct USERDATA. */
#define MANIFEST_WALK_MAX_WORKERS 4
int manifest_walk_parallel(int root_fd, char *const *roots, char *const *exclude, ManifestWalkFn fn,
                           void *const *userdata, size_t n_workers) _wur_;
/* The same for one tree: NAME inside parent_fd, reported as PATH.
 * -ENOENT when NAME does not exist. */
int manifest_walk_at(int parent_fd, const char *name, const char *path, char *const *exclude,
                     ManifestWalkFn fn, void *userdata) _wur_;

/*
 * The content digest of the live content under ROOTS, less what EXCLUDE
 * excludes: what names one version of a component's content across a fleet
 * (the culprit label of the recovery metrics). The sha256, as 64 lowercase
 * hex digits, of one line per entry in walk order:
 *   <type> <mode> <sha256 of the file or -> <path> <target or ->
 * paths and targets written as in the manifest (pct tokens). Owners, times,
 * inodes and extended attributes are left out: they differ from machine to
 * machine for the same vendor content (uids, SELinux labels). A content
 * path that does not exist adds nothing. -ENOENT when nothing exists.
 */
#define MANIFEST_DIGEST_HEX (SHA256_LEN * 2)
int manifest_content_digest(int root_fd, char *const *roots, char *const *exclude,
                            char ret[static MANIFEST_DIGEST_HEX + 1]) _wur_;

typedef struct ManifestDiff {
        bool changed;
        uint64_t n_changed;       /* entries changed or added */
        uint64_t n_removed;       /* entries of M no longer there */
        int64_t newest_change_ns; /* see manifest_compare_live(); 0 when unchanged */
        bool cache_updated;       /* M's stat cache was refreshed in place */
        uint64_t n_excluded;      /* entries of M that EXCLUDE excludes: not compared */
} ManifestDiff;

/*
 * Compares the live content under ROOTS with M (sorted). Only entries whose
 * lstat data (type, mode, uid, gid, size, mtime, ctime, inode) differ from
 * the stat cache — or were modified too close to when the cache was taken
 * to trust it ("racy", as in git) — are hashed. newest_change_ns: the
 * newest ctime among changed/added entries (and, for removed ones, their
 * directories), 0 when unchanged. When the content is unchanged but stat
 * data moved (e.g. after a restore), M's cache is updated in place and
 * cache_updated is set so the caller can store it. Extended attributes
 * are read, like the content, only for entries whose stat data moved (a
 * changed xattr moves the ctime), and only when M records them.
 * What EXCLUDE excludes is neither walked nor compared, on either side: an
 * excluded file added, changed or removed is no change, and the excluded
 * entries of an older M (taken before the exclude was set) are not missed.
 */
int manifest_compare_live(int root_fd, char *const *roots, char *const *exclude, Manifest *m,
                          ManifestDiff *ret) _wur_;

int64_t manifest_now_ns(void);
