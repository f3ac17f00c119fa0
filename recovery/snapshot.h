/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Known-good content snapshots of a component's content paths, less what
 * its `exclude` names (live state: databases, queues, logs), which is never
 * snapshotted, never compared, never restored (a restore puts the content
 * back around it, leaving it as it was) and dropped from an import.
 *
 * Layout, beneath the root, in policy snapshots.dir:
 *   <dir>/<component>/<id>/content.tar.zst   (or content.tar.gz) pax archive
 *                          manifest          see manifest.h
 *                          meta              created time, content ctime, …
 *                          bad               only after a failed verification
 *   <dir>/.work/                             exists only while work is in
 *                                            progress (or interrupted): temp
 *                                            dirs and the restore intent
 * IDs sort by creation: "YYYYMMDDTHHMMSSZ-NNN" (UTC), strictly increasing
 * even when the clock goes backwards. A snapshot is written in .work, fsynced
 * and renamed into place. Mutations take an flock on <dir>.
 *
 * libarchive is loaded (dlopen) only by create, verify, restore and import;
 * snapshot_content_changed() and snapshot_recover_interrupted() — the paths
 * every boot takes — never load it.
 *
 * Return codes (negative errno), common to all functions:
 *   -EINVAL   bad component name (name_is_component()), content path or
 *             snapshot id
 *   -ENOENT   no such snapshot (restore: no usable snapshot)
 *   -EBADMSG  a snapshot or import is invalid or hostile (the reason, naming
 *             the entry, is logged); also restore when every candidate
 *             failed verification
 *   -E2BIG    more entries than snapshots.max_entries
 *   -EFBIG    more bytes than snapshots.max_expanded_bytes
 *   -EBUSY    content changed while it was being archived (retry later)
 *   -ENOPKG   libarchive could not be loaded
 *   other     I/O errors (-ENOSPC, -EIO, …)
 * Refusals (hostile archives, corrupt snapshots) are logged here, where the
 * entry is known; callers log the returned error once more in their terms.
 */

#include "config/policy.h"
#include "lib/util.h"

#define SNAPSHOT_ID_LEN 20 /* "YYYYMMDDTHHMMSSZ-NNN" */

typedef struct SnapshotInfo {
        char *component;
        char *id;
        uint64_t created_usec;       /* CLOCK_REALTIME when it was taken */
        uint64_t content_ctime_usec; /* newest ctime in the content then */
        uint64_t size_bytes;         /* archive + manifest + meta */
        uint64_t n_entries;
        uint64_t expanded_bytes; /* sum of file sizes */
        char *compression;       /* "zstd" or "gzip" */
        char *source;            /* "create" or "import" */
        bool bad;                /* failed verification: never restored */
        char *bad_reason;
} SnapshotInfo;

void snapshot_info_free(SnapshotInfo *list, size_t n);

/* Progress of long work (entries and bytes so far); the CLI prints it when
 * stderr is a terminal. NULL disables. */
typedef void (*SnapshotProgressFn)(const char *what, uint64_t entries, uint64_t bytes, void *userdata);
void snapshot_set_progress(SnapshotProgressFn fn, void *userdata);

/* How C's live content differs from its newest known-good snapshot. */
typedef struct ContentChange {
        bool baseline;                         /* a known-good snapshot exists to compare with */
        bool changed;                          /* differs from it (no baseline: false) */
        uint64_t n_changed;                    /* entries changed or added (an unusable manifest: 0) */
        uint64_t n_removed;                    /* entries gone */
        uint64_t newest_ctime_usec;            /* newest ctime among them, for the record only */
        char baseline_id[SNAPSHOT_ID_LEN + 1]; /* with baseline: the snapshot compared with */
} ContentChange;

/*
 * Compares the live content of C with its newest snapshot not marked bad.
 * Cheap when unchanged: lstat data against the manifest's stat cache; a file
 * is hashed only when its stat data moved. The answer comes from the
 * manifest and the files' identity, never from the clock: a change is a
 * change however old its time stamps say it is.
 *
 * No snapshot at all: no baseline, not changed (nothing known-good to tell
 * a change from; the caller decides what that means — confirm snapshots,
 * the culprit search finds no change). An unusable manifest: changed (it
 * cannot vouch for anything). No content paths: never changed. With
 * REFRESH_CACHE it rewrites the manifest's stat cache (not its content)
 * when files were only touched or restored, so the next check is cheap
 * again; read-only queries (status) pass false and write nothing.
 */
int snapshot_content_changed(int root_fd, const Policy *p, const Component *c, bool refresh_cache,
                             ContentChange *ret) _wur_;

/*
 * Always makes a new snapshot of C, then prunes (keep, max_bytes; never the
 * newest good one). *ret_id: the new id (free()).
 *
 * Never stored torn: each entry's identity (lstat data as the walk saw it,
 * fstat of the open file before and after its data was read: type, mode,
 * owner, size, mtime, ctime, inode) must hold, and after the walk every
 * archived entry is looked at again: the snapshot is the content as it was
 * at one instant. An entry whose ctime lies within a time-stamp tick of
 * "now" (MANIFEST_RACY_MARGIN_NS) is waited for first, because a change in
 * the same tick would not move it. When the content changes meanwhile the
 * attempt is dropped and retried (SNAPSHOT_CREATE_ATTEMPTS in all, a short
 * pause between); -EBUSY when every attempt saw a change.
 */
#define SNAPSHOT_CREATE_ATTEMPTS 3
int snapshot_create(int root_fd, const Policy *p, const Component *c, char **ret_id) _wur_;
/*
 * Makes one only when snapshot_content_changed() says so (or C has none).
 * *ret_id: the new id, or the newest existing one when none was made (NULL
 * if none).
 *
 * NOT_AFTER_USEC (0: no bound), CLOCK_REALTIME: only content already in
 * place then may be snapshotted (`confirm` passes the start of the boot it
 * confirms: content that changed later has not booted yet). When a file or
 * symlink of the content has a ctime at or after it, nothing is made:
 * returns 0, *ret_created false, and *ret_newer (when not NULL) is that
 * entry's path (free()), else NULL. A change before the bound never has a
 * ctime at or after it; a change within one time-stamp tick after it may
 * (coarse ctimes), which `boot`, running before any service, leaves to no
 * updater. Directories are not held to the
 * bound: their ctime moves with every entry added or removed in them,
 * excluded state included; what they hold is judged by their entries (so
 * an entry removed during the boot, with nothing else changed, is not
 * held back).
 */
int snapshot_create_if_changed(int root_fd, const Policy *p, const Component *c, uint64_t not_after_usec,
                               bool *ret_created, char **ret_id, char **ret_newer) _wur_;

/* Snapshots of COMPONENT (NULL: all), sorted by component, then id (oldest
 * first). A snapshot whose meta cannot be read is listed as bad. */
int snapshot_list(int root_fd, const Policy *p, const char *component, SnapshotInfo **ret, size_t *ret_n) _wur_;

/* The snapshot store's directory, for reading (-ENOENT: no snapshot yet). */
int snapshot_store_open_read(int root_fd, const Policy *p, int *ret_fd) _wur_;
/* In the store open at DIR_FD, the newest of COMPONENT's snapshots that
 * snapshot_list() would not call bad (not marked, meta readable): its id
 * and creation time, or -ENOENT. What status and the metrics show, without
 * stat'ing every snapshot's files. */
int snapshot_newest_good_info_at(int dir_fd, const char *component, char ret_id[static SNAPSHOT_ID_LEN + 1],
                                 uint64_t *ret_created_usec) _wur_;

/* Full validation of snapshot ID (NULL: every snapshot of C): manifest,
 * archive entries, hashes, entry sets. A failing one is marked bad.
 * 0 when all pass, -EBADMSG when any failed. */
int snapshot_verify(int root_fd, const Policy *p, const Component *c, const char *id) _wur_;

/*
 * Restores C's content from snapshot ID, or, with ID NULL, from the newest
 * one that verifies (trying older ones when one fails; those are marked
 * bad) whose content predates BEFORE_USEC when that is not 0: BEFORE_USEC
 * is the ctime of a change, and the snapshot's newest content ctime must be
 * older, so that it cannot hold that change. Each content path is
 * extracted into a staging dir beside it, checked completely, then swapped
 * in with renameat2(RENAME_EXCHANGE). What C's exclude names is then moved
 * from the replaced content back into the restored one, to the same place
 * (where its directory is part of the restored content). The replaced
 * content is moved below KEEP_DIR (a path beneath the root, created), e.g.
 * KEEP_DIR/etc/sensor. Durable intent makes it resumable after a power cut
 * (snapshot_recover_interrupted()). *ret_id: the snapshot used.
 */
int snapshot_restore(int root_fd, const Policy *p, const Component *c, const char *id, uint64_t before_usec,
                     const char *keep_dir, char **ret_id) _wur_;

/* The keep dir snapshot_restore() uses when given NULL:
 * LASTGOOD_REPLACED_DIR/<component>/<UTC time stamp>. */
int snapshot_default_keep_dir(const char *component, char **ret) _wur_;

/* Takes HOST_FILE (a path on the host: tar, tar.zst or tar.gz) as a new
 * snapshot of C after the same validation a restore does; every entry must
 * lie within C's content paths; setuid/setgid refused; stored re-packed in
 * the snapshot format, owned by root. A refused file stores nothing. */
int snapshot_import(int root_fd, const Policy *p, const Component *c, const char *host_file, char **ret_id) _wur_;

/* At the start of every boot: finishes (the swap happened: move the old
 * content aside) or undoes (remove staging) an interrupted restore, removes
 * temp dirs of interrupted snapshots and prunes. One failed openat when
 * there is nothing to do. Returns 1 when something was recovered, 0 when
 * nothing was to do. */
int snapshot_recover_interrupted(int root_fd, const Policy *p) _wur_;
