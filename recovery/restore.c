/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Restore, import and power-cut recovery of content snapshots.
 *
 * A restore of content path P (e.g. /etc/sensor) goes:
 *   1. intent "stage" written (.work/restore.intent), naming the staging dirs
 *   2. staging dir P/../.lastgood-restore.<component>.<k> created; the archive
 *      is validated entry by entry and extracted there (archive.c)
 *   3. the staged tree is checked against the manifest, owners set, syncfs
 *   4. intent "exchange" written, with the inode of each staged tree
 *   5. renameat2(RENAME_EXCHANGE) staged <-> live (plain rename if P is
 *      missing): P is wholly old or wholly new at every instant
 *   6. what the component's `exclude` names (never in a snapshot, never
 *      extracted) moved from the old content back into the new one, to the
 *      same place, where its directory is part of the restored content
 *   7. the old content (now in the staging dir) moved to the keep dir
 *   8. staging dirs and intent removed
 * A power cut before 4 is undone (staging removed); from 4 on it is finished:
 * an inode comparison tells whether a path was already exchanged, and an
 * excluded entry still in the old content was not moved back yet (the
 * intent keeps the exclude entries: the policy may change meanwhile).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "lib/encode.h"
#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/rootfs.h"
#include "recovery/snapshot-store.h"

#define INTENT_MAGIC "lastgood-restore-intent 1"
#define INTENT_MAX_SIZE (256u * 1024u)

typedef struct IntentRoot {
        char *path;       /* content path, relative to the root */
        bool present;     /* the snapshot holds this path */
        uint64_t new_ino; /* inode of the staged tree (phase "exchange") */
} IntentRoot;

typedef struct Intent {
        char phase[16]; /* "stage" or "exchange" */
        char component[NAME_COMPONENT_MAX + 1];
        char id[SNAPSHOT_ID_LEN + 1];
        char *keep_dir;
        IntentRoot *roots;
        size_t n_roots;
        char **exclude; /* the component's exclude entries */
} Intent;

static void intent_done(Intent *in) {
        for (size_t i = 0; i < in->n_roots; i++)
                free(in->roots[i].path);
        free(in->roots);
        free(in->keep_dir);
        strv_free(in->exclude);
        *in = (Intent) {};
}

static int stage_name(const char *component, size_t k, char buf[static 96]) {
        return xsnprintf(buf, 96, ".lastgood-restore.%s.%zu", component, k);
}

static int intent_write(int work_fd, const Intent *in) {
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%s\nphase %s\ncomponent %s\nsnapshot %s\nkeep ", INTENT_MAGIC, in->phase, in->component,
                in->id);
        pct_token_write(f, in->keep_dir);
        fputc('\n', f);
        for (size_t i = 0; i < in->n_roots; i++) {
                fputs("root ", f);
                pct_token_write(f, in->roots[i].path);
                fprintf(f, " %d %llu\n", in->roots[i].present, (unsigned long long) in->roots[i].new_ino);
        }
        for (char **e = in->exclude; e && *e; e++) {
                fputs("exclude ", f);
                pct_token_write(f, *e);
                fputc('\n', f);
        }
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = memstream_finalize(&m, &buf, &len);
        if (r < 0)
                return r;
        return write_atomic_at(work_fd, SNAPSHOT_INTENT, buf, len, 0600);
}

/* Our own file, but read at boot after a power cut: parse it strictly. */
static int intent_parse(char *buf, Intent *ret) {
        Intent in = {};
        int r = -EBADMSG;
        char *save = NULL;
        size_t lineno = 0;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lineno++) {
                char *arg = strchr(line, ' ');
                if (!arg)
                        goto fail;
                *arg++ = '\0';
                if (lineno == 0) {
                        if (!streq(line, "lastgood-restore-intent") || !streq(arg, "1"))
                                goto fail;
                } else if (lineno == 1 && streq(line, "phase") && (streq(arg, "stage") || streq(arg, "exchange")))
                        strcpy(in.phase, arg);
                else if (lineno == 2 && streq(line, "component") && name_is_component(arg))
                        strcpy(in.component, arg);
                else if (lineno == 3 && streq(line, "snapshot") && snapshot_id_valid(arg))
                        strcpy(in.id, arg);
                else if (lineno == 4 && streq(line, "keep")) {
                        if (pct_token_decode(arg, &in.keep_dir) < 0 || in.keep_dir[0] != '/')
                                goto fail;
                } else if (lineno >= 5 && streq(line, "exclude") && strv_length(in.exclude) < POLICY_MAX_LIST) {
                        _cleanup_free_ char *e = NULL;
                        if (pct_token_decode(arg, &e) < 0 || !name_is_exclude_pattern(e))
                                goto fail;
                        if (strv_push(&in.exclude, e) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                } else if (lineno >= 5 && !in.exclude && streq(line, "root") && in.n_roots < 1024) {
                        char *present = strchr(arg, ' ');
                        char *ino = present ? strchr(present + 1, ' ') : NULL;
                        if (!ino)
                                goto fail;
                        *present++ = '\0';
                        *ino++ = '\0';
                        IntentRoot *nr = reallocarray(in.roots, in.n_roots + 1, sizeof(IntentRoot));
                        if (!nr) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        in.roots = nr;
                        IntentRoot *ir = &in.roots[in.n_roots];
                        *ir = (IntentRoot) {};
                        if (pct_token_decode(arg, &ir->path) < 0)
                                goto fail;
                        in.n_roots++;
                        if (!path_is_safe_relative(ir->path) ||
                            !(streq(present, "0") || streq(present, "1")) || parse_u64(ino, &ir->new_ino) < 0)
                                goto fail;
                        ir->present = streq(present, "1");
                } else
                        goto fail;
        }
        if (lineno < 5)
                goto fail;
        *ret = in;
        return 0;
fail:
        intent_done(&in);
        return r;
}

/* Removes the staging dir STAGE durably, after the fault point FAULT. */
static int remove_stage(int parent_fd, const char *stage, const char *fault) {
        int r = fault_point(fault);
        if (r < 0)
                return r;
        r = rm_rf_at(parent_fd, stage);
        return r < 0 ? r : fsync_dir(parent_fd);
}

/* Moves NAME (old content) from stage_fd to KEEP/<path>, never replacing. */
static int keep_old(int keep_fd, const char *path, int stage_fd, const char *name) {
        _cleanup_close_ int kd = -1;
        const char *slash = strrchr(path, '/');
        if (slash) {
                _cleanup_free_ char *dir = strndup(path, (size_t) (slash - path));
                if (!dir)
                        return -ENOMEM;
                int r = mkdir_p_at(keep_fd, dir, 0700);
                if (r < 0)
                        return r;
                kd = openat(keep_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else
                kd = fcntl(keep_fd, F_DUPFD_CLOEXEC, 3);
        if (kd < 0)
                return -errno;
        for (unsigned i = 0; i < 100; i++) {
                char target[300];
                int r = i == 0 ? xsnprintf(target, sizeof target, "%s", name)
                               : xsnprintf(target, sizeof target, "%s.%u", name, i);
                if (r < 0)
                        return r;
                r = fault_point("restore-keep");
                if (r < 0)
                        return r;
                if (renameat2(stage_fd, name, kd, target, RENAME_NOREPLACE) >= 0) {
                        r = fsync_dir(kd);
                        return r < 0 ? r : fsync_dir(stage_fd);
                }
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

/* ---- excluded state: from the old content into the restored one ---- */

typedef struct KeepExcluded {
        int live_fd;          /* the restored content root (a directory) */
        size_t root_len;      /* of its path: the rest of a path is below it */
        char *const *exclude; /* the intent's */
} KeepExcluded;

/* One entry of the old content: an excluded one goes back to its place in
 * the restored content, if that has its directory (never through a
 * symlink) and nothing at its name; otherwise it stays with the replaced
 * content (said once per entry). */
static int keep_excluded_one(int dir_fd, const char *name, const char *path, const struct stat *st,
                             void *userdata) {
        KeepExcluded *k = userdata;
        if (strlen(path) <= k->root_len)
                return 0; /* the content root itself stays what the restore made it */
        if (!manifest_path_excluded(k->exclude, path))
                /* Below a directory nothing could be excluded in: not worth a look. */
                return S_ISDIR(st->st_mode) && !manifest_path_holds_excluded(k->exclude, path);

        const char *below = path + k->root_len + 1; /* never the root: exclude lies strictly below */
        const char *slash = strrchr(below, '/');
        _cleanup_free_ char *dir = strndup(below, slash ? (size_t) (slash - below) : 0);
        if (!dir)
                return -ENOMEM;
        _cleanup_close_ int to_fd = -1;
        int r = open_dir_nofollow_at(k->live_fd, dir, &to_fd);
        if (r >= 0)
                r = exists_at(to_fd, name, NULL);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -ELOOP)
                return r;
        if (r != 0) {
                log_notice("Excluded /%s has no place in the restored content (%s), leaving it with the "
                           "replaced content",
                           path,
                           r > 0 ? "something else is at its path" : "its directory is not in the snapshot");
                return 1;
        }
        /* Nothing is at its name (checked above, under the store's lock). */
        r = rename_durable(dir_fd, name, to_fd, name);
        if (r < 0)
                return r;
        return 1; /* moved, with all below it */
}

/* Moves what the exclude entries name from the old content (BASE in
 * stage_fd) to the restored one (BASE in parent_fd), before the old content
 * goes to the keep dir: the component's live state stays live. Idempotent:
 * whatever is still in the old content has not been moved yet. */
static int keep_excluded(int parent_fd, int stage_fd, const char *base, const char *path, char *const *exclude) {
        if (!exclude || !exclude[0])
                return 0;
        struct stat st;
        if (fstatat(stage_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
            !manifest_path_holds_excluded(exclude, path))
                return 0; /* no old content, or none of it can be excluded */
        KeepExcluded k = { .live_fd = -1, .root_len = strlen(path), .exclude = exclude };
        _cleanup_close_ int live_fd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (live_fd < 0) {
                if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
                        return -errno;
                log_notice("Excluded state below /%s has no place in the restored content (the snapshot "
                           "has no directory there), leaving it with the replaced content",
                           path);
                return 0;
        }
        k.live_fd = live_fd;
        return manifest_walk_at(stage_fd, base, path, NULL, keep_excluded_one, &k);
}

static int finish_root(int root_fd, int keep_fd, const Intent *in, size_t k) {
        const IntentRoot *ir = &in->roots[k];
        char stage[96];
        int r = stage_name(in->component, k, stage);
        if (r < 0)
                return r;
        _cleanup_close_ int parent_fd = -1;
        const char *base;
        r = root_open_parent(root_fd, ir->path, true, &parent_fd, &base);
        if (r < 0)
                return r;
        _cleanup_close_ int stage_fd = openat(parent_fd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (stage_fd < 0)
                return errno == ENOENT ? 0 : -errno; /* finished before the interruption */

        struct stat live, staged;
        bool has_live = fstatat(parent_fd, base, &live, AT_SYMLINK_NOFOLLOW) >= 0;
        bool has_staged = fstatat(stage_fd, base, &staged, AT_SYMLINK_NOFOLLOW) >= 0;
        if (ir->present) {
                if (has_live && live.st_ino == ir->new_ino)
                        ; /* exchanged before the interruption */
                else if (has_staged && staged.st_ino == ir->new_ino) {
                        r = fault_point("restore-exchange");
                        if (r < 0)
                                return r;
                        if (has_live ? renameat2(stage_fd, base, parent_fd, base, RENAME_EXCHANGE) < 0
                                     : renameat(stage_fd, base, parent_fd, base) < 0)
                                return -errno;
                        r = fsync_dir(parent_fd);
                        if (r >= 0)
                                r = fsync_dir(stage_fd);
                        if (r < 0)
                                return r;
                } else {
                        log_error("Restore of /%s: the staged content is gone and the live one is not it; leaving %s in place",
                                  ir->path, stage);
                        return -ESTALE;
                }
        } else if (has_live && !has_staged) {
                /* The snapshot has no such path: the live one goes aside. */
                r = fault_point("restore-exchange");
                if (r < 0)
                        return r;
                if (renameat2(parent_fd, base, stage_fd, base, RENAME_NOREPLACE) < 0)
                        return -errno;
                r = fsync_dir(parent_fd);
                if (r >= 0)
                        r = fsync_dir(stage_fd);
                if (r < 0)
                        return r;
        }

        r = keep_excluded(parent_fd, stage_fd, base, ir->path, in->exclude);
        if (r < 0)
                return r;

        /* Whatever is left in the staging dir is the replaced content. */
        if (fstatat(stage_fd, base, &staged, AT_SYMLINK_NOFOLLOW) >= 0) {
                r = keep_old(keep_fd, ir->path, stage_fd, base);
                if (r == -EXDEV) {
                        /* The keep dir is on another filesystem: leave the old
                         * content beside the live one rather than copy it. */
                        char aside[160];
                        r = xsnprintf(aside, sizeof aside, ".lastgood-replaced.%s.%s.%zu", in->component,
                                      in->id, k);
                        if (r < 0)
                                return r;
                        log_notice("Replaced content of /%s kept in %s beside it (keep dir on another filesystem)",
                                   ir->path, aside);
                        return rename_durable(parent_fd, stage, parent_fd, aside);
                }
                if (r < 0)
                        return r;
        }
        return remove_stage(parent_fd, stage, "restore-cleanup");
}

static int restore_finish(int root_fd, int work_fd, const Intent *in) {
        _cleanup_close_ int keep_fd = -1;
        int r = root_open_dir(root_fd, in->keep_dir, true, 0700, &keep_fd);
        if (r < 0)
                return r;
        for (size_t k = 0; k < in->n_roots; k++) {
                r = finish_root(root_fd, keep_fd, in, k);
                if (r < 0)
                        return r;
        }
        r = fault_point("restore-done");
        if (r < 0)
                return r;
        if (unlinkat(work_fd, SNAPSHOT_INTENT, 0) < 0 && errno != ENOENT)
                return -errno;
        return fsync_dir(work_fd);
}

static int restore_undo(int root_fd, int work_fd, const Intent *in) {
        for (size_t k = 0; k < in->n_roots; k++) {
                char stage[96];
                int r = stage_name(in->component, k, stage);
                if (r < 0)
                        return r;
                _cleanup_close_ int parent_fd = -1;
                const char *base;
                r = root_open_parent(root_fd, in->roots[k].path, false, &parent_fd, &base);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = remove_stage(parent_fd, stage, "restore-undo");
                if (r < 0)
                        return r;
        }
        int r = fault_point("restore-undo");
        if (r < 0)
                return r;
        if (unlinkat(work_fd, SNAPSHOT_INTENT, 0) < 0 && errno != ENOENT)
                return -errno;
        return fsync_dir(work_fd);
}

/* ---- checking the staged tree ---- */

typedef struct StageCheck {
        const Manifest *m;
        size_t count;
        char *reason;
} StageCheck;

static int stage_refuse(StageCheck *x, const char *path, const char *what) {
        _cleanup_free_ char *esc = pct_token_encode(path);
        if (asprintf(&x->reason, "entry '%s': %s", esc ?: "?", what) < 0)
                x->reason = NULL;
        return -EBADMSG;
}

/* The staged entry has exactly the manifest's xattrs: a capability dropped
 * (by a chown, a failed setxattr) or added fails the restore before the
 * swap. One exception: an LSM label the manifest does not record, which the
 * kernel gives every new file by itself where SELinux or SMACK runs (a
 * snapshot taken before it was enabled). A version 1 manifest records
 * nothing to compare with. */
static int stage_check_xattrs(StageCheck *x, int dir_fd, const char *name, const char *path,
                              const struct stat *st, const ManifestEntry *e) {
        if (!x->m->xattrs_known)
                return 0;
        _cleanup_(manifest_xattrs_done) ManifestXattrs xa = {};
        int r = manifest_xattrs_read(dir_fd, name, -1, st, &xa);
        if (r < 0)
                return r;
        for (size_t i = 0; i < xa.n;) {
                if (manifest_xattr_name_is_lsm_label(xa.items[i].name) &&
                    !manifest_xattrs_has(e->xattrs, xa.items[i].name)) {
                        free(xa.items[i].name);
                        free(xa.items[i].value);
                        memmove(xa.items + i, xa.items + i + 1, (xa.n - i - 1) * sizeof(ManifestXattr));
                        xa.n--;
                } else
                        i++;
        }
        _cleanup_free_ char *now = NULL;
        r = manifest_xattrs_format(&xa, &now);
        if (r < 0)
                return r;
        if (manifest_xattrs_equal(now, e->xattrs))
                return 0;
        _cleanup_free_ char *want = manifest_xattrs_names(e->xattrs), *got = manifest_xattrs_names(now);
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "extracted with other extended attributes than the manifest's (manifest: %s; extracted: %s)",
                     want ?: "?", got ?: "?") < 0)
                return -ENOMEM;
        return stage_refuse(x, path, what);
}

static int stage_check_one(int dir_fd, const char *name, const char *path, const struct stat *st, void *userdata) {
        StageCheck *x = userdata;
        ssize_t i = manifest_find(x->m, path);
        if (i < 0)
                return stage_refuse(x, path, "extraction produced an entry that is not in the manifest");
        const ManifestEntry *e = &x->m->entries[i];
        x->count++;
        ManifestEntry now = {};
        manifest_entry_from_stat(&now, st);
        if (now.type != e->type)
                return stage_refuse(x, path, "extracted with another type than the manifest's");
        if (now.uid != e->uid || now.gid != e->gid) {
                /* Owners come from the manifest, not from the archive. chown
                 * clears setuid/setgid: set the mode again after it. */
                if (fchownat(dir_fd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (e->type != 'l' && fchmodat(dir_fd, name, e->mode, 0) < 0)
                        return -errno;
                struct stat again;
                if (fstatat(dir_fd, name, &again, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                manifest_entry_from_stat(&now, &again);
        }
        if (now.mode != e->mode)
                return stage_refuse(x, path, "extracted with another mode than the manifest's");
        if (e->type == 'f' && now.size != e->size)
                return stage_refuse(x, path, "extracted with another size than the manifest's");
        if (e->type == 'l') {
                char buf[MANIFEST_PATH_MAX + 2];
                ssize_t l = readlinkat(dir_fd, name, buf, sizeof buf - 1);
                if (l < 0)
                        return -errno;
                buf[l] = '\0';
                if (!streq(buf, e->target))
                        return stage_refuse(x, path, "extracted with another symlink target than the manifest's");
        }
        return stage_check_xattrs(x, dir_fd, name, path, st, e);
}

/* ---- restore ---- */

typedef struct RestoreCtx {
        int root_fd;
        const Policy *p;
        const Component *c;
        char **roots;
        size_t n_roots;
        int comp_fd, work_fd;
        const char *keep_dir;
} RestoreCtx;

static int refused(int snap_fd, const char *component, const char *id, const char *reason) {
        log_error("Refusing snapshot %s/%s: %s", component, id, reason ?: "invalid");
        int k = snapshot_store_mark_bad(snap_fd, reason);
        if (k < 0)
                log_warning_errno(k, "Failed to mark snapshot %s/%s bad, ignoring: %m", component, id);
        return -EBADMSG;
}

static bool is_refusal(int r) {
        return r == -EBADMSG || r == -E2BIG || r == -EFBIG;
}

static int restore_one(RestoreCtx *x, const char *id) {
        const char *component = x->c->name;
        _cleanup_close_ int snap_fd = -1;
        int r = snapshot_store_snapshot(x->comp_fd, id, &snap_fd);
        if (r < 0)
                return r;
        if (snapshot_store_is_bad(snap_fd)) {
                log_error("Refusing snapshot %s/%s: it failed verification before", component, id);
                return -EBADMSG;
        }

        uint64_t max_entries, max_expanded;
        snapshot_limits(x->p, &max_entries, &max_expanded);
        SnapshotMeta meta;
        _cleanup_manifest_ Manifest *m = NULL;
        _cleanup_free_ char *reason = NULL;
        r = snapshot_store_load(snap_fd, component, x->roots, max_entries, max_expanded, &meta, &m, &reason);
        if (is_refusal(r))
                return refused(snap_fd, component, id, reason);
        if (r < 0)
                return r;
        const ArchiveLib *al;
        r = archive_lib_load(&al);
        if (r < 0)
                return r;
        _cleanup_close_ int archive_fd =
                openat(snap_fd, snapshot_archive_name(meta.compression), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (archive_fd < 0)
                return errno == ENOENT ? refused(snap_fd, component, id, "archive missing") : -errno;

        Intent in = { .n_roots = x->n_roots };
        snprintf(in.phase, sizeof in.phase, "stage");
        snprintf(in.component, sizeof in.component, "%s", component);
        snprintf(in.id, sizeof in.id, "%s", id);
        in.keep_dir = (char *) x->keep_dir;
        in.exclude = x->c->exclude; /* borrowed, as keep_dir */
        _cleanup_free_ IntentRoot *iroots = calloc(x->n_roots + 1, sizeof(IntentRoot));
        _cleanup_free_ int *parent_fd = calloc(x->n_roots + 1, sizeof(int));
        _cleanup_free_ int *stage_fd = calloc(x->n_roots + 1, sizeof(int));
        _cleanup_free_ const char **base = calloc(x->n_roots + 1, sizeof(char *));
        if (!iroots || !parent_fd || !stage_fd || !base)
                return -ENOMEM;
        in.roots = iroots;
        for (size_t k = 0; k < x->n_roots; k++)
                parent_fd[k] = stage_fd[k] = -1;

        bool staged = false;
        for (size_t k = 0; k < x->n_roots; k++) {
                iroots[k].path = x->roots[k];
                iroots[k].present = manifest_find(m, x->roots[k]) >= 0;
                r = root_open_parent(x->root_fd, x->roots[k], true, &parent_fd[k], &base[k]);
                if (r < 0)
                        goto out;
                char stage[96];
                r = stage_name(component, k, stage);
                if (r < 0)
                        goto out;
                r = rm_rf_at(parent_fd[k], stage); /* stale, from a crash before any intent */
                if (r < 0)
                        goto out;
        }
        r = intent_write(x->work_fd, &in);
        if (r < 0)
                goto out;
        staged = true;
        for (size_t k = 0; k < x->n_roots; k++) {
                char stage[96];
                r = stage_name(component, k, stage);
                if (r >= 0)
                        r = fault_point("restore-stage");
                if (r < 0)
                        goto out;
                if (mkdirat(parent_fd[k], stage, 0700) < 0 ||
                    (stage_fd[k] = openat(parent_fd[k], stage,
                                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
                        r = -errno;
                        goto out;
                }
        }

        ArchiveScan s = { .roots = x->roots,
                          .exclude = x->c->exclude,
                          .expect = m,
                          .max_entries = max_entries,
                          .max_expanded_bytes = max_expanded,
                          .stage_fds = stage_fd,
                          .progress = snapshot_archive_progress,
                          .progress_userdata = (void *) "restoring" };
        r = archive_scan_fd(al, archive_fd, &s);
        if (r < 0 && s.reason) {
                free(reason);
                reason = TAKE_PTR(s.reason);
        }
        archive_scan_done(&s);

        for (size_t k = 0; r >= 0 && k < x->n_roots; k++) {
                if (!iroots[k].present)
                        continue;
                StageCheck sc = { .m = m };
                r = manifest_walk_at(stage_fd[k], base[k], x->roots[k], x->c->exclude, stage_check_one, &sc);
                /* Excluded entries of an older snapshot were not extracted. */
                size_t expected = 0;
                for (size_t i = 0; i < m->n; i++)
                        if (manifest_roots_find(x->roots, m->entries[i].path) == (ssize_t) k &&
                            !manifest_path_excluded(x->c->exclude, m->entries[i].path))
                                expected++;
                if (r >= 0 && sc.count != expected)
                        r = stage_refuse(&sc, x->roots[k], "extracted tree does not match the manifest");
                if (sc.reason) {
                        free(reason);
                        reason = TAKE_PTR(sc.reason);
                }
        }
        /* Make the new trees durable before the exchange makes them live;
         * one syncfs per filesystem instead of an fsync per file. */
        for (size_t k = 0; r >= 0 && k < x->n_roots; k++)
                if (syncfs(stage_fd[k]) < 0)
                        r = -errno;
        for (size_t k = 0; r >= 0 && k < x->n_roots; k++) {
                struct stat st;
                if (!iroots[k].present)
                        continue;
                if (fstatat(stage_fd[k], base[k], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else
                        iroots[k].new_ino = st.st_ino;
        }
        if (r >= 0) {
                snprintf(in.phase, sizeof in.phase, "exchange");
                r = intent_write(x->work_fd, &in);
        }
        if (r >= 0) {
                /* From here on, never undo: the exchange may have happened.
                 * A failure leaves the intent for snapshot_recover_interrupted()
                 * to finish. */
                staged = false;
                r = restore_finish(x->root_fd, x->work_fd, &in);
        } else {
                int k = restore_undo(x->root_fd, x->work_fd, &in);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove the staging directories of %s, ignoring: %m",
                                          component);
                staged = false;
        }
out:
        if (r < 0 && staged) {
                int k = restore_undo(x->root_fd, x->work_fd, &in);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove the staging directories of %s, ignoring: %m",
                                          component);
        }
        for (size_t k = 0; k < x->n_roots; k++) {
                closep(&parent_fd[k]);
                closep(&stage_fd[k]);
        }
        if (is_refusal(r))
                return refused(snap_fd, component, id, reason);
        if (r < 0 && reason)
                log_error("Restore of %s from %s failed: %s", component, id, reason);
        return r;
}

int snapshot_default_keep_dir(const char *component, char **ret) {
        if (!name_is_component(component))
                return -EINVAL;
        char stamp[UTC_STAMP_LEN + 1];
        format_utc_stamp(stamp, now_realtime_usec());
        return asprintf(ret, LASTGOOD_REPLACED_DIR "/%s/%s", component, stamp) < 0 ? -ENOMEM : 0;
}

int snapshot_restore(int root_fd, const Policy *p, const Component *c, const char *id, uint64_t before_usec,
                     const char *keep_dir, char **ret_id) {
        _cleanup_strv_free_ char **roots = NULL;
        int r = snapshot_component_roots(c, &roots);
        if (r < 0)
                return r;
        if (id && !snapshot_id_valid(id))
                return -EINVAL; /* before the keep dir: its default needs no store */

        _cleanup_free_ char *keep_default = NULL;
        if (!keep_dir) {
                r = snapshot_default_keep_dir(c->name, &keep_default);
                if (r < 0)
                        return r;
                keep_dir = keep_default;
        }
        /* The replaced content must not land inside the content itself. */
        if (keep_dir[0] != '/' || manifest_roots_find(roots, keep_dir + 1) >= 0)
                return -EINVAL;

        _cleanup_close_ int dir_fd = -1, comp_fd = -1, work_fd = -1;
        _cleanup_strv_free_ char **ids = NULL;
        r = snapshot_store_select(root_fd, p, c->name, id, &dir_fd, &comp_fd, &ids);
        if (r < 0)
                return r;
        r = snapshot_store_work(dir_fd, &work_fd);
        if (r < 0)
                return r;

        RestoreCtx x = { .root_fd = root_fd,
                         .p = p,
                         .c = c,
                         .roots = roots,
                         .n_roots = strv_length(roots),
                         .comp_fd = comp_fd,
                         .work_fd = work_fd,
                         .keep_dir = keep_dir };
        int ret = -ENOENT;
        for (size_t i = strv_length(ids); i > 0; i--) {
                const char *cand = ids[i - 1];
                if (!id) {
                        _cleanup_close_ int fd = -1;
                        SnapshotMeta meta;
                        bool opened = snapshot_store_snapshot(comp_fd, cand, &fd) >= 0;
                        /* BEFORE_USEC is a ctime, which the kernel takes from a
                         * coarse clock (up to a tick behind the real time):
                         * compare it with the snapshot content's newest ctime,
                         * not with its creation time, or a change made within
                         * a tick of the snapshot would seem to predate it. */
                        if (before_usec > 0 && (!opened || snapshot_meta_read(fd, &meta) < 0 ||
                                                meta.content_ctime_usec >= before_usec))
                                continue;
                        if (opened && snapshot_store_is_bad(fd))
                                continue; /* known bad: not even a candidate */
                }
                ret = restore_one(&x, cand);
                if (ret >= 0) {
                        snapshot_store_work_done(dir_fd);
                        char *s = strdup(cand);
                        if (!s)
                                return -ENOMEM;
                        *ret_id = s;
                        return 0;
                }
                if (ret != -EBADMSG || id)
                        break;
                log_warning("Snapshot %s/%s is not usable, trying an older one", c->name, cand);
        }
        snapshot_store_work_done(dir_fd);
        return ret;
}

/* ---- import ---- */

int snapshot_import(int root_fd, const Policy *p, const Component *c, const char *host_file, char **ret_id) {
        _cleanup_strv_free_ char **roots = NULL;
        int r = snapshot_component_roots(c, &roots);
        if (r < 0)
                return r;
        _cleanup_close_ int in_fd = open(host_file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (in_fd < 0)
                return -errno;
        struct stat st;
        if (fstat(in_fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        const ArchiveLib *al;
        r = archive_lib_load(&al);
        if (r < 0)
                return r;

        _cleanup_(snapshot_txn_done) SnapshotTxn t = SNAPSHOT_TXN_INIT;
        _cleanup_close_ int tmp_fd = -1, out_fd = -1;
        r = snapshot_txn_begin(root_fd, p, c->name, "import", &t);
        if (r < 0)
                return r;
        r = snapshot_txn_mkdir(&t, &tmp_fd);
        if (r < 0)
                return r;

        uint64_t max_entries, max_expanded;
        snapshot_limits(p, &max_entries, &max_expanded);
        SnapshotMeta meta = {};
        snprintf(meta.component, sizeof meta.component, "%s", c->name);
        /* Excluded entries are checked, then dropped: never snapshotted. */
        ArchiveScan s = { .roots = roots,
                          .exclude = c->exclude,
                          .max_entries = max_entries,
                          .max_expanded_bytes = max_expanded,
                          .progress = snapshot_archive_progress,
                          .progress_userdata = (void *) "importing" };
        struct archive *w = NULL;
        const char *comp = NULL;
        r = fault_point("snapshot-archive");
        if (r >= 0) {
                out_fd = openat(tmp_fd, snapshot_archive_name(al->have_zstd ? "zstd" : "gzip"),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                r = out_fd < 0 ? -errno : archive_writer_new(al, out_fd, &w, &comp);
        }
        if (r >= 0) {
                s.repack = w;
                r = archive_scan_fd(al, in_fd, &s);
        }
        if (w) {
                if (al->archive_write_close(w) != ARCHIVE_OK && r >= 0)
                        r = -EIO;
                al->archive_write_free(w);
        }
        if (r >= 0 && fsync(out_fd) < 0)
                r = -errno;
        if (r >= 0) {
                s.found->created_ns = manifest_now_ns();
                snprintf(meta.compression, sizeof meta.compression, "%s", comp);
                meta.created_usec = now_realtime_usec();
                meta.content_ctime_usec = meta.created_usec;
                meta.n_entries = s.found->n;
                meta.expanded_bytes = s.expanded_bytes;
                snprintf(meta.source, sizeof meta.source, "import");
                r = snapshot_store_commit(t.dir_fd, t.work_fd, tmp_fd, t.tmp, t.comp_fd, t.id, s.found, &meta, p);
        }
        if (r < 0) {
                if (s.reason)
                        log_error("Refusing import of '%s' for component %s: %s", host_file, c->name, s.reason);
                int k = rm_rf_at(t.work_fd, t.tmp);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove %s, ignoring: %m", t.tmp);
        }
        archive_scan_done(&s);
        snapshot_store_work_done(t.dir_fd);
        if (r < 0)
                return is_refusal(r) ? -EBADMSG : r;
        char *d = strdup(t.id);
        if (!d)
                return -ENOMEM;
        *ret_id = d;
        return 0;
}

/* ---- recovery at boot ---- */

/* Removes one leftover of the work dir, going on past a failure (the first
 * is kept). */
static int cleanup_one(int dir_fd, const char *name, void *userdata) {
        int *first = userdata;
        int k = fault_point("snapshot-cleanup");
        if (k >= 0)
                k = rm_rf_at(dir_fd, name);
        if (k < 0 && *first == 0)
                *first = k;
        return 0;
}

int snapshot_recover_interrupted(int root_fd, const Policy *p) {
        /* The fast path: no .work dir, nothing was interrupted. */
        _cleanup_free_ char *work = NULL;
        if (asprintf(&work, "%s/" SNAPSHOT_WORK_DIR, snapshot_store_dir(p)) < 0)
                return -ENOMEM;
        int probe = root_openat(root_fd, work, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
        if (probe == -ENOENT)
                return 0;
        if (probe < 0)
                return probe;
        close(probe);

        _cleanup_close_ int dir_fd = -1, work_fd = -1;
        int r = snapshot_store_open(root_fd, p, false, &dir_fd);
        if (r < 0)
                return r;
        /* Whoever holds the lock is still working: nothing is interrupted. */
        r = snapshot_store_lock(dir_fd, false);
        if (r < 0)
                return r;
        work_fd = openat(dir_fd, SNAPSHOT_WORK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (work_fd < 0)
                return errno == ENOENT ? 0 : -errno;

        _cleanup_free_ char *buf = NULL;
        r = read_full_at(work_fd, SNAPSHOT_INTENT, INTENT_MAX_SIZE, &buf, NULL);
        if (r >= 0) {
                Intent in = {};
                r = intent_parse(buf, &in);
                if (r < 0) {
                        log_error_errno(r, "Restore intent unreadable; moving it aside to %s/.corrupt-intent: %m",
                                        p->snapshots.dir ?: "snapshots dir");
                        r = rename_durable(work_fd, SNAPSHOT_INTENT, dir_fd, ".corrupt-intent");
                        if (r < 0)
                                return r;
                } else {
                        bool forward = streq(in.phase, "exchange");
                        log_notice("Finishing an interrupted restore of %s from %s (%s)", in.component, in.id,
                                   forward ? "completing the exchange" : "removing the staging directories");
                        r = forward ? restore_finish(root_fd, work_fd, &in)
                                    : restore_undo(root_fd, work_fd, &in);
                        intent_done(&in);
                        if (r < 0)
                                return r;
                }
        } else if (r != -ENOENT)
                return r;

        /* Temp dirs of interrupted snapshots, imports and deletions. */
        int first = 0;
        r = dir_for_each_at(work_fd, cleanup_one, &first);
        if (r >= 0)
                r = first;
        if (r < 0)
                return r;
        snapshot_store_work_done(dir_fd);
        return 1;
}
