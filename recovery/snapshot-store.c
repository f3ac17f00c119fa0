/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The on-disk snapshot store (see snapshot.h for the layout): ids, the
 * store and component directories and their lock, meta files, loading,
 * committing and pruning snapshots, and the limits and progress every
 * snapshot operation shares. Creation, listing and verification are in
 * snapshot.c; restore, import and power-cut recovery in restore.c.
 */
#include "recovery/snapshot-store.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/file.h>

#include "lib/encode.h"
#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/rootfs.h"

static SnapshotProgressFn progress_fn;
static void *progress_userdata;

void snapshot_set_progress(SnapshotProgressFn fn, void *userdata) {
        progress_fn = fn;
        progress_userdata = userdata;
}

void snapshot_progress(const char *what, uint64_t entries, uint64_t bytes) {
        if (progress_fn)
                progress_fn(what, entries, bytes, progress_userdata);
}

void snapshot_archive_progress(uint64_t entries, uint64_t bytes, void *userdata) {
        snapshot_progress(userdata, entries, bytes);
}

int snapshot_component_roots(const Component *c, char ***ret_roots) {
        if (!c || !name_is_component(c->name))
                return -EINVAL;
        for (char *const *path = c->content; path && *path; path++)
                if (!name_is_content_path(*path))
                        return -EINVAL;
        return manifest_roots(c->content, ret_roots);
}

void snapshot_limits(const Policy *p, uint64_t *ret_max_entries, uint64_t *ret_max_expanded) {
        /* 0 (a Policy not filled by the loader) means the built-in default. */
        uint64_t entries = p->snapshots.max_entries ?: 1000000;
        uint64_t bytes = p->snapshots.max_expanded_bytes ?: 8ULL << 30;
#ifdef LASTGOOD_FAULT_INJECTION
        uint64_t v;
        const char *e = getenv("LASTGOOD_TEST_MAX_ENTRIES");
        if (e && parse_u64(e, &v) >= 0)
                entries = v;
        e = getenv("LASTGOOD_TEST_MAX_EXPANDED_BYTES");
        if (e && parse_u64(e, &v) >= 0)
                bytes = v;
#endif
        *ret_max_entries = entries;
        *ret_max_expanded = bytes;
}

/* ---- ids ---- */

bool snapshot_id_valid(const char *id) {
        static const char pattern[] = "ddddddddTddddddZ-ddd";
        if (!id || strlen(id) != SNAPSHOT_ID_LEN)
                return false;
        for (size_t i = 0; i < SNAPSHOT_ID_LEN; i++)
                if (pattern[i] == 'd' ? !isdigit((unsigned char) id[i]) : id[i] != pattern[i])
                        return false;
        return true;
}

const char *snapshot_archive_name(const char *compression) {
        if (streq(compression, "zstd"))
                return "content.tar.zst";
        if (streq(compression, "gzip"))
                return "content.tar.gz";
        return NULL;
}

static bool id_entry(int dir_fd, const char *name) {
        return snapshot_id_valid(name);
}

int snapshot_store_ids(int comp_fd, char ***ret) {
        /* Ids sort by creation: the oldest first. */
        return dir_list_at(comp_fd, id_entry, 0, ret);
}

int snapshot_store_new_id(int comp_fd, char ret[static SNAPSHOT_ID_LEN + 1]) {
        _cleanup_strv_free_ char **ids = NULL;
        int r = snapshot_store_ids(comp_fd, &ids);
        if (r < 0)
                return r;
        char stamp[UTC_STAMP_LEN + 1];
        format_utc_stamp(stamp, now_realtime_usec());
        unsigned seq = 0;
        size_t n = strv_length(ids);
        if (n > 0 && strncmp(ids[n - 1], stamp, 16) >= 0) {
                /* Same second, or the clock went back: stay after the newest
                 * so that id order remains creation order. */
                memcpy(stamp, ids[n - 1], 16);
                seq = (unsigned) strtoul(ids[n - 1] + 17, NULL, 10) + 1;
                if (seq > 999)
                        return -EBUSY;
        }
        return xsnprintf(ret, SNAPSHOT_ID_LEN + 1, "%s-%03u", stamp, seq);
}

/* ---- the store ---- */

const char *snapshot_store_dir(const Policy *p) {
        return p->snapshots.dir ?: LASTGOOD_SNAPSHOT_DIR_DEFAULT;
}

int snapshot_store_open(int root_fd, const Policy *p, bool create, int *ret_fd) {
        return root_open_dir(root_fd, snapshot_store_dir(p), create, 0700, ret_fd);
}

int snapshot_store_lock(int dir_fd, bool wait) {
        if (flock(dir_fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        return 0;
}

static int open_subdir(int dir_fd, const char *name, bool create, int *ret_fd) {
        if (create) {
                int r = fault_point("snapshot-mkdir");
                if (r < 0)
                        return r;
                if (mkdirat(dir_fd, name, 0700) < 0 && errno != EEXIST)
                        return -errno;
        }
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int snapshot_store_work(int dir_fd, int *ret_fd) {
        return open_subdir(dir_fd, SNAPSHOT_WORK_DIR, true, ret_fd);
}

void snapshot_store_work_done(int dir_fd) {
        if (fault_point("snapshot-work-done") < 0)
                return;
        if (unlinkat(dir_fd, SNAPSHOT_WORK_DIR, AT_REMOVEDIR) >= 0)
                (void) !fsync_dir(dir_fd);
}

int snapshot_store_component(int dir_fd, const char *component, bool create, int *ret_fd) {
        if (!name_is_component(component))
                return -EINVAL;
        return open_subdir(dir_fd, component, create, ret_fd);
}

int snapshot_store_snapshot(int comp_fd, const char *id, int *ret_fd) {
        int fd = openat(comp_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int snapshot_store_select(int root_fd, const Policy *p, const char *component, const char *id,
                          int *ret_dir_fd, int *ret_comp_fd, char ***ret_ids) {
        if (id && !snapshot_id_valid(id))
                return -EINVAL;
        _cleanup_close_ int dir_fd = -1, comp_fd = -1;
        int r = snapshot_store_open(root_fd, p, false, &dir_fd);
        if (r < 0)
                return r;
        r = snapshot_store_lock(dir_fd, true);
        if (r < 0)
                return r;
        r = snapshot_store_component(dir_fd, component, false, &comp_fd);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **ids = NULL;
        if (id)
                r = strv_push(&ids, id);
        else
                r = snapshot_store_ids(comp_fd, &ids);
        if (r < 0)
                return r;
        *ret_dir_fd = TAKE_FD(dir_fd);
        *ret_comp_fd = TAKE_FD(comp_fd);
        *ret_ids = TAKE_PTR(ids);
        return 0;
}

bool snapshot_store_is_bad(int snap_fd) {
        return faccessat(snap_fd, "bad", F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

int snapshot_store_mark_bad(int snap_fd, const char *reason) {
        _cleanup_free_ char *text = NULL;
        if (asprintf(&text, "%s\n", reason ?: "failed verification") < 0)
                return -ENOMEM;
        return write_atomic_at(snap_fd, "bad", text, strlen(text), 0600);
}

/* ---- meta ---- */

static int meta_format(const SnapshotMeta *m, char **ret) {
        int k = asprintf(ret,
                         "lastgood-snapshot 1\n"
                         "component %s\n"
                         "created_usec %llu\n"
                         "content_ctime_usec %llu\n"
                         "compression %s\n"
                         "entries %llu\n"
                         "expanded_bytes %llu\n"
                         "source %s\n",
                         m->component, (unsigned long long) m->created_usec,
                         (unsigned long long) m->content_ctime_usec, m->compression,
                         (unsigned long long) m->n_entries, (unsigned long long) m->expanded_bytes, m->source);
        return k < 0 ? -ENOMEM : 0;
}

/* Takes the value of "KEY VALUE\n" at *p, advancing *p. */
static const char *meta_field(char **p, const char *key) {
        size_t kl = strlen(key);
        if (!strneq(*p, key, kl) || (*p)[kl] != ' ')
                return NULL;
        char *v = *p + kl + 1;
        char *nl = strchr(v, '\n');
        if (!nl)
                return NULL;
        *nl = '\0';
        *p = nl + 1;
        return v;
}

int snapshot_meta_read(int snap_fd, SnapshotMeta *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_full_at(snap_fd, "meta", SNAPSHOT_META_MAX, &buf, &len);
        if (r < 0)
                return r == -EFBIG ? -EBADMSG : r;
        if (strlen(buf) != len)
                return -EBADMSG;
        SnapshotMeta m = {};
        char *p = buf;
        const char *v;
        if (!strneq(p, "lastgood-snapshot 1\n", 20))
                return -EBADMSG;
        p += 20;
        if (!(v = meta_field(&p, "component")) || !name_is_component(v))
                return -EBADMSG;
        strcpy(m.component, v);
        if (!(v = meta_field(&p, "created_usec")) || parse_u64(v, &m.created_usec) < 0)
                return -EBADMSG;
        if (!(v = meta_field(&p, "content_ctime_usec")) || parse_u64(v, &m.content_ctime_usec) < 0)
                return -EBADMSG;
        if (!(v = meta_field(&p, "compression")) || !snapshot_archive_name(v))
                return -EBADMSG;
        strcpy(m.compression, v);
        if (!(v = meta_field(&p, "entries")) || parse_u64(v, &m.n_entries) < 0)
                return -EBADMSG;
        if (!(v = meta_field(&p, "expanded_bytes")) || parse_u64(v, &m.expanded_bytes) < 0)
                return -EBADMSG;
        if (!(v = meta_field(&p, "source")) || !(streq(v, "create") || streq(v, "import")))
                return -EBADMSG;
        strcpy(m.source, v);
        if (*p != '\0')
                return -EBADMSG;
        *ret = m;
        return 0;
}

int snapshot_store_load(int snap_fd, const char *component, char *const *roots, uint64_t max_entries,
                        uint64_t max_expanded, SnapshotMeta *ret_meta, Manifest **ret_manifest,
                        char **ret_reason) {
        SnapshotMeta meta;
        int r = snapshot_meta_read(snap_fd, &meta);
        if (r == -EBADMSG || r == -ENOENT) {
                *ret_reason = strdup("meta file missing or malformed");
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        if (!streq(meta.component, component)) {
                manifest_set_reason(ret_reason, "belongs to component '%s'", meta.component);
                return -EBADMSG;
        }

        _cleanup_free_ char *buf = NULL;
        size_t len;
        r = read_full_at(snap_fd, "manifest", MANIFEST_MAX_SIZE, &buf, &len);
        if (r == -EFBIG) {
                *ret_reason = strdup("manifest too large");
                return -EBADMSG;
        }
        if (r == -ENOENT) {
                *ret_reason = strdup("manifest missing");
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        _cleanup_manifest_ Manifest *m = NULL;
        r = manifest_parse(buf, len, max_entries, &m, ret_reason);
        if (r == -E2BIG)
                manifest_set_reason(ret_reason, "manifest has more than %llu entries (snapshots.max_entries)",
                                    (unsigned long long) max_entries);
        if (r < 0)
                return r;
        r = manifest_check_roots(m, roots, ret_reason);
        if (r < 0)
                return r;
        uint64_t total = 0;
        for (size_t i = 0; i < m->n; i++) {
                if (m->entries[i].size > max_expanded - total) {
                        _cleanup_free_ char *esc = pct_token_encode(m->entries[i].path);
                        manifest_set_reason(ret_reason,
                                            "entry '%s': expanded size exceeds %llu bytes (snapshots.max_expanded_bytes)",
                                            esc ?: "?", (unsigned long long) max_expanded);
                        return -EFBIG;
                }
                if (m->entries[i].type == 'f')
                        total += m->entries[i].size;
        }
        *ret_meta = meta;
        *ret_manifest = TAKE_PTR(m);
        return 0;
}

uint64_t snapshot_store_size(int comp_fd, const char *id) {
        static const char *const files[] = { "content.tar.zst",     "content.tar.gz", "manifest",
                                             SNAPSHOT_MANIFEST_BIN, "meta",           "bad" };
        _cleanup_close_ int fd = -1;
        uint64_t total = 0;
        struct stat st;
        if (snapshot_store_snapshot(comp_fd, id, &fd) < 0)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (fstatat(fd, files[i], &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode))
                        total += (uint64_t) st.st_size;
        return total;
}

/* ---- pruning ---- */

int snapshot_store_prune(int work_fd, int comp_fd, const char *component, const Policy *p) {
        _cleanup_strv_free_ char **ids = NULL;
        int r = snapshot_store_ids(comp_fd, &ids);
        if (r < 0)
                return r;
        size_t n = strv_length(ids);
        if (n == 0)
                return 0;
        _cleanup_free_ uint64_t *size = calloc(n, sizeof(uint64_t));
        _cleanup_free_ bool *bad = calloc(n, sizeof(bool));
        _cleanup_free_ bool *gone = calloc(n, sizeof(bool));
        if (!size || !bad || !gone)
                return -ENOMEM;
        uint64_t total = 0;
        ssize_t protect = -1;
        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = -1;
                bad[i] = snapshot_store_snapshot(comp_fd, ids[i], &fd) < 0 || snapshot_store_is_bad(fd);
                size[i] = snapshot_store_size(comp_fd, ids[i]);
                total += size[i];
                if (!bad[i])
                        protect = (ssize_t) i; /* the newest good one is never pruned */
        }
        uint32_t keep = p->snapshots.keep ?: 3;
        uint64_t max_bytes = p->snapshots.max_bytes ?: 1ULL << 30;
        size_t left = n;
        /* Bad ones go first, then the oldest. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n && (left > keep || total > max_bytes); i++) {
                        if ((ssize_t) i == protect || gone[i] || bad[i] != (pass == 0))
                                continue;
                        char tmp[128];
                        r = xsnprintf(tmp, sizeof tmp, "delete-%s-%s", component, ids[i]);
                        if (r < 0)
                                return r;
                        /* Renamed into .work first: a power cut mid-delete leaves
                         * no half snapshot among the good ones. */
                        r = rename_durable(comp_fd, ids[i], work_fd, tmp);
                        if (r < 0)
                                return r;
                        r = rm_rf_at(work_fd, tmp);
                        if (r < 0)
                                return r;
                        gone[i] = true;
                        left--;
                        total -= size[i];
                }
        return 0;
}

int snapshot_store_commit(int dir_fd, int work_fd, int tmp_fd, const char *tmp_name, int comp_fd,
                          const char *id, const Manifest *m, const SnapshotMeta *meta, const Policy *p) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = manifest_format(m, &text, &len);
        if (r < 0)
                return r;
        r = write_atomic_at(tmp_fd, "manifest", text, len, 0600);
        if (r < 0)
                return r;
        free(text);
        text = NULL;
        r = meta_format(meta, &text);
        if (r < 0)
                return r;
        r = write_atomic_at(tmp_fd, "meta", text, strlen(text), 0600);
        if (r < 0)
                return r;
        r = rename_durable(work_fd, tmp_name, comp_fd, id);
        if (r < 0)
                return r;
        return snapshot_store_prune(work_fd, comp_fd, meta->component, p);
}

int snapshot_store_newest_good(int comp_fd, int *ret_fd, char ret_id[static SNAPSHOT_ID_LEN + 1],
                               SnapshotMeta *ret_meta) {
        _cleanup_strv_free_ char **ids = NULL;
        int r = snapshot_store_ids(comp_fd, &ids);
        if (r < 0)
                return r;
        for (size_t i = strv_length(ids); i > 0; i--) {
                int fd = -1;
                if (snapshot_store_snapshot(comp_fd, ids[i - 1], &fd) < 0)
                        continue;
                if (snapshot_store_is_bad(fd) || (ret_meta && snapshot_meta_read(fd, ret_meta) < 0)) {
                        close(fd);
                        continue;
                }
                *ret_fd = fd;
                strcpy(ret_id, ids[i - 1]);
                return 0;
        }
        return -ENOENT;
}

/* ---- transactions ---- */

int snapshot_txn_begin(int root_fd, const Policy *p, const char *component, const char *what, SnapshotTxn *ret) {
        int r = snapshot_store_open(root_fd, p, true, &ret->dir_fd);
        if (r < 0)
                return r;
        r = snapshot_store_lock(ret->dir_fd, true);
        if (r < 0)
                return r;
        r = snapshot_store_component(ret->dir_fd, component, true, &ret->comp_fd);
        if (r < 0)
                return r;
        r = snapshot_store_new_id(ret->comp_fd, ret->id);
        if (r < 0)
                return r;
        r = snapshot_store_work(ret->dir_fd, &ret->work_fd);
        if (r < 0)
                return r;
        r = xsnprintf(ret->tmp, sizeof ret->tmp, "%s-%s-%s", what, component, ret->id);
        return r < 0 ? r : 0;
}

void snapshot_txn_done(SnapshotTxn *t) {
        closep(&t->dir_fd);
        closep(&t->comp_fd);
        closep(&t->work_fd);
}

int snapshot_txn_mkdir(SnapshotTxn *t, int *ret_fd) {
        return open_subdir(t->work_fd, t->tmp, true, ret_fd);
}
