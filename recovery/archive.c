/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/archive.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <nettle/sha2.h>

#include "lib/dlib.h"
#include "lib/encode.h"
#include "lib/log.h"
#include "lib/rootfs.h"

static ArchiveLib lib;
static void *lib_handle;

int archive_lib_load(const ArchiveLib **ret) {
        if (!lib_handle) {
                ArchiveLib l = {};
#define ARCHIVE_LIB_SYM(fn) DLIB_SYM(l, fn),
                const DlibSym syms[] = { ARCHIVE_LIB_SYMBOLS(ARCHIVE_LIB_SYM) };
#undef ARCHIVE_LIB_SYM
                void *h = NULL;
                int r = dlib_load(&h, ARCHIVE_LIB_SONAME, syms, ELEMENTSOF(syms));
                if (r < 0)
                        return r;
                /* Built-in codecs only: libarchive would otherwise fork an
                 * external zstd/gzip program. */
                l.have_zstd = l.archive_libzstd_version() != NULL;
                l.have_gzip = l.archive_zlib_version() != NULL;
#ifdef LASTGOOD_FAULT_INJECTION
                /* Tests of the gzip fallback. */
                if (getenv("LASTGOOD_TEST_NO_ZSTD"))
                        l.have_zstd = false;
#endif
                lib = l;
                lib_handle = h;
        }
        *ret = &lib;
        return 0;
}

int archive_reader_new(const ArchiveLib *al, struct archive **ret) {
        struct archive *a = al->archive_read_new();
        if (!a)
                return -ENOMEM;
        if (al->archive_read_support_format_tar(a) != ARCHIVE_OK ||
            (al->have_zstd && al->archive_read_support_filter_zstd(a) != ARCHIVE_OK) ||
            (al->have_gzip && al->archive_read_support_filter_gzip(a) != ARCHIVE_OK)) {
                al->archive_read_free(a);
                return -ENOPKG;
        }
        *ret = a;
        return 0;
}

int archive_writer_new(const ArchiveLib *al, int fd, struct archive **ret, const char **ret_compression) {
        struct archive *a = al->archive_write_new();
        if (!a)
                return -ENOMEM;
        const char *comp = NULL;
        if (al->archive_write_set_format_pax_restricted(a) == ARCHIVE_OK) {
                if (al->have_zstd && al->archive_write_add_filter_zstd(a) == ARCHIVE_OK)
                        comp = "zstd";
                else if (al->have_gzip && al->archive_write_add_filter_gzip(a) == ARCHIVE_OK)
                        comp = "gzip";
        }
        if (!comp || al->archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK) {
                al->archive_write_free(a);
                return -ENOPKG;
        }
        if (al->archive_write_open_fd(a, fd) != ARCHIVE_OK) {
                int r = al->archive_errno(a);
                al->archive_write_free(a);
                return r > 0 ? -r : -EIO;
        }
        *ret = a;
        if (ret_compression)
                *ret_compression = comp;
        return 0;
}

void archive_scan_done(ArchiveScan *s) {
        manifest_free(s->found);
        s->found = NULL;
        free(s->reason);
        s->reason = NULL;
}

static int scan_refuse(ArchiveScan *s, int error, const char *path, const char *fmt, ...) _printf_(4, 5);
static int scan_refuse(ArchiveScan *s, int error, const char *path, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        free(s->reason);
        s->reason = NULL;
        if (path) {
                _cleanup_free_ char *esc = pct_token_encode(path);
                k = asprintf(&s->reason, "entry '%s': %s", esc ?: "?", what);
        } else
                k = asprintf(&s->reason, "%s", what);
        if (k < 0) {
                s->reason = NULL;
                return -ENOMEM;
        }
        return error;
}

static int archive_err(const ArchiveLib *al, struct archive *a) {
        int e = al->archive_errno(a);
        return e > 0 ? -e : -EIO;
}

typedef struct ScanState {
        const ArchiveLib *al;
        ArchiveScan *s;
        struct archive *in;
        struct archive **disk; /* one writer per root, or NULL */
        struct archive_entry *out;
        bool *seen;
        size_t n_roots;
} ScanState;

static const char *type_name(unsigned t) {
        switch (t) {
        case AE_IFCHR:
        case AE_IFBLK:
                return "device nodes are not allowed";
        case AE_IFIFO:
                return "FIFOs are not allowed";
        case AE_IFSOCK:
                return "sockets are not allowed";
        default:
                return "unsupported entry type";
        }
}

/*
 * The entry's extended attributes into X, E->xattrs (its manifest text).
 * pax archives carry each one twice (LIBARCHIVE.xattr and SCHILY.xattr):
 * the same value again is one attribute, another value for the same name
 * is refused, or which one would extraction keep? So is a namespace
 * lastgood does not keep (trusted.*, system.*: see manifest.h).
 */
static int check_xattrs(ScanState *st, struct archive_entry *in, const char *path, ManifestXattrs *x,
                        ManifestEntry *e) {
        const ArchiveLib *al = st->al;
        ArchiveScan *s = st->s;
        if (al->archive_entry_xattr_reset(in) <= 0)
                return 0;
        const char *name;
        const void *value;
        size_t size;
        while (al->archive_entry_xattr_next(in, &name, &value, &size) == ARCHIVE_OK) {
                int r = manifest_xattrs_add(x, name ?: "", value, size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        _cleanup_free_ char *esc = pct_token_encode(name ?: "");
                        return scan_refuse(s, -EBADMSG, path, "extended attribute '%s': %s", esc ?: "?",
                                           r == -EEXIST  ? "appears twice with different values"
                                           : r == -E2BIG ? "too many extended attributes"
                                                         : "not a name or size lastgood restores");
                }
        }
        return manifest_xattrs_format(x, &e->xattrs);
}

/* Validates one entry header; on success fills E (path points into PATH;
 * e->xattrs and X are the caller's to free). 1: the entry is the archive's
 * own "." directory, skipped (E is not filled). */
static int check_header(ScanState *st, struct archive_entry *in, char path[static MANIFEST_PATH_MAX + 2],
                        ManifestEntry *e, ManifestXattrs *x, ssize_t *ret_root, ssize_t *ret_idx) {
        const ArchiveLib *al = st->al;
        ArchiveScan *s = st->s;

        const char *name = al->archive_entry_pathname(in);
        if (!name || name[0] == '\0')
                return scan_refuse(s, -EBADMSG, NULL, "entry %llu has no path name",
                                   (unsigned long long) s->n_entries);
        size_t l = strlen(name);
        if (l > MANIFEST_PATH_MAX)
                return scan_refuse(s, -EBADMSG, NULL, "entry %llu: path too long",
                                   (unsigned long long) s->n_entries);
        memcpy(path, name, l + 1);
        unsigned ft = al->archive_entry_filetype(in);
        e->type = ft == AE_IFREG ? 'f' : ft == AE_IFDIR ? 'd' : ft == AE_IFLNK ? 'l' : 0;
        if (e->type == 'd' && l > 1 && path[l - 1] == '/')
                path[l - 1] = '\0'; /* tar writes directories as "dir/" */
        /* `tar -C / -cf x.tar ./etc/acme` names its entries "./etc/acme/…",
         * and `tar -C / -cf x.tar .` adds "./" for / itself: one leading "./"
         * is the same path relative to /, and the root's own directory entry
         * is skipped (its mode and owner must never reach /). Nothing else is
         * normalised: "././x", "a/./b", "../x" and "/x" stay unsafe below. */
        if (path[0] == '.' && path[1] == '/')
                memmove(path, path + 2, strlen(path + 2) + 1);
        if (e->type == 'd' && streq(path, "."))
                return 1;

        if (s->n_entries > s->max_entries)
                return scan_refuse(s, -E2BIG, path, "more than %llu entries (snapshots.max_entries)",
                                   (unsigned long long) s->max_entries);

        const char *hard = al->archive_entry_hardlink(in);
        if (hard) {
                _cleanup_free_ char *esc = pct_token_encode(hard);
                return scan_refuse(s, -EBADMSG, path, "hard links are not allowed (link to '%s')", esc ?: "?");
        }

        if (!path_is_safe_relative(path))
                return scan_refuse(s, -EBADMSG, path, "unsafe path (absolute, '..', '.' or empty component)");
        /* What a manifest cannot hold: stored, the snapshot would be refused
         * at restore time, when it is needed. */
        if (!manifest_path_fits(path))
                return scan_refuse(s, -EBADMSG, path, "a path component longer than %d bytes", NAME_MAX);
        if (!e->type)
                return scan_refuse(s, -EBADMSG, path, "%s", type_name(ft));
        if (al->archive_entry_sparse_count(in) > 0)
                return scan_refuse(s, -EBADMSG, path, "sparse files are not supported");

        ssize_t k = manifest_roots_find(s->roots, path);
        if (k < 0)
                return scan_refuse(s, -EBADMSG, path, "outside the component's content paths");

        int64_t size = al->archive_entry_size_is_set(in) ? al->archive_entry_size(in) : 0;
        if (size < 0)
                return scan_refuse(s, -EBADMSG, path, "negative size");
        if (e->type != 'f' && size != 0)
                return scan_refuse(s, -EBADMSG, path, "a directory or symlink with data");
        if ((uint64_t) size > s->max_expanded_bytes - s->expanded_bytes)
                return scan_refuse(s, -EFBIG, path,
                                   "expanded size exceeds %llu bytes (snapshots.max_expanded_bytes)",
                                   (unsigned long long) s->max_expanded_bytes);
        s->expanded_bytes += (uint64_t) size;

        int64_t uid = al->archive_entry_uid(in), gid = al->archive_entry_gid(in);
        if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
                return scan_refuse(s, -EBADMSG, path, "bad owner");

        e->path = path;
        e->mode = e->type == 'l' ? 0777 : (uint32_t) (al->archive_entry_perm(in) & 07777);
        e->uid = (uint32_t) uid;
        e->gid = (uint32_t) gid;
        /* A hostile header can carry any time: refuse one that does not
         * fit in nanoseconds rather than overflow (found by fuzzing). */
        int64_t mtime_ns;
        if (__builtin_mul_overflow((int64_t) al->archive_entry_mtime(in), (int64_t) 1000000000, &mtime_ns) ||
            __builtin_add_overflow(mtime_ns, (int64_t) al->archive_entry_mtime_nsec(in), &mtime_ns))
                return scan_refuse(s, -EBADMSG, path, "bad modification time");
        e->mtime_ns = mtime_ns;
        e->size = (uint64_t) size;
        if (e->type == 'l') {
                const char *target = al->archive_entry_symlink(in);
                const char *why = manifest_check_symlink(s->roots[k], path, target);
                if (why)
                        return scan_refuse(s, -EBADMSG, path, "%s", why);
                e->target = (char *) target;
                e->size = strlen(target);
        }
        int r = check_xattrs(st, in, path, x, e);
        if (r < 0)
                return r;

        ssize_t idx = -1;
        if (s->expect) {
                idx = manifest_find(s->expect, path);
                if (idx < 0)
                        return scan_refuse(s, -EBADMSG, path, "not in the manifest");
                if (st->seen[idx])
                        return scan_refuse(s, -EBADMSG, path, "appears twice in the archive");
                st->seen[idx] = true;
                const ManifestEntry *m = &s->expect->entries[idx];
                if (m->type != e->type)
                        return scan_refuse(s, -EBADMSG, path, "type differs from the manifest");
                if ((e->mode & (S_ISUID | S_ISGID)) & ~m->mode)
                        return scan_refuse(s, -EBADMSG, path, "setuid/setgid bit not recorded in the manifest");
                if (m->mode != e->mode)
                        return scan_refuse(s, -EBADMSG, path, "mode %04o differs from the manifest (%04o)",
                                           e->mode, m->mode);
                if (m->uid != e->uid || m->gid != e->gid)
                        return scan_refuse(s, -EBADMSG, path, "owner differs from the manifest");
                if (m->size != e->size)
                        return scan_refuse(s, -EBADMSG, path, "size differs from the manifest");
                if (e->type == 'l' && !streq(m->target, e->target))
                        return scan_refuse(s, -EBADMSG, path, "symlink target differs from the manifest");
                /* Like setuid: a capability (or label, or signature) the
                 * manifest does not record is not restored. A version 1
                 * manifest records none, and no lastgood of that version
                 * wrote any into an archive. */
                if (!manifest_xattrs_equal(e->xattrs, s->expect->xattrs_known ? m->xattrs : NULL)) {
                        _cleanup_free_ char *want = manifest_xattrs_names(s->expect->xattrs_known ? m->xattrs
                                                                                                  : NULL),
                                            *got = manifest_xattrs_names(e->xattrs);
                        bool cap = manifest_xattrs_has(e->xattrs, "security.capability") &&
                                   !manifest_xattrs_has(s->expect->xattrs_known ? m->xattrs : NULL,
                                                        "security.capability");
                        return scan_refuse(s, -EBADMSG, path, "%s (manifest%s: %s; archive: %s)",
                                           cap ? "security.capability not recorded in the manifest"
                                               : "extended attributes differ from the manifest",
                                           s->expect->xattrs_known ? "" : " version 1, which records none",
                                           want ?: "?", got ?: "?");
                }
        } else {
                if (e->mode & (S_ISUID | S_ISGID))
                        return scan_refuse(s, -EBADMSG, path, "setuid/setgid files are not accepted in an import");
                /* Restored as root, a world-writable file or directory of a
                 * security component lets any user change it (or plant
                 * files in it). Symlinks always read 0777 and are exempt. */
                if (e->type != 'l' && (e->mode & S_IWOTH))
                        return scan_refuse(s, -EBADMSG, path,
                                           "world-writable (mode %04o) content is not accepted in an import",
                                           e->mode);
                /* File capabilities grant privilege as setuid does. */
                if (manifest_xattrs_has(e->xattrs, "security.capability"))
                        return scan_refuse(s, -EBADMSG, path,
                                           "file capabilities (security.capability) are not accepted in an import");
                /* Imported content belongs to root, whatever the tar says. */
                e->uid = e->gid = 0;
        }
        *ret_root = k;
        *ret_idx = idx;
        return 0;
}

/* The clean header written to disk or to the repacked archive: only what
 * the manifest describes (its xattrs, checked; no ACLs, flags, owner
 * names). */
static void fill_out(ScanState *st, const ManifestEntry *e, const ManifestXattrs *x, const char *name,
                     bool to_disk) {
        const ArchiveLib *al = st->al;
        al->archive_entry_clear(st->out);
        al->archive_entry_set_pathname(st->out, name);
        al->archive_entry_set_filetype(st->out, e->type == 'f'   ? AE_IFREG
                                                : e->type == 'd' ? AE_IFDIR
                                                                 : AE_IFLNK);
        al->archive_entry_set_perm(st->out, e->mode);
        al->archive_entry_set_uid(st->out, e->uid);
        al->archive_entry_set_gid(st->out, e->gid);
        al->archive_entry_set_mtime(st->out, (time_t) (e->mtime_ns / 1000000000),
                                    (long) (e->mtime_ns % 1000000000));
        if (e->type == 'f')
                al->archive_entry_set_size(st->out, (la_int64_t) e->size);
        if (e->type == 'l')
                al->archive_entry_set_symlink(st->out, e->target);
#ifdef LASTGOOD_FAULT_INJECTION
        /* Tests of the staged-tree check: an extraction that loses them. */
        if (to_disk && getenv("LASTGOOD_TEST_EXTRACT_NO_XATTRS"))
                return;
#endif
        for (size_t i = 0; i < x->n; i++)
                al->archive_entry_xattr_add_entry(st->out, x->items[i].name, x->items[i].value, x->items[i].size);
}

static int scan_entry(ScanState *st, struct archive_entry *in) {
        const ArchiveLib *al = st->al;
        ArchiveScan *s = st->s;
        char path[MANIFEST_PATH_MAX + 2];
        ManifestEntry e = {};
        _cleanup_(manifest_xattrs_done) ManifestXattrs x = {};
        ssize_t k = -1, idx = -1;
        int r = check_header(st, in, path, &e, &x, &k, &idx);
        _cleanup_free_ _unused_ char *xattrs_owner = e.xattrs; /* frees what check_header() made */
        if (r != 0)
                return r < 0 ? r : 0;

        bool excluded = manifest_path_excluded(s->exclude, path);
        struct archive *disk = st->disk && !excluded ? st->disk[k] : NULL;
        struct archive *repack = excluded ? NULL : s->repack;
        if (disk) {
                /* "etc/sensor/x" -> "sensor/x" below the root's staging dir. */
                const char *root = s->roots[k];
                const char *base = strrchr(root, '/');
                base = base ? base + 1 : root;
                char name[MANIFEST_PATH_MAX + 2];
                r = xsnprintf(name, sizeof name, "%s%s", base, path + strlen(root));
                if (r < 0)
                        return r;
                if (fchdir(s->stage_fds[k]) < 0)
                        return -errno;
                fill_out(st, &e, &x, name, true);
                if (al->archive_write_header(disk, st->out) != ARCHIVE_OK)
                        return scan_refuse(s, -EBADMSG, path, "refused by extraction: %s",
                                           al->archive_error_string(disk) ?: "?");
        }
        if (repack) {
                fill_out(st, &e, &x, path, false);
                if (al->archive_write_header(repack, st->out) != ARCHIVE_OK)
                        return archive_err(al, repack);
        }

        if (e.type == 'f') {
                struct sha256_ctx ctx;
                sha256_init(&ctx);
                uint64_t done = 0;
                for (;;) {
                        const void *buf;
                        size_t len;
                        la_int64_t off;
                        r = al->archive_read_data_block(st->in, &buf, &len, &off);
                        if (r == ARCHIVE_EOF)
                                break;
                        if (r != ARCHIVE_OK)
                                return scan_refuse(s, -EBADMSG, path,
                                                   "data unreadable (truncated or corrupt archive): %s",
                                                   al->archive_error_string(st->in) ?: "?");
                        if (off < 0 || (uint64_t) off != done || len > e.size - done)
                                return scan_refuse(s, -EBADMSG, path, "data does not match its header");
                        sha256_update(&ctx, len, buf);
                        if (disk && al->archive_write_data_block(disk, buf, len, off) != ARCHIVE_OK)
                                return archive_err(al, disk);
                        if (repack && al->archive_write_data(repack, buf, len) != (la_ssize_t) len)
                                return archive_err(al, repack);
                        done += len;
                }
                if (done != e.size)
                        return scan_refuse(s, -EBADMSG, path, "truncated data");
                sha256_digest(&ctx, SHA256_LEN, e.sha256);
                if (s->expect && memcmp(e.sha256, s->expect->entries[idx].sha256, SHA256_LEN) != 0)
                        return scan_refuse(s, -EBADMSG, path, "content differs from the manifest (sha256)");
        }
        if (disk && al->archive_write_finish_entry(disk) != ARCHIVE_OK)
                return scan_refuse(s, -EIO, path, "extraction failed: %s", al->archive_error_string(disk) ?: "?");
        if (repack && al->archive_write_finish_entry(repack) != ARCHIVE_OK)
                return archive_err(al, repack);
        if (s->found && !excluded) {
                r = manifest_add(s->found, &e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_finish(ScanState *st) {
        ArchiveScan *s = st->s;
        if (s->expect) {
                for (size_t i = 0; i < s->expect->n; i++)
                        if (!st->seen[i])
                                return scan_refuse(s, -EBADMSG, s->expect->entries[i].path,
                                                   "in the manifest but missing from the archive");
                return 0;
        }
        manifest_sort(s->found);
        for (size_t i = 1; i < s->found->n; i++)
                if (streq(s->found->entries[i - 1].path, s->found->entries[i].path))
                        return scan_refuse(s, -EBADMSG, s->found->entries[i].path, "appears twice in the archive");
        return manifest_check_roots(s->found, s->roots, &s->reason);
}

static int scan(const ArchiveLib *al, struct archive *in, ArchiveScan *s) {
        ScanState st = { .al = al, .s = s, .in = in, .n_roots = strv_length(s->roots) };
        _cleanup_free_ bool *seen = NULL;
        _cleanup_free_ struct archive **disk = NULL;
        _cleanup_close_ int cwd = -1;
        int r = 0;

        s->n_entries = s->expanded_bytes = 0;
        if (s->expect) {
                seen = calloc(s->expect->n + 1, sizeof(bool));
                if (!seen)
                        return -ENOMEM;
                st.seen = seen;
        } else {
                s->found = manifest_new();
                if (!s->found)
                        return -ENOMEM;
        }
        st.out = al->archive_entry_new();
        if (!st.out)
                return -ENOMEM;

        if (s->stage_fds) {
                /* archive_write_disk works relative to the working directory:
                 * remember ours and come back to it. */
                cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cwd < 0) {
                        r = -errno;
                        goto out;
                }
                disk = calloc(st.n_roots + 1, sizeof(struct archive *));
                if (!disk) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t k = 0; k < st.n_roots; k++) {
                        disk[k] = al->archive_write_disk_new();
                        if (!disk[k]) {
                                r = -ENOMEM;
                                goto out;
                        }
                        /* The owner (numeric, as checked against the manifest:
                         * the clean header has no owner names) before the
                         * xattrs: libarchive sets them last, since a chown
                         * clears security.capability. No ACLs or flags. */
                        al->archive_write_disk_set_options(disk[k],
                                                           ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                                   ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                                   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                                                                   ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                                   ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR);
                }
                st.disk = disk;
        }

        for (;;) {
                struct archive_entry *entry;
                int k = al->archive_read_next_header(in, &entry);
                if (k == ARCHIVE_EOF)
                        break;
                if (k != ARCHIVE_OK && k != ARCHIVE_WARN) {
                        r = scan_refuse(s, -EBADMSG, NULL,
                                        "archive unreadable after %llu entries (truncated or corrupt): %s",
                                        (unsigned long long) s->n_entries, al->archive_error_string(in) ?: "?");
                        goto out;
                }
                s->n_entries++;
                r = scan_entry(&st, entry);
                if (r < 0)
                        goto out;
                if (s->progress && s->n_entries % 1000 == 0)
                        s->progress(s->n_entries, s->expanded_bytes, s->progress_userdata);
        }
        r = scan_finish(&st);

out:
        if (disk) {
                /* Closing applies directory modes and times, by path relative
                 * to the working directory: close each inside its stage. */
                for (size_t k = 0; k < st.n_roots; k++) {
                        if (!disk[k])
                                continue;
                        if (fchdir(s->stage_fds[k]) < 0 && r >= 0)
                                r = -errno;
                        if (al->archive_write_close(disk[k]) != ARCHIVE_OK && r >= 0)
                                r = scan_refuse(s, -EIO, NULL, "extraction failed: %s",
                                                al->archive_error_string(disk[k]) ?: "?");
                        al->archive_write_free(disk[k]);
                }
        }
        if (cwd >= 0 && fchdir(cwd) < 0 && r >= 0)
                r = -errno;
        al->archive_entry_free(st.out);
        return r;
}

int archive_scan_fd(const ArchiveLib *al, int fd, ArchiveScan *s) {
        struct archive *a;
        int r = archive_reader_new(al, &a);
        if (r < 0)
                return r;
        if (al->archive_read_open_fd(a, fd, 128 * 1024) != ARCHIVE_OK)
                r = scan_refuse(s, -EBADMSG, NULL, "not a readable tar archive: %s",
                                al->archive_error_string(a) ?: "?");
        else
                r = scan(al, a, s);
        al->archive_read_free(a);
        return r;
}

int archive_scan_memory(const ArchiveLib *al, const void *buf, size_t len, ArchiveScan *s) {
        struct archive *a;
        int r = archive_reader_new(al, &a);
        if (r < 0)
                return r;
        if (al->archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
                r = scan_refuse(s, -EBADMSG, NULL, "not a readable tar archive: %s",
                                al->archive_error_string(a) ?: "?");
        else
                r = scan(al, a, s);
        al->archive_read_free(a);
        return r;
}
