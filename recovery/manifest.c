/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/manifest.h"

#include <dirent.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <sys/xattr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <zlib.h>

#include "lib/encode.h"
#include "lib/fileio.h"
#include "lib/names.h"
#include "lib/rootfs.h"

/* A directory nesting deeper than this is refused (each level holds an fd). */
#define WALK_MAX_DEPTH 256
/* An entry whose ctime is this close to the start of the scan that cached its
 * stat data may have changed again within the same timestamp tick: do not
 * trust its cache (git's "racy" entries). */
#define RACY_MARGIN_NS MANIFEST_RACY_MARGIN_NS

Manifest *manifest_new(void) {
        Manifest *m = calloc(1, sizeof(Manifest));
        if (m)
                m->xattrs_known = true;
        return m;
}

void manifest_free(Manifest *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++) {
                free(m->entries[i].path);
                free(m->entries[i].target);
                free(m->entries[i].xattrs);
        }
        free(m->entries);
        free(m);
}

static int manifest_grow(Manifest *m) {
        if (m->n < m->allocated)
                return 0;
        size_t na = m->allocated ? m->allocated * 2 : 64;
        ManifestEntry *ne = reallocarray(m->entries, na, sizeof(ManifestEntry));
        if (!ne)
                return -ENOMEM;
        m->entries = ne;
        m->allocated = na;
        return 0;
}

int manifest_add(Manifest *m, const ManifestEntry *e) {
        int r = manifest_grow(m);
        if (r < 0)
                return r;
        ManifestEntry c = *e;
        c.path = strdup(e->path);
        c.target = e->target ? strdup(e->target) : NULL;
        c.xattrs = e->xattrs ? strdup(e->xattrs) : NULL;
        if (!c.path || (e->target && !c.target) || (e->xattrs && !c.xattrs)) {
                free(c.path);
                free(c.target);
                free(c.xattrs);
                return -ENOMEM;
        }
        m->entries[m->n++] = c;
        return 0;
}

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const ManifestEntry *) a)->path, ((const ManifestEntry *) b)->path);
}

void manifest_sort(Manifest *m) {
        if (m->n > 1)
                qsort(m->entries, m->n, sizeof(ManifestEntry), entry_cmp);
}

ssize_t manifest_find(const Manifest *m, const char *path) {
        size_t lo = 0, hi = m->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(path, m->entries[mid].path);
                if (c == 0)
                        return (ssize_t) mid;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -1;
}

static int64_t timespec_ns(const struct timespec *ts) {
        return (int64_t) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

int64_t manifest_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return timespec_ns(&ts);
}

void manifest_entry_from_stat(ManifestEntry *e, const struct stat *st) {
        e->type = S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'f';
        e->mode = S_ISLNK(st->st_mode) ? 0777 : (uint32_t) (st->st_mode & 07777);
        e->uid = st->st_uid;
        e->gid = st->st_gid;
        e->size = S_ISDIR(st->st_mode) ? 0 : (uint64_t) st->st_size;
        e->mtime_ns = timespec_ns(&st->st_mtim);
        e->ctime_ns = timespec_ns(&st->st_ctim);
        e->ino = st->st_ino;
        e->dev = st->st_dev;
}

void manifest_set_reason(char **ret, const char *fmt, ...) {
        if (!ret)
                return;
        free(*ret);
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        va_end(ap);
}

/* ---- formatting ---- */

int manifest_format(const Manifest *m, char **ret, size_t *ret_len) {
        _cleanup_(memstream_done) MemStream ms = {};
        FILE *f = memstream_init(&ms);
        if (!f)
                return -ENOMEM;
        /* A manifest read as version 1 stays version 1: see manifest.h. */
        fprintf(f, "%s %d %lld\n", MANIFEST_MAGIC, m->xattrs_known ? MANIFEST_VERSION : 1,
                (long long) m->created_ns);
        for (size_t i = 0; i < m->n; i++) {
                const ManifestEntry *e = &m->entries[i];
                char sha[2 * SHA256_LEN + 1] = "-";
                if (e->type == 'f')
                        hex_encode_to(e->sha256, SHA256_LEN, sha);
                fprintf(f, "%c %04o %u %u %llu %s %lld %lld %llu %llu ", e->type, (unsigned) e->mode, e->uid,
                        e->gid, (unsigned long long) e->size, sha, (long long) e->mtime_ns,
                        (long long) e->ctime_ns, (unsigned long long) e->ino, (unsigned long long) e->dev);
                pct_token_write(f, e->path);
                fputc(' ', f);
                if (e->type == 'l')
                        pct_token_write(f, e->target);
                else
                        fputc('-', f);
                if (m->xattrs_known)
                        fprintf(f, " %s", e->xattrs ?: "-");
                fputc('\n', f);
        }
        return memstream_finalize(&ms, ret, ret_len);
}

/* ---- parsing ---- */

static int parse_i64(const char *s, int64_t *ret) {
        bool neg = s[0] == '-';
        uint64_t v;
        int r = parse_u64(neg ? s + 1 : s, &v);
        if (r < 0)
                return r;
        if (neg && v == 0)
                return -EINVAL; /* "-0": not canonical */
        if (v > (uint64_t) INT64_MAX)
                return -ERANGE;
        *ret = neg ? -(int64_t) v : (int64_t) v;
        return 0;
}

static inline int lower_hex(char c) {
        if ((unsigned) (c - '0') < 10u)
                return c - '0';
        if ((unsigned) (c - 'a') < 6u)
                return c - 'a' + 10;
        return -1;
}

static int parse_sha256(const char *s, uint8_t ret[static SHA256_LEN]) {
        /* Lowercase only, as written: one spelling per manifest. Checked
         * and decoded in one pass (one per file at every confirm). */
        for (size_t i = 0; i < SHA256_LEN; i++) {
                int hi = lower_hex(s[2 * i]), lo = hi < 0 ? -1 : lower_hex(s[2 * i + 1]);
                if (lo < 0)
                        return -EINVAL;
                ret[i] = (uint8_t) (hi << 4 | lo);
        }
        return s[2 * SHA256_LEN] == '\0' ? 0 : -EINVAL;
}

bool manifest_path_fits(const char *path) {
        if (strlen(path) > MANIFEST_PATH_MAX)
                return false;
        for (const char *p = path; *p;) {
                size_t l = strcspn(p, "/");
                if (l > NAME_MAX)
                        return false;
                p += l;
                if (*p)
                        p++;
        }
        return true;
}

#define N_FIELDS_V1 12
#define N_FIELDS_MAX (N_FIELDS_V1 + MANIFEST_XATTRS_MAX)

/* The xattrs fields FIELD[0..N) (split in place from one line): each
 * "<name token>=<64 hex>", names kept, sorted and unique; E->xattrs gets
 * them joined again. */
static const char *parse_xattrs(char **field, size_t n, ManifestEntry *e) {
        if (n == 1 && streq(field[0], "-"))
                return NULL;
        _cleanup_free_ char *prev = NULL;
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(field[i]);
                uint8_t sha[SHA256_LEN];
                if (l < 2 + 2 * SHA256_LEN || field[i][l - 2 * SHA256_LEN - 1] != '=' ||
                    parse_sha256(field[i] + l - 2 * SHA256_LEN, sha) < 0)
                        return "bad extended attribute (not name=sha256)";
                field[i][l - 2 * SHA256_LEN - 1] = '\0';
                _cleanup_free_ char *name = NULL;
                int r = pct_token_decode(field[i], &name);
                field[i][l - 2 * SHA256_LEN - 1] = '=';
                if (r == -ENOMEM)
                        return "out of memory";
                if (r < 0)
                        return "badly escaped extended attribute name";
                if (!manifest_xattr_name_kept(name) || strlen(name) > XATTR_NAME_MAX)
                        return "extended attribute of a namespace lastgood does not keep";
                if (prev && strcmp(prev, name) >= 0)
                        return "extended attributes not sorted or not unique";
                free(prev);
                prev = TAKE_PTR(name);
        }
        /* The fields are consecutive in the line: join them again. */
        for (size_t i = 0; i + 1 < n; i++)
                field[i][strlen(field[i])] = ' ';
        e->xattrs = strdup(field[0]);
        return e->xattrs ? NULL : "out of memory";
}

static const char *parse_line(char *line, bool v1, ManifestEntry *e) {
        char *field[N_FIELDS_MAX];
        size_t n = 0, want = v1 ? N_FIELDS_V1 : N_FIELDS_V1 + 1;
        for (char *p = line;;) {
                if (n == (v1 ? N_FIELDS_V1 : N_FIELDS_MAX))
                        return "too many fields";
                field[n++] = p;
                char *sp = strchr(p, ' ');
                if (!sp)
                        break;
                *sp = '\0';
                p = sp + 1;
        }
        if (v1 ? n != want : n < want)
                return "wrong number of fields";
        for (size_t i = 0; i < n; i++)
                if (field[i][0] == '\0')
                        return "empty field";

        if (strlen(field[0]) != 1 || !strchr("fdl", field[0][0]))
                return "bad type (not f, d or l)";
        e->type = field[0][0];

        const char *mo = field[1];
        if (strlen(mo) != 4 || strspn(mo, "01234567") != 4)
                return "bad mode";
        e->mode = (uint32_t) ((mo[0] - '0') << 9 | (mo[1] - '0') << 6 | (mo[2] - '0') << 3 | (mo[3] - '0'));
        if (e->type == 'l' && e->mode != 0777)
                return "symlink mode must be 0777";

        uint64_t v;
        if (parse_u64(field[2], &v) < 0 || v > UINT32_MAX)
                return "bad uid";
        e->uid = (uint32_t) v;
        if (parse_u64(field[3], &v) < 0 || v > UINT32_MAX)
                return "bad gid";
        e->gid = (uint32_t) v;
        if (parse_u64(field[4], &e->size) < 0 || e->size > (uint64_t) INT64_MAX)
                return "bad size";
        if (e->type == 'd' && e->size != 0)
                return "directory with a size";

        if (e->type == 'f') {
                if (parse_sha256(field[5], e->sha256) < 0)
                        return "bad sha256";
        } else if (!streq(field[5], "-"))
                return "sha256 on a non-file";

        if (parse_i64(field[6], &e->mtime_ns) < 0)
                return "bad mtime";
        if (parse_i64(field[7], &e->ctime_ns) < 0)
                return "bad ctime";
        if (parse_u64(field[8], &e->ino) < 0)
                return "bad inode number";
        if (parse_u64(field[9], &e->dev) < 0)
                return "bad device number";

        int r = pct_token_decode(field[10], &e->path);
        if (r == -ENOMEM)
                return "out of memory";
        if (r < 0)
                return "badly escaped path";
        if (!path_is_safe_relative(e->path) || !manifest_path_fits(e->path))
                return "unsafe path (absolute, '..', '.', empty component, or too long)";

        if (e->type == 'l') {
                if (streq(field[11], "-"))
                        return "symlink without a target";
                r = pct_token_decode(field[11], &e->target);
                if (r == -ENOMEM)
                        return "out of memory";
                if (r < 0)
                        return "badly escaped symlink target";
                if (e->target[0] == '\0' || strlen(e->target) > MANIFEST_PATH_MAX)
                        return "bad symlink target";
                if (strlen(e->target) != e->size)
                        return "symlink size differs from its target's length";
        } else if (!streq(field[11], "-"))
                return "target on a non-symlink";
        return v1 ? NULL : parse_xattrs(field + N_FIELDS_V1, n - N_FIELDS_V1, e);
}

int manifest_parse(const char *buf, size_t len, uint64_t max_entries, Manifest **ret, char **ret_reason) {
        if (len > MANIFEST_MAX_SIZE)
                return -EFBIG;
        _cleanup_manifest_ Manifest *m = manifest_new();
        if (!m)
                return -ENOMEM;
        const char *what = NULL;
        size_t lineno = 0;
        _cleanup_free_ char *line = NULL;
        size_t line_cap = 0;

        for (size_t pos = 0; pos < len;) {
                lineno++;
                const char *nl = memchr(buf + pos, '\n', len - pos);
                if (!nl) {
                        what = "last line not terminated";
                        break;
                }
                size_t l = (size_t) (nl - (buf + pos));
                if (memchr(buf + pos, '\0', l)) {
                        what = "NUL byte";
                        break;
                }
                if (l + 1 > line_cap) {
                        line_cap = l + 1;
                        char *nline = realloc(line, line_cap);
                        if (!nline)
                                return -ENOMEM;
                        line = nline;
                }
                memcpy(line, buf + pos, l);
                line[l] = '\0';
                pos += l + 1;

                if (lineno == 1) {
                        /* "lastgood-manifest 2 " or, from before xattrs were
                         * kept, "lastgood-manifest 1 " (see manifest.h). */
                        size_t ml = strlen(MANIFEST_MAGIC);
                        if (!strneq(line, MANIFEST_MAGIC " ", ml + 1) || !strchr("12", line[ml + 1]) ||
                            line[ml + 1] == '\0' || line[ml + 2] != ' ' ||
                            parse_i64(line + ml + 3, &m->created_ns) < 0) {
                                what = "not a lastgood manifest (bad header)";
                                break;
                        }
                        m->xattrs_known = line[ml + 1] == '2';
                        continue;
                }
                if (m->n >= max_entries) {
                        if (ret_reason)
                                manifest_set_reason(ret_reason, "more than %llu entries",
                                                    (unsigned long long) max_entries);
                        return -E2BIG;
                }
                ManifestEntry e = {};
                what = parse_line(line, !m->xattrs_known, &e);
                if (!what && m->n > 0 && strcmp(m->entries[m->n - 1].path, e.path) >= 0)
                        what = "entries not sorted or not unique";
                if (what) {
                        free(e.path);
                        free(e.target);
                        free(e.xattrs);
                        break;
                }
                int r = manifest_grow(m);
                if (r < 0) {
                        free(e.path);
                        free(e.target);
                        free(e.xattrs);
                        return r;
                }
                m->entries[m->n++] = e; /* takes the strings parse_line allocated */
        }
        if (!what && lineno == 0)
                what = "empty manifest";
        if (what) {
                if (ret_reason)
                        manifest_set_reason(ret_reason, "manifest line %zu: %s", lineno, what);
                return -EBADMSG;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- the binary form ---- */

#define BIN_MAGIC "LGMANBIN"
#define BIN_VERSION 1u
#define BIN_NULL UINT32_MAX

typedef struct BinOut {
        char *p;
        size_t n, cap;
} BinOut;

static int bin_put(BinOut *o, const void *p, size_t n) {
        if (o->n + n > o->cap) {
                size_t cap = o->cap ? o->cap : 4096;
                while (cap < o->n + n)
                        cap *= 2;
                char *np = realloc(o->p, cap);
                if (!np)
                        return -ENOMEM;
                o->p = np;
                o->cap = cap;
        }
        memcpy(o->p + o->n, p, n);
        o->n += n;
        return 0;
}

/* Fixed part of an entry, then its strings (lengths here, bytes after). */
typedef struct __attribute__((packed)) BinEntry {
        uint8_t type;
        uint32_t mode, uid, gid;
        uint64_t size;
        uint8_t sha256[SHA256_LEN];
        int64_t mtime_ns, ctime_ns;
        uint64_t ino, dev;
        uint32_t path_len, target_len, xattrs_len;
} BinEntry;

typedef struct __attribute__((packed)) BinHeader {
        char magic[8];
        uint32_t version;
        uint32_t key_len;
        int64_t created_ns;
        uint8_t xattrs_known;
        uint64_t n;
} BinHeader;

static uint32_t bin_len(const char *s) {
        return s ? (uint32_t) strlen(s) : BIN_NULL;
}

int manifest_encode_binary(const Manifest *m, const void *key, size_t key_len, char **ret, size_t *ret_len) {
        BinOut o = {};
        BinHeader h = { .magic = BIN_MAGIC,
                        .version = BIN_VERSION,
                        .key_len = (uint32_t) key_len,
                        .created_ns = m->created_ns,
                        .xattrs_known = m->xattrs_known,
                        .n = m->n };
        int r = bin_put(&o, &h, sizeof h);
        if (r >= 0)
                r = bin_put(&o, key, key_len);
        for (size_t i = 0; r >= 0 && i < m->n; i++) {
                const ManifestEntry *e = &m->entries[i];
                BinEntry b = { .type = (uint8_t) e->type,
                               .mode = e->mode,
                               .uid = e->uid,
                               .gid = e->gid,
                               .size = e->size,
                               .mtime_ns = e->mtime_ns,
                               .ctime_ns = e->ctime_ns,
                               .ino = e->ino,
                               .dev = e->dev,
                               .path_len = bin_len(e->path),
                               .target_len = bin_len(e->target),
                               .xattrs_len = bin_len(e->xattrs) };
                memcpy(b.sha256, e->sha256, SHA256_LEN);
                r = bin_put(&o, &b, sizeof b);
                if (r >= 0)
                        r = bin_put(&o, e->path, b.path_len);
                if (r >= 0 && e->target)
                        r = bin_put(&o, e->target, b.target_len);
                if (r >= 0 && e->xattrs)
                        r = bin_put(&o, e->xattrs, b.xattrs_len);
        }
        if (r >= 0) {
                uint32_t crc = (uint32_t) crc32(0, (const Bytef *) o.p, (uInt) o.n);
                r = bin_put(&o, &crc, sizeof crc);
        }
        if (r < 0) {
                free(o.p);
                return r;
        }
        *ret = o.p;
        *ret_len = o.n;
        return 0;
}

/* A string of LEN bytes at *POS (NUL-free), or NULL for BIN_NULL. */
static int bin_str(const char *buf, size_t end, size_t *pos, uint32_t len, char **ret) {
        if (len == BIN_NULL) {
                *ret = NULL;
                return 0;
        }
        if (len > end - *pos || memchr(buf + *pos, '\0', len))
                return -EBADMSG;
        *ret = strndup(buf + *pos, len);
        if (!*ret)
                return -ENOMEM;
        *pos += len;
        return 0;
}

/* The checks of parse_line() that concern an entry's form. */
static bool bin_entry_ok(const ManifestEntry *e, bool xattrs_known) {
        if (e->type != 'f' && e->type != 'd' && e->type != 'l')
                return false;
        if (e->mode > 07777 || (e->type == 'l' && e->mode != 0777) || (e->type == 'd' && e->size != 0) ||
            e->size > (uint64_t) INT64_MAX)
                return false;
        if (!e->path || !path_is_safe_relative(e->path) || !manifest_path_fits(e->path))
                return false;
        if ((e->type == 'l') != (e->target != NULL))
                return false;
        if (e->target && (e->target[0] == '\0' || strlen(e->target) != e->size))
                return false;
        return !e->xattrs || xattrs_known;
}

int manifest_decode_binary(const char *buf, size_t len, const void *key, size_t key_len,
                           uint64_t max_entries, Manifest **ret) {
        BinHeader h;
        if (len < sizeof h + sizeof(uint32_t))
                return -EBADMSG;
        memcpy(&h, buf, sizeof h);
        uint32_t crc;
        memcpy(&crc, buf + len - sizeof crc, sizeof crc);
        size_t end = len - sizeof crc;
        if (memcmp(h.magic, BIN_MAGIC, sizeof h.magic) != 0 || h.version != BIN_VERSION ||
            h.key_len != key_len || key_len > end - sizeof h || memcmp(buf + sizeof h, key, key_len) != 0 ||
            h.xattrs_known > 1 || crc != (uint32_t) crc32(0, (const Bytef *) buf, (uInt) end))
                return -EBADMSG;
        if (h.n > max_entries)
                return -E2BIG;
        if (h.n > (end - sizeof h - key_len) / sizeof(BinEntry))
                return -EBADMSG;
        _cleanup_manifest_ Manifest *m = manifest_new();
        if (!m)
                return -ENOMEM;
        m->created_ns = h.created_ns;
        m->xattrs_known = h.xattrs_known;
        m->entries = calloc(h.n + 1, sizeof(ManifestEntry));
        if (!m->entries)
                return -ENOMEM;
        m->allocated = h.n + 1;
        size_t pos = sizeof h + key_len;
        for (uint64_t i = 0; i < h.n; i++) {
                BinEntry b;
                if (end - pos < sizeof b)
                        return -EBADMSG;
                memcpy(&b, buf + pos, sizeof b);
                pos += sizeof b;
                ManifestEntry *e = &m->entries[m->n++]; /* counted now: freed with M */
                *e = (ManifestEntry) { .type = (char) b.type,
                                       .mode = b.mode,
                                       .uid = b.uid,
                                       .gid = b.gid,
                                       .size = b.size,
                                       .mtime_ns = b.mtime_ns,
                                       .ctime_ns = b.ctime_ns,
                                       .ino = b.ino,
                                       .dev = b.dev };
                memcpy(e->sha256, b.sha256, SHA256_LEN);
                int r = bin_str(buf, end, &pos, b.path_len, &e->path);
                if (r >= 0)
                        r = bin_str(buf, end, &pos, b.target_len, &e->target);
                if (r >= 0)
                        r = bin_str(buf, end, &pos, b.xattrs_len, &e->xattrs);
                if (r < 0)
                        return r;
                if (!e->path || !bin_entry_ok(e, m->xattrs_known))
                        return -EBADMSG;
                const char *prev = i > 0 ? m->entries[i - 1].path : NULL;
                if (prev && strcmp(prev, e->path) >= 0)
                        return -EBADMSG; /* sorted and unique, as manifest_find() needs */
        }
        if (pos != end)
                return -EBADMSG;
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- content roots and symlink containment ---- */

int manifest_roots(char *const *content, char ***ret) {
        _cleanup_strv_free_ char **sorted = NULL;
        for (char *const *c = content; c && *c; c++) {
                if ((*c)[0] != '/' || !path_is_safe_relative(*c + 1) || !manifest_path_fits(*c + 1))
                        return -EINVAL;
                int r = strv_push(&sorted, *c + 1);
                if (r < 0)
                        return r;
        }
        strv_sort(sorted);
        size_t n = strv_length(sorted);

        _cleanup_strv_free_ char **roots = calloc(1, sizeof(char *));
        if (!roots)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                /* A path inside another root is already covered by it. */
                if (manifest_roots_find(roots, sorted[i]) >= 0)
                        continue;
                int r = strv_push(&roots, sorted[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(roots);
        return 0;
}

ssize_t manifest_roots_find(char *const *roots, const char *path) {
        for (size_t i = 0; roots && roots[i]; i++) {
                size_t l = strlen(roots[i]);
                if (strneq(path, roots[i], l) && (path[l] == '\0' || path[l] == '/'))
                        return (ssize_t) i;
        }
        return -1;
}

const char *manifest_check_symlink(const char *root, const char *link_path, const char *target) {
        if (!target || target[0] == '\0')
                return "symlink with an empty target";
        if (target[0] == '/')
                return "absolute symlink target";
        if (strlen(target) > MANIFEST_PATH_MAX)
                return "symlink target too long";
        size_t rl = strlen(root);
        if (!strneq(link_path, root, rl) || link_path[rl] != '/')
                return "a content path itself must not be a symlink";

        /* How deep the link's directory lies below the root. */
        long depth = 0;
        for (const char *p = link_path + rl + 1; *p; p++)
                if (*p == '/')
                        depth++;

        /* ".." only as a leading run: after a normal component, ".." would be
         * resolved physically against whatever that component (perhaps
         * another symlink) points to, which a lexical check cannot follow. */
        bool seen_normal = false;
        for (const char *p = target; *p;) {
                size_t l = strcspn(p, "/");
                if (l == 2 && p[0] == '.' && p[1] == '.') {
                        if (seen_normal)
                                return "symlink target with '..' after a path component";
                        if (--depth < 0)
                                return "symlink target escapes the content path";
                } else if (l > 0 && !(l == 1 && p[0] == '.'))
                        seen_normal = true;
                p += l;
                if (*p)
                        p++;
        }
        return NULL;
}

static int reasonf(char **ret_reason, const char *path, const char *what) {
        if (ret_reason) {
                _cleanup_free_ char *esc = pct_token_encode(path);
                manifest_set_reason(ret_reason, "entry '%s': %s", esc ?: "?", what);
        }
        return -EBADMSG;
}

int manifest_check_roots(const Manifest *m, char *const *roots, char **ret_reason) {
        char parent[MANIFEST_PATH_MAX + 1];
        for (size_t i = 0; i < m->n; i++) {
                const ManifestEntry *e = &m->entries[i];
                ssize_t k = manifest_roots_find(roots, e->path);
                if (k < 0)
                        return reasonf(ret_reason, e->path, "outside the component's content paths");
                if (streq(e->path, roots[k])) {
                        if (e->type == 'l')
                                return reasonf(ret_reason, e->path, "a content path itself must not be a symlink");
                } else {
                        const char *slash = strrchr(e->path, '/');
                        size_t pl = (size_t) (slash - e->path);
                        memcpy(parent, e->path, pl);
                        parent[pl] = '\0';
                        ssize_t j = manifest_find(m, parent);
                        if (j < 0)
                                return reasonf(ret_reason, e->path, "its parent directory is not in the snapshot");
                        if (m->entries[j].type != 'd')
                                return reasonf(ret_reason, e->path, "its parent is not a directory");
                }
                if (e->type == 'l') {
                        const char *why = manifest_check_symlink(roots[k], e->path, e->target);
                        if (why)
                                return reasonf(ret_reason, e->path, why);
                }
        }
        return 0;
}

/* ---- extended attributes ---- */

bool manifest_xattr_name_kept(const char *name) {
        /* A namespace prefix and a non-empty name after it. */
        size_t l = strlen(name);
        return (strneq(name, "security.", 9) && l > 9) || (strneq(name, "user.", 5) && l > 5);
}

bool manifest_xattr_name_is_lsm_label(const char *name) {
        return streq(name, "security.selinux") || streq(name, "security.SMACK64");
}

void manifest_xattrs_done(ManifestXattrs *x) {
        for (size_t i = 0; i < x->n; i++) {
                free(x->items[i].name);
                free(x->items[i].value);
        }
        free(x->items);
        *x = (ManifestXattrs) {};
}

int manifest_xattrs_add(ManifestXattrs *x, const char *name, const void *value, size_t size) {
        if (!manifest_xattr_name_kept(name) || strlen(name) > XATTR_NAME_MAX || size > MANIFEST_XATTR_VALUE_MAX)
                return -EINVAL;
        size_t at = 0;
        for (; at < x->n; at++) {
                int c = strcmp(name, x->items[at].name);
                if (c == 0)
                        return x->items[at].size == size && memcmp(x->items[at].value, value, size) == 0
                                       ? 0
                                       : -EEXIST;
                if (c < 0)
                        break;
        }
        if (x->n >= MANIFEST_XATTRS_MAX)
                return -E2BIG;
        ManifestXattr *ni = reallocarray(x->items, x->n + 1, sizeof(ManifestXattr));
        if (!ni)
                return -ENOMEM;
        x->items = ni;
        ManifestXattr it = { .name = strdup(name), .value = malloc(size ?: 1), .size = size };
        if (!it.name || !it.value) {
                free(it.name);
                free(it.value);
                return -ENOMEM;
        }
        memcpy(it.value, value, size);
        memmove(x->items + at + 1, x->items + at, (x->n - at) * sizeof(ManifestXattr));
        x->items[at] = it;
        x->n++;
        return 0;
}

/* flistxattr/fgetxattr on FD; an O_PATH fd (symlinks, which cannot be
 * opened otherwise) only works through its /proc/self/fd link. */
static ssize_t xattr_list(int fd, const char *proc, char *buf, size_t size) {
        ssize_t n = proc ? listxattr(proc, buf, size) : flistxattr(fd, buf, size);
        return n < 0 ? -errno : n;
}

static ssize_t xattr_get(int fd, const char *proc, const char *name, void *buf, size_t size) {
        ssize_t n = proc ? getxattr(proc, name, buf, size) : fgetxattr(fd, name, buf, size);
        return n < 0 ? -errno : n;
}

int manifest_xattrs_read(int dir_fd, const char *name, int fd, const struct stat *st, ManifestXattrs *ret) {
        _cleanup_close_ int own = -1;
        char proc[64];
        const char *pp = NULL;
        if (fd < 0) {
                own = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (own < 0)
                        return -errno;
                struct stat now;
                if (fstat(own, &now) < 0)
                        return -errno;
                if (now.st_ino != st->st_ino || now.st_dev != st->st_dev)
                        return -EBUSY; /* replaced since it was looked at */
                int r = xsnprintf(proc, sizeof proc, "/proc/self/fd/%d", own);
                if (r < 0)
                        return r;
                pp = proc;
                fd = own;
        }

        _cleanup_free_ char *list = NULL;
        ssize_t n;
        for (unsigned tries = 0;; tries++) {
                n = xattr_list(fd, pp, NULL, 0);
                if (n == -EOPNOTSUPP || n == 0) {
                        *ret = (ManifestXattrs) {}; /* no xattrs on this file system */
                        return 0;
                }
                if (n < 0)
                        return (int) n;
                free(list);
                list = malloc((size_t) n + 1);
                if (!list)
                        return -ENOMEM;
                n = xattr_list(fd, pp, list, (size_t) n);
                if (n != -ERANGE || tries >= 3)
                        break; /* ERANGE: it grew in between */
        }
        if (n < 0)
                return (int) n;
        list[n] = '\0';

        _cleanup_(manifest_xattrs_done) ManifestXattrs x = {};
        _cleanup_free_ void *value = malloc(MANIFEST_XATTR_VALUE_MAX);
        if (!value)
                return -ENOMEM;
        for (const char *k = list; k < list + n; k += strlen(k) + 1) {
                if (!manifest_xattr_name_kept(k))
                        continue;
                ssize_t l = xattr_get(fd, pp, k, value, MANIFEST_XATTR_VALUE_MAX);
                if (l == -ENODATA)
                        continue; /* removed in between */
                if (l == -ERANGE)
                        return -EFBIG;
                if (l < 0)
                        return (int) l;
                int r = manifest_xattrs_add(&x, k, value, (size_t) l);
                if (r == -EINVAL)
                        continue; /* a name lastgood cannot record (too long) */
                if (r < 0)
                        return r;
        }
        *ret = x;
        x = (ManifestXattrs) {};
        return 0;
}

int manifest_xattrs_format(const ManifestXattrs *x, char **ret) {
        if (x->n == 0) {
                *ret = NULL;
                return 0;
        }
        _cleanup_(memstream_done) MemStream ms = {};
        FILE *f = memstream_init(&ms);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < x->n; i++) {
                uint8_t sha[SHA256_LEN];
                char hex[2 * SHA256_LEN + 1];
                struct sha256_ctx ctx;
                sha256_init(&ctx);
                sha256_update(&ctx, x->items[i].size, x->items[i].value);
                sha256_digest(&ctx, SHA256_LEN, sha);
                hex_encode_to(sha, SHA256_LEN, hex);
                if (i > 0)
                        fputc(' ', f);
                pct_token_write(f, x->items[i].name);
                fprintf(f, "=%s", hex);
        }
        return memstream_finalize(&ms, ret, NULL);
}

int manifest_xattrs_text_at(int dir_fd, const char *name, int fd, const struct stat *st, char **ret) {
        _cleanup_(manifest_xattrs_done) ManifestXattrs x = {};
        int r = manifest_xattrs_read(dir_fd, name, fd, st, &x);
        if (r < 0)
                return r;
        return manifest_xattrs_format(&x, ret);
}

bool manifest_xattrs_has(const char *text, const char *name) {
        if (!text)
                return false;
        _cleanup_free_ char *tok = pct_token_encode(name);
        if (!tok)
                return false;
        size_t l = strlen(tok);
        for (const char *p = text; *p;) {
                size_t fl = strcspn(p, " ");
                if (fl == l + 1 + 2 * SHA256_LEN && strneq(p, tok, l) && p[l] == '=')
                        return true;
                p += fl;
                if (*p)
                        p++;
        }
        return false;
}

char *manifest_xattrs_names(const char *text) {
        if (!text)
                return strdup("none");
        char *s = strdup(text);
        if (!s)
                return NULL;
        /* "tok=hash tok=hash" -> "tok,tok" (names stay escaped). */
        char *w = s;
        for (const char *p = s; *p;) {
                size_t l = strcspn(p, " ");
                size_t nl = l > 2 * SHA256_LEN + 1 ? l - 2 * SHA256_LEN - 1 : l;
                if (w != s)
                        *w++ = ',';
                memmove(w, p, nl);
                w += nl;
                p += l;
                if (*p)
                        p++;
        }
        *w = '\0';
        return s;
}

/* ---- hashing ---- */

int manifest_hash_fd(int fd, uint8_t ret[static SHA256_LEN], uint64_t *ret_size) {
        struct sha256_ctx ctx;
        uint8_t buf[128 * 1024];
        uint64_t total = 0;
        sha256_init(&ctx);
        for (;;) {
                ssize_t n = loop_read(fd, buf, sizeof buf);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                sha256_update(&ctx, (size_t) n, buf);
                total += (uint64_t) n;
        }
        sha256_digest(&ctx, SHA256_LEN, ret);
        if (ret_size)
                *ret_size = total;
        return 0;
}

/* ---- exclusion ---- */

bool manifest_path_excluded(char *const *exclude, const char *path) {
        return name_exclude_match(exclude, path, NAME_MATCH_LEADING_DIR);
}

bool manifest_path_holds_excluded(char *const *exclude, const char *path) {
        return name_exclude_match(exclude, path, NAME_MATCH_ANCESTOR);
}

/* ---- walking ---- */

/* One entry of a walk: skipped when excluded or not content, else given to
 * FN; a directory FN does not stop is opened and listed (1, *ret_fd and
 * *ret_names: what lies below it). 0: nothing below. */
static int walk_entry(int dir_fd, const char *name, const char *path, unsigned depth, char *const *exclude,
                      ManifestWalkFn fn, void *ud, int *ret_fd, char ***ret_names) {
        struct stat st;
        if (manifest_path_excluded(exclude, path))
                return 0; /* the component's live state: not content */
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
                return 0; /* sockets, FIFOs, devices: not content */
        int r = fn(dir_fd, name, path, &st, ud);
        if (r != 0 || !S_ISDIR(st.st_mode))
                return r < 0 ? r : 0;
        if (depth >= WALK_MAX_DEPTH)
                return -ELOOP;

        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = dir_list_fd(fd, NULL, 0, ret_names);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 1;
}

static int walk_rec(int dir_fd, const char *name, char *path, size_t plen, unsigned depth,
                    char *const *exclude, ManifestWalkFn fn, void *ud) {
        _cleanup_close_ int fd = -1;
        _cleanup_strv_free_ char **names = NULL;
        int r = walk_entry(dir_fd, name, path, depth, exclude, fn, ud, &fd, &names);
        if (r <= 0 || !names) /* 1 always sets names: the analyzer cannot tell */
                return r;
        size_t n = strv_length(names);

        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(names[i]);
                if (plen + 1 + l > MANIFEST_PATH_MAX)
                        return -ENAMETOOLONG;
                path[plen] = '/';
                memcpy(path + plen + 1, names[i], l + 1);
                r = walk_rec(fd, names[i], path, plen + 1 + l, depth + 1, exclude, fn, ud);
                path[plen] = '\0';
                if (r < 0)
                        return r;
        }
        return 0;
}

int manifest_walk_at(int parent_fd, const char *name, const char *path, char *const *exclude,
                     ManifestWalkFn fn, void *userdata) {
        char buf[MANIFEST_PATH_MAX + 1];
        size_t l = strlen(path);
        if (l > MANIFEST_PATH_MAX)
                return -ENAMETOOLONG;
        memcpy(buf, path, l + 1);
        return walk_rec(parent_fd, name, buf, l, 0, exclude, fn, userdata);
}

int manifest_walk(int root_fd, char *const *roots, char *const *exclude, ManifestWalkFn fn, void *userdata) {
        for (size_t i = 0; roots && roots[i]; i++) {
                _cleanup_close_ int parent_fd = -1;
                const char *name;
                int r = root_open_parent(root_fd, roots[i], false, &parent_fd, &name);
                if (r == -ENOENT || r == -ENOTDIR)
                        continue;
                if (r < 0)
                        return r;
                r = manifest_walk_at(parent_fd, name, roots[i], exclude, fn, userdata);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the content digest ---- */

typedef struct DigestCtx {
        struct sha256_ctx sha;
        uint64_t n;
} DigestCtx;

static int digest_one(int dir_fd, const char *name, const char *path, const struct stat *st, void *userdata) {
        DigestCtx *c = userdata;
        ManifestEntry e = {};
        manifest_entry_from_stat(&e, st); /* type and mode as a manifest records them */
        char type = e.type;
        char hash[MANIFEST_DIGEST_HEX + 1] = "-";
        _cleanup_free_ char *target = NULL;
        if (type == 'f') {
                _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                uint8_t h[SHA256_LEN];
                int k = manifest_hash_fd(fd, h, NULL);
                if (k < 0)
                        return k;
                hex_encode_to(h, sizeof h, hash);
        } else if (type == 'l') {
                int k = readlink_malloc_at(dir_fd, name, &target);
                if (k < 0)
                        return k;
        }
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%c %04o %s ", type, (unsigned) e.mode, hash);
        pct_token_write(f, path);
        fputc(' ', f);
        if (target)
                pct_token_write(f, target);
        else
                fputc('-', f);
        fputc('\n', f);
        _cleanup_free_ char *line = NULL;
        size_t len;
        int r = memstream_finalize(&m, &line, &len);
        if (r < 0)
                return r;
        sha256_update(&c->sha, len, (const uint8_t *) line);
        c->n++;
        return 0;
}

int manifest_content_digest(int root_fd, char *const *roots, char *const *exclude,
                            char ret[static MANIFEST_DIGEST_HEX + 1]) {
        DigestCtx c = { .n = 0 };
        sha256_init(&c.sha);
        int r = manifest_walk(root_fd, roots, exclude, digest_one, &c);
        if (r < 0)
                return r;
        if (c.n == 0)
                return -ENOENT;
        uint8_t h[SHA256_LEN];
        sha256_digest(&c.sha, SHA256_LEN, h);
        hex_encode_to(h, sizeof h, ret);
        return 0;
}

/* ---- walking, in parallel ---- */

/* The unchanged-content check is a stat per entry, in the kernel almost
 * wholly: like git's preload-index, several threads share the subtrees of
 * the roots (the roots themselves and their direct entries stay with the
 * caller's thread). Each worker has its own USERDATA; FN must only touch
 * that and the entries its paths name. */
typedef struct WalkJob {
        int dir_fd; /* the root's directory (owned by the pool) */
        char *name;
        char *path;
} WalkJob;

typedef struct WalkPool {
        WalkJob *jobs;
        size_t n, cap;
        atomic_size_t next;
        atomic_int error; /* the first error, or 0 */
        char *const *exclude;
        ManifestWalkFn fn;
} WalkPool;

typedef struct WalkWorker {
        WalkPool *pool;
        void *userdata;
        pthread_t thread;
        bool started;
} WalkWorker;

static void *walk_worker(void *arg) {
        WalkWorker *w = arg;
        WalkPool *pool = w->pool;
        char buf[MANIFEST_PATH_MAX + 1];
        for (;;) {
                size_t i = atomic_fetch_add(&pool->next, 1);
                if (i >= pool->n || atomic_load(&pool->error) != 0)
                        break;
                const WalkJob *j = &pool->jobs[i];
                size_t l = strlen(j->path);
                memcpy(buf, j->path, l + 1);
                int r = walk_rec(j->dir_fd, j->name, buf, l, 1, pool->exclude, pool->fn, w->userdata);
                if (r < 0) {
                        int none = 0;
                        atomic_compare_exchange_strong(&pool->error, &none, r);
                        break;
                }
        }
        return NULL;
}

static void walk_pool_done(WalkPool *pool) {
        int last_fd = -1;
        for (size_t i = 0; i < pool->n; i++) {
                if (pool->jobs[i].dir_fd != last_fd)
                        close(pool->jobs[i].dir_fd);
                last_fd = pool->jobs[i].dir_fd;
                free(pool->jobs[i].name);
                free(pool->jobs[i].path);
        }
        free(pool->jobs);
}

/* The root at PARENT_FD/NAME: itself by FN with USERDATA, then each of its
 * entries a job (its directory is opened once, shared by its jobs and
 * closed with the pool). */
static int walk_pool_root(WalkPool *pool, int parent_fd, const char *name, const char *root, void *userdata) {
        _cleanup_close_ int fd = -1;
        _cleanup_strv_free_ char **names = NULL;
        int r = walk_entry(parent_fd, name, root, 0, pool->exclude, pool->fn, userdata, &fd, &names);
        if (r <= 0 || !names) /* 1 always sets names: the analyzer cannot tell */
                return r;
        size_t n = strv_length(names);
        if (n == 0)
                return 0;
        if (pool->n + n > pool->cap) {
                size_t cap = pool->cap ? pool->cap : 64;
                while (cap < pool->n + n)
                        cap *= 2;
                WalkJob *nj = reallocarray(pool->jobs, cap, sizeof(WalkJob));
                if (!nj)
                        return -ENOMEM;
                pool->jobs = nj;
                pool->cap = cap;
        }
        _cleanup_free_ WalkJob *add = calloc(n, sizeof(WalkJob));
        if (!add)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                add[i].name = names[i];
                if (asprintf(&add[i].path, "%s/%s", root, names[i]) < 0)
                        add[i].path = NULL;
                if (!add[i].path || strlen(add[i].path) > MANIFEST_PATH_MAX) {
                        r = add[i].path ? -ENAMETOOLONG : -ENOMEM;
                        for (size_t k = 0; k <= i; k++)
                                free(add[k].path);
                        return r; /* the names stay NAMES' to free */
                }
        }
        /* All made: the pool takes the names, paths and the fd. */
        for (size_t i = 0; i < n; i++) {
                add[i].dir_fd = fd;
                pool->jobs[pool->n++] = add[i];
                names[i] = NULL;
        }
        TAKE_FD(fd);
        return 0;
}

int manifest_walk_parallel(int root_fd, char *const *roots, char *const *exclude, ManifestWalkFn fn,
                           void *const *userdata, size_t n_workers) {
        WalkPool pool = { .exclude = exclude, .fn = fn };
        int r = 0;
        for (size_t i = 0; roots && roots[i] && r >= 0; i++) {
                _cleanup_close_ int parent_fd = -1;
                const char *name;
                r = root_open_parent(root_fd, roots[i], false, &parent_fd, &name);
                if (r == -ENOENT || r == -ENOTDIR) {
                        r = 0;
                        continue;
                }
                if (r >= 0)
                        r = walk_pool_root(&pool, parent_fd, name, roots[i], userdata[0]);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r < 0) {
                walk_pool_done(&pool);
                return r;
        }
        WalkWorker w[MANIFEST_WALK_MAX_WORKERS] = {};
        if (n_workers > MANIFEST_WALK_MAX_WORKERS)
                n_workers = MANIFEST_WALK_MAX_WORKERS;
        for (size_t k = 1; k < n_workers && k < pool.n; k++) {
                w[k] = (WalkWorker) { .pool = &pool, .userdata = userdata[k] };
                /* No thread, no matter: the others (the caller's too) do its share. */
                w[k].started = pthread_create(&w[k].thread, NULL, walk_worker, &w[k]) == 0;
        }
        w[0] = (WalkWorker) { .pool = &pool, .userdata = userdata[0] };
        walk_worker(&w[0]);
        for (size_t k = 1; k < n_workers; k++)
                if (w[k].started)
                        pthread_join(w[k].thread, NULL);
        r = atomic_load(&pool.error);
        walk_pool_done(&pool);
        return r;
}

/* ---- the fast change check ---- */

typedef struct CompareCtx {
        Manifest *m;
        char *const *roots;
        bool *root_seen;
        size_t matched;
        size_t next;        /* the entry after the last one found */
        uint64_t n_changed; /* changed or added entries */
        bool changed, cache_updated;
        int64_t newest_ns;     /* changed/added entries */
        int64_t dir_change_ns; /* directories whose ctime moved: where removals show */
        int64_t racy_after_ns;
} CompareCtx;

static void note_change(CompareCtx *c, const struct stat *st) {
        c->changed = true;
        c->n_changed++;
        int64_t t = timespec_ns(&st->st_ctim);
        if (t > c->newest_ns)
                c->newest_ns = t;
}

static bool cache_matches(const ManifestEntry *e, const struct stat *st, int64_t racy_after_ns) {
        return e->mtime_ns == timespec_ns(&st->st_mtim) && e->ctime_ns == timespec_ns(&st->st_ctim) &&
               e->ino == (uint64_t) st->st_ino && e->ctime_ns < racy_after_ns;
}

static void cache_refresh(CompareCtx *c, ManifestEntry *e, const struct stat *st) {
        manifest_entry_from_stat(e, st);
        c->cache_updated = true;
}

/* The entry's content is as recorded but its stat data moved: a changed
 * xattr moves the ctime, so only here (never on the fast path) are its
 * xattrs read; if they differ it is a change, else only the cache is
 * refreshed. A manifest that does not record xattrs (version 1) cannot
 * tell: not a change. */
static int settle(CompareCtx *c, int dir_fd, const char *name, int fd, const struct stat *st, ManifestEntry *e) {
        if (c->m->xattrs_known) {
                _cleanup_free_ char *now = NULL;
                int r = manifest_xattrs_text_at(dir_fd, name, fd, st, &now);
                if (r < 0)
                        return r;
                if (!manifest_xattrs_equal(now, e->xattrs)) {
                        note_change(c, st);
                        return 0;
                }
        }
        cache_refresh(c, e, st);
        return 0;
}

static int compare_one(int dir_fd, const char *name, const char *path, const struct stat *st, void *userdata) {
        CompareCtx *c = userdata;
        ssize_t k = manifest_roots_find(c->roots, path);
        if (k >= 0 && streq(path, c->roots[k]))
                c->root_seen[k] = true;

        /* The walk meets entries mostly in manifest order (both sorted;
         * only names with bytes below '/' differ): try the next one first. */
        ssize_t i = c->next < c->m->n && streq(c->m->entries[c->next].path, path) ? (ssize_t) c->next
                                                                                  : manifest_find(c->m, path);
        if (i < 0) {
                note_change(c, st); /* added */
                return 0;
        }
        c->next = (size_t) i + 1;
        c->matched++;
        ManifestEntry *e = &c->m->entries[i];
        ManifestEntry now = {};
        manifest_entry_from_stat(&now, st);
        if (now.type != e->type || now.mode != e->mode || now.uid != e->uid || now.gid != e->gid ||
            now.size != e->size) {
                note_change(c, st);
                return 0;
        }
        if (e->type == 'd') {
                if (e->ctime_ns == now.ctime_ns && e->mtime_ns == now.mtime_ns && e->ino == now.ino)
                        return 0;
                if (now.ctime_ns > c->dir_change_ns)
                        c->dir_change_ns = now.ctime_ns;
                return settle(c, dir_fd, name, -1, st, e);
        }
        if (cache_matches(e, st, c->racy_after_ns))
                return 0;

        /* The stat data moved: look at the content itself. */
        if (e->type == 'l') {
                char buf[MANIFEST_PATH_MAX + 2];
                ssize_t l = readlinkat(dir_fd, name, buf, sizeof buf - 1);
                if (l < 0)
                        return -errno;
                buf[l] = '\0';
                if (!streq(buf, e->target)) {
                        note_change(c, st);
                        return 0;
                }
                return settle(c, dir_fd, name, -1, st, e);
        }
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        uint8_t sha[SHA256_LEN];
        uint64_t size;
        int r = manifest_hash_fd(fd, sha, &size);
        if (r < 0)
                return r;
        if (size != e->size || memcmp(sha, e->sha256, SHA256_LEN) != 0) {
                note_change(c, st);
                return 0;
        }
        /* A capability added or dropped with the content unchanged is a
         * change of the component: security-relevant, not a touch. */
        return settle(c, dir_fd, name, fd, st, e);
}

int manifest_compare_live(int root_fd, char *const *roots, char *const *exclude, Manifest *m, ManifestDiff *ret) {
        size_t n_roots = strv_length(roots);
        _cleanup_free_ bool *root_seen = calloc(n_roots + 1, sizeof(bool));
        if (!root_seen)
                return -ENOMEM;
        int64_t started = manifest_now_ns();
        CompareCtx c = {
                .m = m,
                .roots = roots,
                .root_seen = root_seen,
                .racy_after_ns = m->created_ns - RACY_MARGIN_NS,
        };
        /* Large trees in parallel (see manifest_walk_parallel()): each
         * worker counts for itself, the sums and maxima are merged. */
        long ncpu = m->n >= 2000 ? sysconf(_SC_NPROCESSORS_ONLN) : 1; /* sysconf() reads /sys */
        size_t nw = ncpu > 1 ? (size_t) (ncpu < MANIFEST_WALK_MAX_WORKERS ? ncpu : MANIFEST_WALK_MAX_WORKERS) : 1;
        int r;
        if (nw == 1)
                r = manifest_walk(root_fd, roots, exclude, compare_one, &c);
        else {
                CompareCtx w[MANIFEST_WALK_MAX_WORKERS];
                void *uds[MANIFEST_WALK_MAX_WORKERS];
                _cleanup_free_ bool *seen = calloc(nw * (n_roots + 1), sizeof(bool));
                if (!seen)
                        return -ENOMEM;
                for (size_t k = 0; k < nw; k++) {
                        w[k] = c;
                        w[k].root_seen = seen + k * (n_roots + 1);
                        uds[k] = &w[k];
                }
                r = manifest_walk_parallel(root_fd, roots, exclude, compare_one, uds, nw);
                for (size_t k = 0; k < nw; k++) {
                        c.matched += w[k].matched;
                        c.n_changed += w[k].n_changed;
                        c.changed |= w[k].changed;
                        c.cache_updated |= w[k].cache_updated;
                        if (w[k].newest_ns > c.newest_ns)
                                c.newest_ns = w[k].newest_ns;
                        if (w[k].dir_change_ns > c.dir_change_ns)
                                c.dir_change_ns = w[k].dir_change_ns;
                        for (size_t i = 0; i < n_roots; i++)
                                root_seen[i] |= w[k].root_seen[i];
                }
        }
        if (r < 0)
                return r;

        /* Removals show as entries of M the walk did not meet; the walk
         * never meets excluded ones, so they are not expected either. */
        size_t n_excluded = 0;
        for (size_t i = 0; exclude && i < m->n; i++)
                n_excluded += manifest_path_excluded(exclude, m->entries[i].path);
        size_t expected = m->n - n_excluded;
        if (c.matched != expected) {
                /* Something was removed: its directory's ctime says when. */
                c.changed = true;
                if (c.dir_change_ns > c.newest_ns)
                        c.newest_ns = c.dir_change_ns;
                for (size_t k = 0; k < n_roots; k++) {
                        if (root_seen[k] || manifest_find(m, roots[k]) < 0)
                                continue;
                        _cleanup_close_ int parent_fd = -1;
                        const char *name;
                        struct stat st;
                        if (root_open_parent(root_fd, roots[k], false, &parent_fd, &name) >= 0 &&
                            fstat(parent_fd, &st) >= 0 && timespec_ns(&st.st_ctim) > c.newest_ns)
                                c.newest_ns = timespec_ns(&st.st_ctim);
                }
        }
        if (c.changed)
                c.cache_updated = false;
        else if (c.cache_updated)
                m->created_ns = started;
        *ret = (ManifestDiff) {
                .changed = c.changed,
                .n_changed = c.n_changed,
                /* matched ≤ expected: every matched entry is one of the
                 * manifest's, and not excluded (the walk skips those) */
                .n_removed = expected - c.matched,
                .newest_change_ns = c.changed ? c.newest_ns : 0,
                .cache_updated = c.cache_updated,
                .n_excluded = n_excluded,
        };
        return 0;
}
