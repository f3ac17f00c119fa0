/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The compiled policy (policy-cache.h): a signature of the sources, then the
 * settings as the schema walks them, then a checksum.
 *
 *   "LGPCACHE" u32 format, u64 sig length, sig, u64 payload length, payload,
 *   u32 crc32 of all before it
 *
 * The signature is not a digest but the bytes themselves, compared whole:
 * the schema (key names and types, so that a lastgood with other keys never
 * reads another's cache) and, for each source, its name and the stat data
 * of the name and of its target. No collision can make a changed policy
 * look unchanged, and a few kilobytes compare faster than SHA-256 hashes
 * them. The checksum only has to catch a torn or damaged file (the cache
 * lives in a root-only directory, beside the policy it vouches for):
 * CRC-32. A lastgood that changes what a setting means, or the text of the
 * last-known-good copy compiled in with the settings, bumps CACHE_FORMAT.
 */
#include "config/policy-cache.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <zlib.h>

#include "config/policy-internal.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/rootfs.h"

#define CACHE_MAGIC "LGPCACHE"
#define CACHE_FORMAT 2u
#define CACHE_MAX_SIG (1024u * 1024u)
#define CACHE_MAX_SIZE (4u * 1024u * 1024u)
#define CACHE_MAX_ITEMS 100000u
/* A source changed this close to now could change again within the same
 * time stamp tick unseen (manifest.h's racy margin, for the same reason). */
#define CACHE_RACY_MARGIN_NS ((int64_t) 50 * 1000 * 1000)

/* Directories whose every entry is a source, and the single files. */
static const char *const source_dirs[] = { LASTGOOD_CONFIG_DIR, POLICY_DROPIN_DIR, LASTGOOD_VENDOR_DIR,
                                           LASTGOOD_VENDOR_POLICY_DROPIN_DIR };

/* ---- a growing buffer: the signature and the file ---- */

typedef struct Out {
        uint8_t *p;
        size_t n, cap;
        bool oom;
} Out;

static void out_bytes(Out *o, const void *p, size_t n) {
        if (o->oom)
                return;
        if (o->n + n > o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 4096;
                while (cap < o->n + n)
                        cap *= 2;
                uint8_t *np = realloc(o->p, cap);
                if (!np) {
                        o->oom = true;
                        return;
                }
                o->p = np;
                o->cap = cap;
        }
        memcpy(o->p + o->n, p, n);
        o->n += n;
}

static void out_done(Out *o) {
        free(o->p);
        *o = (Out) {};
}

static void out_u64(Out *o, uint64_t v) {
        out_bytes(o, &v, sizeof v);
}

#define CACHE_NULL UINT64_MAX

static void out_str(Out *o, const char *s) {
        if (!s) {
                out_u64(o, CACHE_NULL);
                return;
        }
        size_t l = strlen(s);
        out_u64(o, l);
        out_bytes(o, s, l);
}

static void out_strv(Out *o, char *const *l) {
        if (!l) {
                out_u64(o, CACHE_NULL);
                return;
        }
        out_u64(o, strv_length(l));
        for (; *l; l++)
                out_str(o, *l);
}

/* ---- the signature ---- */

typedef struct Sig {
        Out out;
        int64_t newest_ns; /* the newest ctime seen */
} Sig;

static void sig_bytes(Sig *s, const void *p, size_t n) {
        out_bytes(&s->out, p, n);
}

static void sig_str(Sig *s, const char *str) {
        sig_bytes(s, str, strlen(str) + 1);
}

static void sig_stat(Sig *s, const struct stat *st) {
        uint64_t v[] = {
                (uint64_t) st->st_dev,         (uint64_t) st->st_ino,
                (uint64_t) st->st_mode,        (uint64_t) st->st_uid,
                (uint64_t) st->st_gid,         (uint64_t) st->st_size,
                (uint64_t) st->st_mtim.tv_sec, (uint64_t) st->st_mtim.tv_nsec,
                (uint64_t) st->st_ctim.tv_sec, (uint64_t) st->st_ctim.tv_nsec,
        };
        sig_bytes(s, v, sizeof v);
        int64_t ct = (int64_t) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
        if (ct > s->newest_ns)
                s->newest_ns = ct;
}

static void sig_absent(Sig *s) {
        sig_bytes(s, "-", 1);
}

static void sig_fields(Sig *s, const Field *fields, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint32_t t = fields[i].type;
                sig_str(s, fields[i].key);
                sig_bytes(s, &t, sizeof t);
                if (fields[i].sub)
                        sig_fields(s, fields[i].sub, fields[i].n_sub);
        }
}

/* PATH beneath the root: the name itself (not followed), and for a symlink
 * (an enabled profile, a mask) what it resolves to there and the directory
 * that holds it (trusted like the policy's own: its mode and owner count). */
static int sig_path(Sig *s, int root_fd, int dir_fd, const char *name, const char *path) {
        struct stat st;
        sig_str(s, path);
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return -errno;
                sig_absent(s);
                return 0;
        }
        sig_stat(s, &st);
        if (!S_ISLNK(st.st_mode))
                return 0;
        _cleanup_close_ int fd = root_openat(root_fd, path, O_PATH | O_CLOEXEC, 0);
        if (fd < 0 || fstat(fd, &st) < 0)
                sig_absent(s);
        else
                sig_stat(s, &st);
        char target[PATH_MAX];
        ssize_t l = readlinkat(dir_fd, name, target, sizeof target - 1);
        if (l <= 0)
                return 0;
        target[l] = '\0';
        char *slash = strrchr(target, '/');
        if (!slash || slash == target)
                return 0;
        *slash = '\0';
        sig_str(s, target);
        _cleanup_close_ int tfd = -1;
        if (root_open_dir(root_fd, target, false, 0, &tfd) < 0 || fstat(tfd, &st) < 0)
                sig_absent(s);
        else
                sig_stat(s, &st);
        return 0;
}

static int sources_signature_into(Sig *s, int root_fd) {
        sig_str(s, CACHE_MAGIC);
        sig_fields(s, policy_top_fields, ELEMENTSOF(policy_top_fields));
        bool vendor_absent = false;
        for (size_t i = 0; i < ELEMENTSOF(source_dirs); i++) {
                _cleanup_close_ int dfd = -1;
                sig_str(s, source_dirs[i]);
                /* No /usr/lib/lastgood: no policy.d in it either (one probe less). */
                bool in_vendor = path_is_under(source_dirs[i], LASTGOOD_VENDOR_DIR);
                int r = in_vendor && vendor_absent ? -ENOENT
                                                   : root_open_dir(root_fd, source_dirs[i], false, 0, &dfd);
                if (r == -ENOENT || r == -ENOTDIR) {
                        if (streq(source_dirs[i], LASTGOOD_VENDOR_DIR))
                                vendor_absent = true;
                        sig_absent(s);
                        continue;
                }
                if (r < 0)
                        return r;
                struct stat st;
                if (fstat(dfd, &st) < 0)
                        return -errno;
                sig_stat(s, &st);
                _cleanup_strv_free_ char **names = NULL;
                r = dir_list_at(dfd, NULL, CACHE_MAX_ITEMS, &names);
                if (r < 0)
                        return r;
                for (char **n = names; *n; n++) {
                        _cleanup_free_ char *path = NULL;
                        if (asprintf(&path, "%s/%s", source_dirs[i], *n) < 0)
                                return -ENOMEM;
                        r = sig_path(s, root_fd, dfd, *n, path);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* The signature into *ret (its buffer freed by the caller, also on error). */
static int sources_signature(int root_fd, Out *ret, int64_t *ret_newest) {
        Sig s = {};
        int r = sources_signature_into(&s, root_fd);
        *ret = s.out;
        if (r < 0)
                return r;
        if (s.out.oom || s.out.n > CACHE_MAX_SIG)
                return -ENOMEM;
        *ret_newest = s.newest_ns;
        return 0;
}

/* ---- writing ---- */

static void out_fields(Out *o, const Field *fields, size_t n, const void *base) {
        for (size_t i = 0; i < n; i++) {
                const Field *f = &fields[i];
                const void *v = policy_field_at_const(base, f);
                switch (f->type) {
                case FT_SECTION:
                        out_fields(o, f->sub, f->n_sub, base);
                        continue;
                case FT_VERSION:
                case FT_U32:
                        out_u64(o, *(const uint32_t *) v);
                        continue;
                case FT_U64:
                case FT_DURATION:
                case FT_SIZE:
                        out_u64(o, *(const uint64_t *) v);
                        continue;
                case FT_BOOL:
                        out_u64(o, *(const bool *) v);
                        continue;
                case FT_ENUM:
                        out_u64(o, *(const unsigned *) v);
                        continue;
                case FT_LADDER: {
                        size_t c = policy_field_count(base, f);
                        out_u64(o, c);
                        for (size_t k = 0; k < c; k++)
                                out_u64(o, (uint64_t) ((const LadderStep *) v)[k]);
                        continue;
                }
                default:
                        break;
                }
                switch (policy_field_kind(f->type)) {
                case FK_STRING:
                        out_str(o, *(char *const *) v);
                        break;
                case FK_STRV:
                        out_strv(o, *(char **const *) v);
                        break;
                case FK_ENTRIES: {
                        size_t c = policy_field_count(base, f);
                        const char *items = *(char *const *) v;
                        out_u64(o, c);
                        for (size_t k = 0; k < c; k++)
                                out_fields(o, f->sub, f->n_sub, items + k * f->item_size);
                        break;
                }
                default:
                        break;
                }
        }
}

int policy_cache_save(int root_fd, const Policy *p) {
        if (p->errors || p->fallback != POLICY_FALLBACK_NONE)
                return 0;
        _cleanup_(out_done) Out sig = {};
        int64_t newest = 0;
        int r = sources_signature(root_fd, &sig, &newest);
        if (r < 0)
                return r;
        if (newest >= (int64_t) now_realtime_usec() * 1000 - CACHE_RACY_MARGIN_NS)
                return 0; /* a source just changed: its signature cannot vouch yet */

        _cleanup_(out_done) Out payload = {};
        out_fields(&payload, policy_top_fields, ELEMENTSOF(policy_top_fields), p);
        out_strv(&payload, p->files);
        out_strv(&payload, p->overridden);
        out_strv(&payload, p->masked);
        out_strv(&payload, p->warnings);
        /* Its last-known-good text: confirm compares the copy with it
         * instead of dumping the policy at every healthy boot. */
        _cleanup_free_ char *text = NULL;
        size_t text_len = 0;
        r = policy_dump_text(p, &text, &text_len);
        if (r < 0)
                return r;
        out_str(&payload, text);

        _cleanup_(out_done) Out o = {};
        uint32_t format = CACHE_FORMAT;
        out_bytes(&o, CACHE_MAGIC, 8);
        out_bytes(&o, &format, sizeof format);
        out_u64(&o, sig.n);
        out_bytes(&o, sig.p, sig.n);
        out_u64(&o, payload.n);
        out_bytes(&o, payload.p, payload.n);
        uint32_t sum = o.oom ? 0 : (uint32_t) crc32(0, o.p, (uInt) o.n);
        out_bytes(&o, &sum, sizeof sum);
        if (o.oom || payload.oom || o.n > CACHE_MAX_SIZE)
                return -ENOMEM;
        /* Compare first: the usual case is an unchanged cache, no write. */
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        if (read_full_root(root_fd, LASTGOOD_POLICY_CACHE_FILE, CACHE_MAX_SIZE, &old, &old_len) >= 0 &&
            old_len == o.n && memcmp(old, o.p, o.n) == 0)
                return 0;
        _cleanup_close_ int dfd = -1;
        r = root_open_dir(root_fd, LASTGOOD_STATE_DIR, true, 0700, &dfd);
        if (r < 0)
                return r;
        return write_atomic_at_full(dfd, LASTGOOD_POLICY_CACHE_NAME, o.p, o.n,
                                    &(WriteAtomicOptions) { .flags = WRITE_ATOMIC_NO_SYNC, .mode = 0600 });
}

/* ---- reading ---- */

typedef struct In {
        const uint8_t *p;
        size_t n, pos;
        bool bad;
} In;

static uint64_t in_u64(In *in) {
        uint64_t v = 0;
        if (in->bad || in->n - in->pos < sizeof v) {
                in->bad = true;
                return 0;
        }
        memcpy(&v, in->p + in->pos, sizeof v);
        in->pos += sizeof v;
        return v;
}

/* 1 and *ret (NULL for a null string), 0 when bad, -ENOMEM. */
static int in_str(In *in, char **ret) {
        uint64_t l = in_u64(in);
        if (in->bad)
                return 0;
        if (l == CACHE_NULL) {
                *ret = NULL;
                return 1;
        }
        if (l > in->n - in->pos || memchr(in->p + in->pos, '\0', l)) {
                in->bad = true;
                return 0;
        }
        char *s = strndup((const char *) in->p + in->pos, l);
        if (!s)
                return -ENOMEM;
        in->pos += l;
        *ret = s;
        return 1;
}

static int in_strv(In *in, char ***ret) {
        uint64_t c = in_u64(in);
        if (in->bad)
                return 0;
        if (c == CACHE_NULL) {
                *ret = NULL;
                return 1;
        }
        if (c > CACHE_MAX_ITEMS) {
                in->bad = true;
                return 0;
        }
        char **l = calloc(c + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t k = 0; k < c; k++) {
                int r = in_str(in, &l[k]);
                if (r <= 0 || !l[k]) {
                        strv_free(l);
                        if (r == 1)
                                in->bad = true;
                        return r < 0 ? r : 0;
                }
        }
        *ret = l;
        return 1;
}

/* Fills BASE (zeroed) from the stream; on a bad stream or -ENOMEM, what was
 * filled is freed by the caller with policy_fields_done(). */
static int in_fields(In *in, const Field *fields, size_t n, void *base) {
        for (size_t i = 0; i < n && !in->bad; i++) {
                const Field *f = &fields[i];
                void *v = policy_field_at(base, f);
                uint64_t x;
                switch (f->type) {
                case FT_SECTION: {
                        int r = in_fields(in, f->sub, f->n_sub, base);
                        if (r < 0)
                                return r;
                        continue;
                }
                case FT_VERSION:
                case FT_U32:
                        x = in_u64(in);
                        if (x > UINT32_MAX)
                                in->bad = true;
                        *(uint32_t *) v = (uint32_t) x;
                        continue;
                case FT_U64:
                case FT_DURATION:
                case FT_SIZE:
                        *(uint64_t *) v = in_u64(in);
                        continue;
                case FT_BOOL:
                        x = in_u64(in);
                        if (x > 1)
                                in->bad = true;
                        *(bool *) v = x == 1;
                        continue;
                case FT_ENUM:
                        x = in_u64(in);
                        if (x >= f->n_names)
                                in->bad = true;
                        *(unsigned *) v = (unsigned) x;
                        continue;
                case FT_LADDER: {
                        uint64_t c = in_u64(in);
                        if (c > POLICY_MAX_LADDER) {
                                in->bad = true;
                                continue;
                        }
                        for (size_t k = 0; k < c; k++) {
                                x = in_u64(in);
                                if (x >= f->n_names)
                                        in->bad = true;
                                ((LadderStep *) v)[k] = (LadderStep) x;
                        }
                        *(size_t *) ((char *) base + f->count_offset) = c;
                        continue;
                }
                default:
                        break;
                }
                int r = 0;
                switch (policy_field_kind(f->type)) {
                case FK_STRING:
                        r = in_str(in, (char **) v);
                        break;
                case FK_STRV:
                        r = in_strv(in, (char ***) v);
                        break;
                case FK_ENTRIES: {
                        uint64_t c = in_u64(in);
                        if (in->bad || c > CACHE_MAX_ITEMS) {
                                in->bad = true;
                                break;
                        }
                        char *items = c ? calloc(c, f->item_size) : NULL;
                        if (c && !items)
                                return -ENOMEM;
                        *(char **) v = items;
                        /* Counted as filled one by one: a failure frees only those. */
                        size_t *count = (size_t *) ((char *) base + f->count_offset);
                        for (size_t k = 0; k < c && !in->bad; k++) {
                                *count = k + 1;
                                r = in_fields(in, f->sub, f->n_sub, items + k * f->item_size);
                                if (r < 0)
                                        return r;
                        }
                        r = 1;
                        break;
                }
                default:
                        break;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int policy_cache_load(int root_fd, Policy *ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(out_done) Out sig = {};
        size_t len = 0;
        int r = read_full_root(root_fd, LASTGOOD_POLICY_CACHE_FILE, CACHE_MAX_SIZE, &buf, &len);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_debug_errno(r, "No compiled policy (%m): parsing the policy files.");
                return 0;
        }
        uint32_t format, sum;
        if (len < 8 + 4 + 8 + 8 + 4 || memcmp(buf, CACHE_MAGIC, 8) != 0)
                goto miss;
        memcpy(&format, buf + 8, sizeof format);
        memcpy(&sum, buf + len - 4, sizeof sum);
        if (format != CACHE_FORMAT || sum != (uint32_t) crc32(0, (const Bytef *) buf, (uInt) len - 4))
                goto miss;
        In in = { .p = (const uint8_t *) buf, .n = len - 4, .pos = 12 };
        uint64_t slen = in_u64(&in);
        if (in.bad || slen > in.n - in.pos)
                goto miss;
        const uint8_t *stored_sig = in.p + in.pos;
        in.pos += slen;

        int64_t newest;
        r = sources_signature(root_fd, &sig, &newest);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || sig.n != slen || memcmp(sig.p, stored_sig, slen) != 0) {
                log_debug("Policy sources changed since the policy was compiled: parsing them.");
                return 0;
        }
        uint64_t plen = in_u64(&in);
        if (in.bad || plen != in.n - in.pos)
                goto miss;

        Policy p = {};
        r = in_fields(&in, policy_top_fields, ELEMENTSOF(policy_top_fields), &p);
        char ***lists[] = { &p.files, &p.overridden, &p.masked, &p.warnings };
        for (size_t i = 0; i < ELEMENTSOF(lists) && r >= 0 && !in.bad; i++)
                r = in_strv(&in, lists[i]) < 0 ? -ENOMEM : 0;
        if (r >= 0 && !in.bad) {
                r = in_str(&in, &p.last_good_text) < 0 ? -ENOMEM : 0;
                if (!p.last_good_text)
                        in.bad = true;
        }
        if (r < 0 || in.bad || in.pos != in.n) {
                policy_done(&p);
                if (r == -ENOMEM)
                        return r;
                goto miss;
        }
        *ret = p;
        return 1;
miss:
        log_debug("Compiled policy %s unusable: parsing the policy files.", LASTGOOD_POLICY_CACHE_FILE);
        return 0;
}
