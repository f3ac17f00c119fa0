/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Internal to the snapshot module: the on-disk store (snapshot-store.c),
 * shared by creation, listing and verification (snapshot.c) and restore,
 * import and power-cut recovery (restore.c). Not for other modules: they
 * use snapshot.h.
 */

#include "config/policy.h"
#include "lib/names.h"
#include "recovery/archive.h"
#include "recovery/manifest.h"
#include "recovery/snapshot.h"

#define SNAPSHOT_WORK_DIR ".work"
#define SNAPSHOT_INTENT "restore.intent"
/* The manifest compiled (manifest_encode_binary()): a cache of "manifest". */
#define SNAPSHOT_MANIFEST_BIN "manifest.bin"
#define SNAPSHOT_META_MAX (16u * 1024u)

typedef struct SnapshotMeta {
        char component[NAME_COMPONENT_MAX + 1];
        uint64_t created_usec;
        uint64_t content_ctime_usec;
        char compression[8]; /* "zstd" or "gzip" */
        uint64_t n_entries;
        uint64_t expanded_bytes;
        char source[8]; /* "create" or "import" */
} SnapshotMeta;

bool snapshot_id_valid(const char *id);
/* "content.tar.zst" or "content.tar.gz"; NULL for an unknown compression. */
const char *snapshot_archive_name(const char *compression);

/* A new snapshot in the making: the locked store, the component's dir, the
 * work dir, a fresh id and the name of its temp dir in the work dir
 * ("<what>-<component>-<id>", not created). snapshot_txn_done closes. */
typedef struct SnapshotTxn {
        int dir_fd, comp_fd, work_fd;
        char id[SNAPSHOT_ID_LEN + 1];
        char tmp[128];
} SnapshotTxn;
#define SNAPSHOT_TXN_INIT \
        { .dir_fd = -1, .comp_fd = -1, .work_fd = -1 }
int snapshot_txn_begin(int root_fd, const Policy *p, const char *component, const char *what,
                       SnapshotTxn *ret) _wur_;
void snapshot_txn_done(SnapshotTxn *t);
/* Creates the transaction's temp dir in the work dir and opens it. */
int snapshot_txn_mkdir(SnapshotTxn *t, int *ret_fd) _wur_;

/* Policy snapshots.dir, or its default. */
const char *snapshot_store_dir(const Policy *p);
/* The snapshots dir beneath root_fd (created 0700 when asked). */
int snapshot_store_open(int root_fd, const Policy *p, bool create, int *ret_fd) _wur_;
/* Exclusive flock on the store; released when the fd is closed. */
int snapshot_store_lock(int dir_fd, bool wait) _wur_;
/* <dir>/.work, created when missing. */
int snapshot_store_work(int dir_fd, int *ret_fd) _wur_;
/* Removes <dir>/.work when it is empty (best effort). */
void snapshot_store_work_done(int dir_fd);
/* <dir>/<component>, created when asked; -EINVAL for a bad name. */
int snapshot_store_component(int dir_fd, const char *component, bool create, int *ret_fd) _wur_;
/* <component>/<id>, never through a symlink. */
int snapshot_store_snapshot(int comp_fd, const char *id, int *ret_fd) _wur_;
/* Opens and locks (waiting) the store and COMPONENT's dir; *ret_ids is {ID},
 * or every id of the component (oldest first) when ID is NULL. -EINVAL for a
 * malformed ID, -ENOENT when there is no store or no such component. */
int snapshot_store_select(int root_fd, const Policy *p, const char *component, const char *id,
                          int *ret_dir_fd, int *ret_comp_fd, char ***ret_ids) _wur_;
/* Valid ids in comp_fd, oldest first. */
int snapshot_store_ids(int comp_fd, char ***ret) _wur_;
/* A new id, later than every existing one. */
int snapshot_store_new_id(int comp_fd, char ret[static SNAPSHOT_ID_LEN + 1]) _wur_;
/* The newest snapshot not marked bad: its dir fd and id; -ENOENT if none.
 * With RET_META, also its meta, and one whose meta cannot be read is passed
 * over as snapshot_list() would call it bad. */
int snapshot_store_newest_good(int comp_fd, int *ret_fd, char ret_id[static SNAPSHOT_ID_LEN + 1],
                               SnapshotMeta *ret_meta) _wur_;
/* Bytes of archive, manifest, meta and bad marker (0 when unreadable). */
uint64_t snapshot_store_size(int comp_fd, const char *id);
bool snapshot_store_is_bad(int snap_fd);
int snapshot_store_mark_bad(int snap_fd, const char *reason) _wur_;

int snapshot_meta_read(int snap_fd, SnapshotMeta *ret) _wur_;

/* Reads meta and manifest of one snapshot and checks the manifest against
 * ROOTS and the caps. -EBADMSG/-E2BIG/-EFBIG with *ret_reason. */
int snapshot_store_load(int snap_fd, const char *component, char *const *roots, uint64_t max_entries,
                        uint64_t max_expanded, SnapshotMeta *ret_meta, Manifest **ret_manifest,
                        char **ret_reason) _wur_;

/* Writes manifest and meta into the temp dir TMP (inside work_fd), fsyncs,
 * renames it to <component>/<id>, then prunes. */
int snapshot_store_commit(int dir_fd, int work_fd, int tmp_fd, const char *tmp_name, int comp_fd,
                          const char *id, const Manifest *m, const SnapshotMeta *meta, const Policy *p) _wur_;

/* Applies keep and max_bytes to one component; never the newest good one. */
int snapshot_store_prune(int work_fd, int comp_fd, const char *component, const Policy *p) _wur_;

/* The entry and size caps (test builds: LASTGOOD_TEST_MAX_ENTRIES and
 * LASTGOOD_TEST_MAX_EXPANDED_BYTES override them). */
void snapshot_limits(const Policy *p, uint64_t *ret_max_entries, uint64_t *ret_max_expanded);
/* Checks C's name and content paths; *ret_roots as manifest_roots(). */
int snapshot_component_roots(const Component *c, char ***ret_roots) _wur_;

void snapshot_progress(const char *what, uint64_t entries, uint64_t bytes);
/* An ArchiveProgressFn forwarding to snapshot_progress(); userdata: what. */
void snapshot_archive_progress(uint64_t entries, uint64_t bytes, void *userdata);
