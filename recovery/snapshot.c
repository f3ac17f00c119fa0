/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Snapshot creation, listing, verification and the cheap change check. The
 * store they share is in snapshot-store.c; restore, import and power-cut
 * recovery are in restore.c.
 */
#include "recovery/snapshot.h"

#include <fcntl.h>
#include <nettle/sha2.h>
#include <time.h>

#include "lib/encode.h"
#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/rootfs.h"
#include "recovery/snapshot-store.h"

void snapshot_info_free(SnapshotInfo *list, size_t n) {
        for (size_t i = 0; list && i < n; i++) {
                free(list[i].component);
                free(list[i].id);
                free(list[i].compression);
                free(list[i].source);
                free(list[i].bad_reason);
        }
        free(list);
}

/* ---- create ---- */

typedef struct CreateCtx {
        const ArchiveLib *al;
        struct archive *w;
        struct archive_entry *entry;
        Manifest *m;
        char *const *roots;
        char *const *exclude; /* the component's: never snapshotted */
        uint64_t max_entries, max_expanded, expanded;
        int64_t newest_ctime_ns;
        int64_t not_after_ns; /* 0: no bound; else files changed since then are refused */
        char *reason;
        char *newer; /* the entry that changed after not_after_ns */
} CreateCtx;

static int create_refuse(CreateCtx *x, int error, const char *path, const char *what) {
        _cleanup_free_ char *esc = pct_token_encode(path);
        free(x->reason);
        if (asprintf(&x->reason, "entry '%s': %s", esc ?: "?", what) < 0)
                x->reason = NULL;
        return error;
}

/* Same file, same content as far as its stat data can tell. */
static bool same_identity(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
               a->st_uid == b->st_uid && a->st_gid == b->st_gid && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void sleep_ns(int64_t ns) {
        struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* A change within the tick of the entry's ctime would not move it, so its
 * identity cannot vouch for the data until that tick is over: wait it out,
 * then the entry must still be what the walk saw. A ctime far in the future
 * (a clock set back) is not racy: any change now gives another ctime. */
static int create_settle(CreateCtx *x, int dir_fd, const char *name, const char *path, const struct stat *st) {
        int64_t ct = (int64_t) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
        int64_t now = manifest_now_ns();
        if (ct <= now - MANIFEST_RACY_MARGIN_NS || ct >= now + MANIFEST_RACY_MARGIN_NS)
                return 0;
        sleep_ns(ct + MANIFEST_RACY_MARGIN_NS - now);
        struct stat again;
        if (fstatat(dir_fd, name, &again, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? create_refuse(x, -EBUSY, path, "removed while it was being archived")
                                       : -errno;
        if (!same_identity(st, &again))
                return create_refuse(x, -EBUSY, path, "changed while it was being archived");
        return 0;
}

static int create_copy_data(CreateCtx *x, int fd, const struct stat *st, ManifestEntry *e) {
        const ArchiveLib *al = x->al;
        struct sha256_ctx ctx;
        uint8_t buf[128 * 1024];
        uint64_t done = 0;
        sha256_init(&ctx);
        while (done < e->size) {
                size_t want = e->size - done < sizeof buf ? (size_t) (e->size - done) : sizeof buf;
                ssize_t n = loop_read(fd, buf, want);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                sha256_update(&ctx, (size_t) n, buf);
                if (al->archive_write_data(x->w, buf, (size_t) n) != n) {
                        int k = al->archive_errno(x->w);
                        return k > 0 ? -k : -EIO;
                }
                done += (uint64_t) n;
        }
        sha256_digest(&ctx, SHA256_LEN, e->sha256);
        struct stat after;
        if (fstat(fd, &after) < 0)
                return -errno;
        /* Written to while we read it: the archive would hold a mix. */
        if (done != e->size || !same_identity(st, &after))
                return create_refuse(x, -EBUSY, e->path, "changed while it was being archived");
        return 0;
}

static int create_one(int dir_fd, const char *name, const char *path, const struct stat *st, void *userdata) {
        CreateCtx *x = userdata;
        const ArchiveLib *al = x->al;
        ManifestEntry e = { .path = (char *) path };
        manifest_entry_from_stat(&e, st);
        char target[MANIFEST_PATH_MAX + 2];

        /* Known-good means it booted: a file changed since the boot began
         * waits for the next confirmed boot. Directories are exempt:
         * excluded state moves their ctime. */
        if (x->not_after_ns > 0 && e.type != 'd' && e.ctime_ns >= x->not_after_ns) {
                free(x->newer);
                x->newer = strdup(path);
                return x->newer ? -EAGAIN : -ENOMEM;
        }
        int r = create_settle(x, dir_fd, name, path, st);
        if (r < 0)
                return r;

        if (x->m->n >= x->max_entries)
                return create_refuse(x, -E2BIG, path, "more entries than snapshots.max_entries");
        if (e.type == 'f' && e.size > x->max_expanded - x->expanded)
                return create_refuse(x, -EFBIG, path, "content larger than snapshots.max_expanded_bytes");
        if (e.type == 'f')
                x->expanded += e.size;

        if (e.type == 'l') {
                ssize_t l = readlinkat(dir_fd, name, target, sizeof target - 1);
                if (l < 0)
                        return -errno;
                target[l] = '\0';
                if ((uint64_t) l != e.size)
                        return create_refuse(x, -EBUSY, path, "changed while it was being archived");
                /* A snapshot that restore would refuse is worth nothing. */
                ssize_t k = manifest_roots_find(x->roots, path);
                const char *why = manifest_check_symlink(x->roots[k], path, target);
                if (why)
                        return create_refuse(x, -EBADMSG, path, why);
                e.target = target;
        }

        al->archive_entry_clear(x->entry);
        al->archive_entry_set_pathname(x->entry, path);
        al->archive_entry_set_filetype(x->entry, e.type == 'f'   ? AE_IFREG
                                                 : e.type == 'd' ? AE_IFDIR
                                                                 : AE_IFLNK);
        al->archive_entry_set_perm(x->entry, e.mode);
        al->archive_entry_set_uid(x->entry, e.uid);
        al->archive_entry_set_gid(x->entry, e.gid);
        al->archive_entry_set_mtime(x->entry, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        if (e.type == 'f')
                al->archive_entry_set_size(x->entry, (la_int64_t) e.size);
        if (e.type == 'l')
                al->archive_entry_set_symlink(x->entry, target);

        _cleanup_close_ int fd = -1;
        if (e.type == 'f') {
                fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                struct stat fst;
                if (fstat(fd, &fst) < 0)
                        return -errno;
                if (fst.st_ino != st->st_ino || fst.st_dev != st->st_dev)
                        return create_refuse(x, -EBUSY, path, "replaced while it was being archived");
                if (!same_identity(st, &fst))
                        return create_refuse(x, -EBUSY, path, "changed while it was being archived");
        }
        /* Extended attributes (SELinux label, file capabilities, IMA
         * signature, user.*): into the archive (pax SCHILY.xattr records)
         * and, as names and hashes, into the manifest. */
        _cleanup_(manifest_xattrs_done) ManifestXattrs xa = {};
        _cleanup_free_ char *xtext = NULL;
        r = manifest_xattrs_read(dir_fd, name, fd, st, &xa);
        if (r == -EBUSY)
                return create_refuse(x, -EBUSY, path, "replaced while it was being archived");
        if (r == -E2BIG || r == -EFBIG)
                return create_refuse(x, -EBADMSG, path,
                                     r == -E2BIG ? "more extended attributes than a snapshot keeps"
                                                 : "an extended attribute larger than a snapshot keeps");
        if (r >= 0)
                r = manifest_xattrs_format(&xa, &xtext);
        if (r < 0)
                return r;
        for (size_t i = 0; i < xa.n; i++)
                al->archive_entry_xattr_add_entry(x->entry, xa.items[i].name, xa.items[i].value, xa.items[i].size);
        e.xattrs = xtext;

        if (al->archive_write_header(x->w, x->entry) != ARCHIVE_OK) {
                int k = al->archive_errno(x->w);
                return k > 0 ? -k : -EIO;
        }
        if (fd >= 0) {
                r = create_copy_data(x, fd, st, &e);
                if (r < 0)
                        return r;
        }
        int64_t ct = e.ctime_ns;
        if (ct > x->newest_ctime_ns)
                x->newest_ctime_ns = ct;
        r = manifest_add(x->m, &e);
        if (r < 0)
                return r;
        if (x->m->n % 1000 == 0)
                snapshot_progress("archiving", x->m->n, x->expanded);
        return 0;
}

typedef struct RecheckCtx {
        CreateCtx *x;
        bool *seen; /* per manifest entry */
} RecheckCtx;

/* After the walk: every archived entry is still what was archived. Entries
 * the walk did not take (excluded, or added since) are not descended into:
 * an entry added to a directory moves the directory's own ctime. */
static int recheck_one(int dir_fd, const char *name, const char *path, const struct stat *st, void *userdata) {
        RecheckCtx *k = userdata;
        ssize_t i = manifest_find(k->x->m, path);
        if (i < 0)
                return 1;
        const ManifestEntry *e = &k->x->m->entries[i];
        ManifestEntry now = {};
        manifest_entry_from_stat(&now, st);
        if (now.type != e->type || now.mode != e->mode || now.uid != e->uid || now.gid != e->gid ||
            now.size != e->size || now.mtime_ns != e->mtime_ns || now.ctime_ns != e->ctime_ns ||
            now.ino != e->ino || now.dev != e->dev)
                return create_refuse(k->x, -EBUSY, path, "changed while the content was being archived");
        k->seen[i] = true;
        return 0;
}

static int create_recheck(int root_fd, char *const *roots, CreateCtx *x) {
        manifest_sort(x->m);
        _cleanup_free_ bool *seen = calloc(x->m->n + 1, sizeof(bool));
        if (!seen)
                return -ENOMEM;
        RecheckCtx k = { .x = x, .seen = seen };
        int r = manifest_walk(root_fd, roots, x->exclude, recheck_one, &k);
        if (r < 0)
                return r;
        for (size_t i = 0; i < x->m->n; i++)
                if (!seen[i])
                        return create_refuse(x, -EBUSY, x->m->entries[i].path,
                                             "removed while the content was being archived");
        return 0;
}

/* Writes the archive of ROOTS into tmp_fd and builds its manifest. */
static int create_archive(int root_fd, int tmp_fd, const Policy *p, char *const *roots, char *const *exclude,
                          int64_t not_after_ns, Manifest **ret_m, SnapshotMeta *meta, char **ret_reason,
                          char **ret_newer) {
        const ArchiveLib *al;
        int r = archive_lib_load(&al);
        if (r < 0)
                return r;
        r = fault_point("snapshot-archive");
        if (r < 0)
                return r;
        const char *name = snapshot_archive_name(al->have_zstd ? "zstd" : "gzip");
        _cleanup_close_ int fd = openat(tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        const char *comp;
        struct archive *w;
        r = archive_writer_new(al, fd, &w, &comp);
        if (r < 0)
                return r;
        _cleanup_manifest_ Manifest *m = manifest_new();
        struct archive_entry *entry = al->archive_entry_new();
        if (!m || !entry) {
                al->archive_write_free(w);
                if (entry)
                        al->archive_entry_free(entry);
                return -ENOMEM;
        }
        CreateCtx x = {
                .al = al, .w = w, .entry = entry, .m = m, .roots = roots, .exclude = exclude, .not_after_ns = not_after_ns
        };
        snapshot_limits(p, &x.max_entries, &x.max_expanded);
        m->created_ns = manifest_now_ns();

        /* Excluded state (databases, logs, queues) is never snapshotted. */
        r = manifest_walk(root_fd, roots, exclude, create_one, &x);
        if (r >= 0)
                r = create_recheck(root_fd, roots, &x);
        if (r >= 0 && al->archive_write_close(w) != ARCHIVE_OK) {
                int k = al->archive_errno(w);
                r = k > 0 ? -k : -EIO;
        }
        al->archive_write_free(w);
        al->archive_entry_free(entry);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                *ret_reason = TAKE_PTR(x.reason);
                *ret_newer = TAKE_PTR(x.newer);
                return r;
        }
        free(x.reason);
        free(x.newer);
        manifest_sort(m);
        snprintf(meta->compression, sizeof meta->compression, "%s", comp);
        meta->created_usec = now_realtime_usec();
        meta->content_ctime_usec = (uint64_t) (x.newest_ctime_ns > 0 ? x.newest_ctime_ns / 1000 : 0);
        meta->n_entries = m->n;
        meta->expanded_bytes = x.expanded;
        snprintf(meta->source, sizeof meta->source, "create");
        *ret_m = TAKE_PTR(m);
        return 0;
}

/* One attempt. -EBUSY with *ret_reason: the content changed meanwhile;
 * -EAGAIN with *ret_newer: an entry changed after NOT_AFTER_NS. Other
 * refusals are logged here. */
static int create_once(int root_fd, const Policy *p, const Component *c, char *const *roots,
                       int64_t not_after_ns, char **ret_id, char **ret_reason, char **ret_newer) {
        _cleanup_(snapshot_txn_done) SnapshotTxn t = SNAPSHOT_TXN_INIT;
        _cleanup_close_ int tmp_fd = -1;
        int r = snapshot_txn_begin(root_fd, p, c->name, "create", &t);
        if (r < 0)
                return r;
        r = snapshot_txn_mkdir(&t, &tmp_fd);
        if (r < 0)
                return r;

        _cleanup_manifest_ Manifest *m = NULL;
        _cleanup_free_ char *reason = NULL, *newer = NULL;
        SnapshotMeta meta = {};
        snprintf(meta.component, sizeof meta.component, "%s", c->name);
        r = create_archive(root_fd, tmp_fd, p, roots, c->exclude, not_after_ns, &m, &meta, &reason, &newer);
        if (r >= 0)
                r = snapshot_store_commit(t.dir_fd, t.work_fd, tmp_fd, t.tmp, t.comp_fd, t.id, m, &meta, p);
        if (r < 0) {
                if (r == -EBUSY)
                        *ret_reason = TAKE_PTR(reason);
                else if (r == -EAGAIN)
                        *ret_newer = TAKE_PTR(newer);
                else if (reason)
                        log_error("Cannot snapshot component '%s': %s", c->name, reason);
                (void) !rm_rf_at(t.work_fd, t.tmp);
                snapshot_store_work_done(t.dir_fd);
                return r;
        }
        snapshot_store_work_done(t.dir_fd);
        char *s = strdup(t.id);
        if (!s)
                return -ENOMEM;
        *ret_id = s;
        return 0;
}

/* Retries while the content changes under the archiver (an updater at
 * work), with a growing pause that lets it finish. */
static int create_snapshot(int root_fd, const Policy *p, const Component *c, uint64_t not_after_usec,
                           char **ret_id, char **ret_newer) {
        _cleanup_strv_free_ char **roots = NULL;
        int r = snapshot_component_roots(c, &roots);
        if (r < 0)
                return r;
        int64_t not_after_ns = not_after_usec == 0                 ? 0
                               : not_after_usec > INT64_MAX / 1000 ? INT64_MAX
                                                                   : (int64_t) not_after_usec * 1000;
        for (unsigned attempt = 1;; attempt++) {
                _cleanup_free_ char *reason = NULL;
                r = create_once(root_fd, p, c, roots, not_after_ns, ret_id, &reason, ret_newer);
                if (r != -EBUSY)
                        return r;
                if (attempt >= SNAPSHOT_CREATE_ATTEMPTS) {
                        log_error("Cannot snapshot component '%s': %s (%u attempts), not storing a torn snapshot",
                                  c->name, reason ?: "content changed", attempt);
                        return r;
                }
                log_info("Content of %s changed while it was being archived (%s), retrying.", c->name,
                         reason ?: "?");
                sleep_ns((int64_t) attempt * 200 * 1000 * 1000);
        }
}

int snapshot_create(int root_fd, const Policy *p, const Component *c, char **ret_id) {
        _cleanup_free_ char *newer = NULL;
        return create_snapshot(root_fd, p, c, 0, ret_id, &newer);
}

/* ---- the change check ---- */

/* ---- the manifest, compiled ---- */

/* What the binary form caches: the text manifest's identity. */
static int manifest_key(int snap_fd, uint64_t key[static 6]) {
        struct stat st;
        if (fstatat(snap_fd, "manifest", &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        uint64_t k[6] = { (uint64_t) st.st_dev,
                          (uint64_t) st.st_ino,
                          (uint64_t) st.st_size,
                          (uint64_t) st.st_mtim.tv_sec * 1000000000 + (uint64_t) st.st_mtim.tv_nsec,
                          (uint64_t) st.st_ctim.tv_sec * 1000000000 + (uint64_t) st.st_ctim.tv_nsec,
                          (uint64_t) st.st_mode };
        memcpy(key, k, sizeof k);
        return 0;
}

/* The binary form of M beside its text (SNAPSHOT_MANIFEST_BIN): not state,
 * written without fsync; a failure only means the next check parses. */
static void manifest_cache_store(int snap_fd, const Manifest *m) {
        uint64_t key[6];
        _cleanup_free_ char *bin = NULL;
        size_t len;
        if (manifest_key(snap_fd, key) < 0 || manifest_encode_binary(m, key, sizeof key, &bin, &len) < 0)
                return;
        int r = write_atomic_at_full(snap_fd, SNAPSHOT_MANIFEST_BIN, bin, len,
                                     &(WriteAtomicOptions) { .flags = WRITE_ATOMIC_NO_SYNC, .mode = 0600 });
        if (r < 0)
                log_debug_errno(r, "Failed to store the compiled manifest, ignoring: %m");
}

/* The snapshot's manifest for the unchanged-content check: its binary form
 * when that is of this very text, else the text parsed (and, with STORE,
 * compiled for next time). */
static int manifest_load_cached(int snap_fd, uint64_t max_entries, bool store, Manifest **ret, char **ret_reason) {
        uint64_t key[6];
        int r = manifest_key(snap_fd, key);
        if (r < 0)
                return r;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_full_at(snap_fd, SNAPSHOT_MANIFEST_BIN, MANIFEST_MAX_SIZE * 2, &buf, &len) >= 0) {
                r = manifest_decode_binary(buf, len, key, sizeof key, max_entries, ret);
                if (r >= 0 || r == -ENOMEM)
                        return r;
                log_debug_errno(r, "Compiled manifest unusable, parsing the text: %m");
        }
        free(buf);
        buf = NULL;
        r = read_full_at(snap_fd, "manifest", MANIFEST_MAX_SIZE, &buf, &len);
        if (r >= 0)
                r = manifest_parse(buf, len, max_entries, ret, ret_reason);
        if (r >= 0 && store)
                manifest_cache_store(snap_fd, *ret);
        return r;
}

int snapshot_content_changed(int root_fd, const Policy *p, const Component *c, bool refresh_cache,
                             ContentChange *ret) {
        _cleanup_strv_free_ char **roots = NULL;
        int r = snapshot_component_roots(c, &roots);
        if (r < 0)
                return r;
        *ret = (ContentChange) {};
        if (!roots[0])
                return 0; /* No content paths (e.g. only kernel modules): nothing to snapshot. */
        _cleanup_close_ int dir_fd = -1, comp_fd = -1, snap_fd = -1;
        char id[SNAPSHOT_ID_LEN + 1];
        r = snapshot_store_open(root_fd, p, false, &dir_fd);
        if (r >= 0)
                r = snapshot_store_component(dir_fd, c->name, false, &comp_fd);
        if (r >= 0)
                r = snapshot_store_newest_good(comp_fd, &snap_fd, id, NULL);
        if (r == -ENOENT)
                return 0; /* never snapshotted: no baseline */
        if (r < 0)
                return r;
        ret->baseline = true;
        memcpy(ret->baseline_id, id, sizeof id);

        uint64_t max_entries, max_expanded;
        snapshot_limits(p, &max_entries, &max_expanded);
        _cleanup_free_ char *reason = NULL;
        _cleanup_manifest_ Manifest *m = NULL;
        r = manifest_load_cached(snap_fd, max_entries, refresh_cache, &m, &reason);
        if (r < 0) {
                /* An unreadable manifest cannot vouch for anything. */
                log_warning_errno(r, "Snapshot %s/%s: manifest unusable (%s), treating content as changed: %m",
                                  c->name, id, reason ?: "read failed");
                ret->changed = true;
                return 0;
        }

        ManifestDiff d;
        r = manifest_compare_live(root_fd, roots, c->exclude, m, &d);
        if (r < 0)
                return r;
        if (d.cache_updated && refresh_cache) {
                /* Only touched or restored (new inodes): store the new stat
                 * data so that the next check is cheap again. Skipped when
                 * another lastgood holds the store. */
                _cleanup_free_ char *text = NULL;
                size_t tl;
                if (snapshot_store_lock(dir_fd, false) >= 0 && manifest_format(m, &text, &tl) >= 0) {
                        r = write_atomic_at(snap_fd, "manifest", text, tl, 0600);
                        if (r < 0)
                                log_warning_errno(r, "Failed to refresh the stat cache of snapshot %s/%s, ignoring: %m",
                                                  c->name, id);
                        else
                                manifest_cache_store(snap_fd, m);
                }
        }
        ret->changed = d.changed;
        ret->n_changed = d.n_changed;
        ret->n_removed = d.n_removed;
        ret->newest_ctime_usec = (uint64_t) (d.newest_change_ns > 0 ? d.newest_change_ns / 1000 : 0);
        return 0;
}

int snapshot_create_if_changed(int root_fd, const Policy *p, const Component *c, uint64_t not_after_usec,
                               bool *ret_created, char **ret_id, char **ret_newer) {
        ContentChange ch;
        int r = snapshot_content_changed(root_fd, p, c, /* refresh_cache= */ true, &ch);
        if (r < 0)
                return r;
        /* Without a baseline, everything is new: the first snapshot. */
        bool make = ch.changed || !ch.baseline;
        char *id = NULL;
        _cleanup_free_ char *newer = NULL;
        if (make) {
                r = create_snapshot(root_fd, p, c, not_after_usec, &id, &newer);
                if (r == -EAGAIN)
                        make = false; /* not yet known-good: the newest existing one stays */
                else if (r < 0)
                        return r;
        }
        if (!make && ch.baseline) {
                /* The one just compared with: the newest good one. */
                id = strdup(ch.baseline_id);
                if (!id)
                        return -ENOMEM;
        }
        *ret_created = make;
        *ret_id = id;
        if (ret_newer)
                *ret_newer = TAKE_PTR(newer);
        return 0;
}

/* ---- list ---- */

static bool component_entry(int dir_fd, const char *name) {
        return name_is_component(name);
}

static int list_component(int dir_fd, const char *component, SnapshotInfo **list, size_t *n) {
        _cleanup_close_ int comp_fd = -1;
        int r = snapshot_store_component(dir_fd, component, false, &comp_fd);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **ids = NULL;
        r = snapshot_store_ids(comp_fd, &ids);
        if (r < 0)
                return r;
        for (char **id = ids; *id; id++) {
                SnapshotInfo *nl = reallocarray(*list, *n + 1, sizeof(SnapshotInfo));
                if (!nl)
                        return -ENOMEM;
                *list = nl;
                SnapshotInfo *i = &nl[(*n)++];
                *i = (SnapshotInfo) { .component = strdup(component), .id = strdup(*id) };
                if (!i->component || !i->id)
                        return -ENOMEM;
                i->size_bytes = snapshot_store_size(comp_fd, *id);
                _cleanup_close_ int fd = -1;
                SnapshotMeta meta;
                if (snapshot_store_snapshot(comp_fd, *id, &fd) < 0 || snapshot_meta_read(fd, &meta) < 0) {
                        i->bad = true;
                        i->bad_reason = strdup("meta file missing or malformed");
                        continue;
                }
                i->created_usec = meta.created_usec;
                i->content_ctime_usec = meta.content_ctime_usec;
                i->n_entries = meta.n_entries;
                i->expanded_bytes = meta.expanded_bytes;
                i->compression = strdup(meta.compression);
                i->source = strdup(meta.source);
                if (snapshot_store_is_bad(fd)) {
                        i->bad = true;
                        _cleanup_free_ char *why = NULL;
                        if (read_full_at(fd, "bad", 4096, &why, NULL) >= 0) {
                                why[strcspn(why, "\n")] = '\0';
                                i->bad_reason = TAKE_PTR(why);
                        }
                }
        }
        return 0;
}

int snapshot_list(int root_fd, const Policy *p, const char *component, SnapshotInfo **ret, size_t *ret_n) {
        if (component && !name_is_component(component))
                return -EINVAL;
        SnapshotInfo *list = NULL;
        size_t n = 0;
        _cleanup_close_ int dir_fd = -1;
        int r = snapshot_store_open(root_fd, p, false, &dir_fd);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **components = NULL;
        if (component)
                r = strv_push(&components, component);
        else
                r = dir_list_at(dir_fd, component_entry, 0, &components);
        for (char **k = components; r >= 0 && k && *k; k++)
                r = list_component(dir_fd, *k, &list, &n);
        if (r < 0) {
                snapshot_info_free(list, n);
                return r;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int snapshot_store_open_read(int root_fd, const Policy *p, int *ret_fd) {
        return snapshot_store_open(root_fd, p, false, ret_fd);
}

int snapshot_newest_good_info_at(int dir_fd, const char *component, char ret_id[static SNAPSHOT_ID_LEN + 1],
                                 uint64_t *ret_created_usec) {
        _cleanup_close_ int comp_fd = -1, snap_fd = -1;
        SnapshotMeta meta;
        int r = snapshot_store_component(dir_fd, component, false, &comp_fd);
        if (r >= 0)
                r = snapshot_store_newest_good(comp_fd, &snap_fd, ret_id, &meta);
        if (r < 0)
                return r;
        *ret_created_usec = meta.created_usec;
        return 0;
}

/* ---- verify ---- */

static int verify_one(int comp_fd, const Component *c, char *const *roots, const Policy *p, const char *id) {
        _cleanup_close_ int snap_fd = -1;
        int r = snapshot_store_snapshot(comp_fd, id, &snap_fd);
        if (r < 0)
                return r;
        uint64_t max_entries, max_expanded;
        snapshot_limits(p, &max_entries, &max_expanded);
        SnapshotMeta meta;
        _cleanup_manifest_ Manifest *m = NULL;
        _cleanup_free_ char *reason = NULL;
        r = snapshot_store_load(snap_fd, c->name, roots, max_entries, max_expanded, &meta, &m, &reason);
        ArchiveScan s = { .roots = roots,
                          .max_entries = max_entries,
                          .max_expanded_bytes = max_expanded,
                          .progress = snapshot_archive_progress,
                          .progress_userdata = (void *) "verifying" };
        if (r >= 0) {
                const ArchiveLib *al;
                r = archive_lib_load(&al);
                if (r < 0)
                        return r;
                _cleanup_close_ int fd = openat(snap_fd, snapshot_archive_name(meta.compression),
                                                O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        r = -EBADMSG;
                        reason = strdup("archive missing");
                } else {
                        s.expect = m;
                        r = archive_scan_fd(al, fd, &s);
                        if (s.reason) {
                                free(reason);
                                reason = TAKE_PTR(s.reason);
                        }
                }
        }
        archive_scan_done(&s);
        if (r == -EBADMSG || r == -E2BIG || r == -EFBIG) {
                log_error("Snapshot %s/%s failed verification: %s", c->name, id, reason ?: "?");
                int k = snapshot_store_mark_bad(snap_fd, reason);
                if (k < 0)
                        log_warning_errno(k, "Failed to mark snapshot %s/%s bad, ignoring: %m", c->name, id);
                return -EBADMSG;
        }
        if (r >= 0 && snapshot_store_is_bad(snap_fd)) {
                log_error("Snapshot %s/%s was marked bad by an earlier check", c->name, id);
                return -EBADMSG;
        }
        return r;
}

int snapshot_verify(int root_fd, const Policy *p, const Component *c, const char *id) {
        _cleanup_strv_free_ char **roots = NULL;
        int r = snapshot_component_roots(c, &roots);
        if (r < 0)
                return r;
        _cleanup_close_ int dir_fd = -1, comp_fd = -1;
        _cleanup_strv_free_ char **ids = NULL;
        r = snapshot_store_select(root_fd, p, c->name, id, &dir_fd, &comp_fd, &ids);
        if (r < 0)
                return r;
        int ret = 0;
        for (char **i = ids; i && *i; i++) {
                r = verify_one(comp_fd, c, roots, p, *i);
                if (r < 0 && ret >= 0)
                        ret = r;
                if (r < 0 && r != -EBADMSG)
                        break;
        }
        return ret;
}
