/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The quarantine registry: see quarantine-registry.h for the format. Organised
 * as encodings -> priors -> the registry model -> text -> file. Names and
 * paths are checked with lib/names.h.
 */
#include "recovery/quarantine-registry.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "lib/encode.h"
#include "lib/fileio.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/rootfs.h"

#define REGISTRY_MAGIC "lastgood-quarantine-registry 1"
#define REGISTRY_MAX_SIZE (64u * 1024u * 1024u)
#define REGISTRY_MAX_TOKENS 10

/* ---- encodings ------------------------------------------------------------ */

/* A registry field (lib/encode.h's "field" dialect), after its separator. */
static void field_put(FILE *f, const char *s) {
        fputc(' ', f);
        pct_field_write(f, s);
}

/* File bytes in hex; "-" for none. */
static void hex_put(FILE *f, const char *data, size_t size) {
        fputc(' ', f);
        if (size == 0)
                fputc('-', f);
        for (size_t i = 0; i < size; i++) {
                fputc(hexchar((unsigned char) data[i] >> 4), f);
                fputc(hexchar((unsigned char) data[i]), f);
        }
}

static int hex_field_decode(const char *s, char **ret, size_t *ret_size) {
        void *data;
        int r = hex_decode(s, streq(s, "-") ? 0 : strlen(s), &data, ret_size);
        if (r < 0)
                return r;
        *ret = data;
        return 0;
}

int quarantine_stash_dir_path(const char *component, uint32_t incident, char **ret) {
        if (asprintf(ret, LASTGOOD_QUARANTINE_DIR "/%s/%" PRIu32 "/content", component, incident) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- priors: what was at a path before we changed it ----------------------------- */

void quarantine_prior_done(QuarantinePrior *p) {
        free(p->data);
        *p = (QuarantinePrior) {};
}

int quarantine_prior_capture(int dir_fd, const char *name, QuarantinePrior *ret) {
        struct stat st;
        int r = exists_at(dir_fd, name, &st);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret = (QuarantinePrior) { .kind = QUARANTINE_PRIOR_NONE };
                return 0;
        }
        QuarantinePrior p = { .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid, .mtime = st.st_mtim };
        if (S_ISLNK(st.st_mode)) {
                p.kind = QUARANTINE_PRIOR_SYMLINK;
                r = readlink_malloc_at(dir_fd, name, &p.data);
                if (r < 0)
                        return r;
                p.size = strlen(p.data);
        } else if (S_ISREG(st.st_mode)) {
                p.kind = QUARANTINE_PRIOR_FILE;
                if ((uint64_t) st.st_size > QUARANTINE_MAX_PRIOR_SIZE)
                        return -EFBIG;
                r = read_full_at(dir_fd, name, QUARANTINE_MAX_PRIOR_SIZE, &p.data, &p.size);
                if (r < 0)
                        return r;
        } else
                return S_ISDIR(st.st_mode) ? -EISDIR : -EOPNOTSUPP;
        *ret = p;
        return 0;
}

int quarantine_prior_restore(int dir_fd, const char *name, const QuarantinePrior *p) {
        switch (p->kind) {
        case QUARANTINE_PRIOR_NONE:
                return unlink_durable_at(dir_fd, name);
        case QUARANTINE_PRIOR_FILE: {
                /* Fixed temp: the caller holds the quarantine lock. */
                const WriteAtomicOptions o = {
                        .flags = WRITE_ATOMIC_FIXED_TEMP | WRITE_ATOMIC_OWNER | WRITE_ATOMIC_MTIME,
                        .mode = p->mode,
                        .uid = p->uid,
                        .gid = p->gid,
                        .mtime = p->mtime,
                };
                return write_atomic_at_full(dir_fd, name, p->data, p->size, &o);
        }
        case QUARANTINE_PRIOR_SYMLINK: {
                int r = symlink_atomic_at(dir_fd, name, p->data);
                if (r < 0)
                        return r;
                /* A symlink's own owner is cosmetic; restore it anyway. */
                if (fchownat(dir_fd, name, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }
        }
        return -EINVAL;
}

/* ---- the registry ------------------------------------------------------------------ */

void quarantine_registry_entry_done(QuarantineRegistryEntry *e) {
        free(e->component);
        free(e->reason);
        strv_free(e->modules);
        for (size_t i = 0; i < e->n_units; i++) {
                free(e->units[i].name);
                quarantine_prior_done(&e->units[i].prior);
        }
        free(e->units);
        strv_free(e->content);
        strv_free(e->exclude);
        *e = (QuarantineRegistryEntry) {};
}

void quarantine_registry_done(QuarantineRegistry *r) {
        quarantine_prior_done(&r->modprobe_prior);
        for (size_t i = 0; i < r->n_entries; i++)
                quarantine_registry_entry_done(&r->entries[i]);
        free(r->entries);
        *r = (QuarantineRegistry) {};
}

void quarantine_registry_remove(QuarantineRegistry *r, size_t idx) {
        quarantine_registry_entry_done(&r->entries[idx]);
        memmove(&r->entries[idx], &r->entries[idx + 1], (r->n_entries - idx - 1) * sizeof(r->entries[0]));
        r->n_entries--;
}

ssize_t quarantine_registry_find(const QuarantineRegistry *r, const char *component) {
        for (size_t i = 0; i < r->n_entries; i++)
                if (streq(r->entries[i].component, component))
                        return (ssize_t) i;
        return -1;
}

static const char *const state_table[_QUARANTINE_STATE_MAX] = {
        [QUARANTINE_STATE_APPLYING] = "applying",
        [QUARANTINE_STATE_ACTIVE] = "active",
        [QUARANTINE_STATE_RELEASING] = "releasing",
};

const char *quarantine_state_to_string(QuarantineState s) {
        return s < _QUARANTINE_STATE_MAX ? state_table[s] : "?";
}

int quarantine_state_from_string(const char *s, QuarantineState *ret) {
        for (QuarantineState i = 0; i < _QUARANTINE_STATE_MAX; i++)
                if (streq(s, state_table[i])) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

static void prior_put(FILE *f, const QuarantinePrior *p) {
        switch (p->kind) {
        case QUARANTINE_PRIOR_NONE:
                fputs(" none", f);
                break;
        case QUARANTINE_PRIOR_FILE:
                fprintf(f, " file %o %u %u %lld %ld", (unsigned) p->mode, (unsigned) p->uid, (unsigned) p->gid,
                        (long long) (p->mtime.tv_sec < 0 ? 0 : p->mtime.tv_sec), (long) p->mtime.tv_nsec);
                hex_put(f, p->data, p->size);
                break;
        case QUARANTINE_PRIOR_SYMLINK:
                fputs(" symlink", f);
                field_put(f, p->data);
                break;
        }
}

int quarantine_registry_format(const QuarantineRegistry *reg, char **ret, size_t *ret_size) {
        _cleanup_(memstream_done) MemStream ms = {};
        FILE *f = memstream_init(&ms);
        if (!f)
                return -ENOMEM;
        fputs(REGISTRY_MAGIC "\n", f);
        if (reg->modprobe_owned) {
                fputs("modprobe", f);
                prior_put(f, &reg->modprobe_prior);
                fputc('\n', f);
        }
        for (size_t i = 0; i < reg->n_entries; i++) {
                const QuarantineRegistryEntry *e = &reg->entries[i];
                fprintf(f, "entry %s %s %" PRIu32 " %" PRIu64, e->component,
                        quarantine_state_to_string(e->state), e->incident, e->since_usec);
                field_put(f, e->reason);
                fputc('\n', f);
                for (char **m = e->modules; m && *m; m++)
                        fprintf(f, "module %s\n", *m);
                for (size_t u = 0; u < e->n_units; u++) {
                        fprintf(f, "unit %s", e->units[u].name);
                        prior_put(f, &e->units[u].prior);
                        fputc('\n', f);
                }
                for (char **c = e->content; c && *c; c++) {
                        fputs("content", f);
                        field_put(f, *c);
                        fputc('\n', f);
                }
                for (char **x = e->exclude; x && *x; x++) {
                        fputs("exclude", f);
                        field_put(f, *x);
                        fputc('\n', f);
                }
                fputs("end\n", f);
        }
        return memstream_finalize(&ms, ret, ret_size);
}

static int parse_octal_mode(const char *s, mode_t *ret) {
        if (!*s || strlen(s) > 4)
                return -EBADMSG;
        unsigned v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '7')
                        return -EBADMSG;
                v = v * 8 + (unsigned) (*p - '0');
        }
        *ret = (mode_t) v;
        return 0;
}

static int parse_u32_field(const char *s, uint32_t max, uint32_t *ret) {
        uint64_t v;
        if (parse_u64(s, &v) < 0 || v > max)
                return -EBADMSG;
        *ret = (uint32_t) v;
        return 0;
}

static int prior_parse(char **tok, size_t n, QuarantinePrior *ret) {
        QuarantinePrior p = {};
        int r;
        if (n == 1 && streq(tok[0], "none")) {
                *ret = p;
                return 0;
        }
        if (n == 2 && streq(tok[0], "symlink")) {
                p.kind = QUARANTINE_PRIOR_SYMLINK;
                r = pct_field_decode(tok[1], &p.data);
                if (r < 0)
                        return r;
                p.size = strlen(p.data);
                *ret = p;
                return 0;
        }
        if (n == 7 && streq(tok[0], "file")) {
                uint32_t uid, gid;
                uint64_t sec, nsec;
                p.kind = QUARANTINE_PRIOR_FILE;
                if (parse_octal_mode(tok[1], &p.mode) < 0 || parse_u32_field(tok[2], UINT32_MAX - 1, &uid) < 0 ||
                    parse_u32_field(tok[3], UINT32_MAX - 1, &gid) < 0 || parse_u64(tok[4], &sec) < 0 ||
                    sec > INT64_MAX || parse_u64(tok[5], &nsec) < 0 || nsec >= 1000000000)
                        return -EBADMSG;
                p.uid = uid;
                p.gid = gid;
                p.mtime = (struct timespec) { .tv_sec = (time_t) sec, .tv_nsec = (long) nsec };
                r = hex_field_decode(tok[6], &p.data, &p.size);
                if (r < 0)
                        return r;
                if (p.size > QUARANTINE_MAX_PRIOR_SIZE) {
                        quarantine_prior_done(&p);
                        return -EBADMSG;
                }
                *ret = p;
                return 0;
        }
        return -EBADMSG;
}

static int registry_parse_line(QuarantineRegistry *reg, QuarantineRegistryEntry **cur, char **tok, size_t n) {
        QuarantineRegistryEntry *e = *cur;
        int r;
        if (streq(tok[0], "modprobe") && !e && !reg->modprobe_owned) {
                r = prior_parse(tok + 1, n - 1, &reg->modprobe_prior);
                if (r < 0)
                        return r;
                reg->modprobe_owned = true;
                return 0;
        }
        if (streq(tok[0], "entry") && !e && n == 6) {
                if (!name_is_component(tok[1]) || quarantine_registry_find(reg, tok[1]) >= 0)
                        return -EBADMSG;
                QuarantineRegistryEntry ne = {};
                if (quarantine_state_from_string(tok[2], &ne.state) < 0 ||
                    parse_u32_field(tok[3], UINT32_MAX, &ne.incident) < 0 ||
                    parse_u64(tok[4], &ne.since_usec) < 0)
                        return -EBADMSG;
                QuarantineRegistryEntry *nl = realloc(reg->entries, (reg->n_entries + 1) * sizeof(ne));
                if (!nl)
                        return -ENOMEM;
                reg->entries = nl;
                ne.component = strdup(tok[1]);
                if (!ne.component)
                        return -ENOMEM;
                r = pct_field_decode(tok[5], &ne.reason);
                if (r < 0) {
                        quarantine_registry_entry_done(&ne);
                        return r;
                }
                reg->entries[reg->n_entries] = ne;
                *cur = &reg->entries[reg->n_entries++];
                return 0;
        }
        if (!e)
                return -EBADMSG;
        if (streq(tok[0], "module") && n == 2) {
                if (!name_is_module(tok[1]))
                        return -EBADMSG;
                return strv_push(&e->modules, tok[1]);
        }
        if (streq(tok[0], "unit") && n >= 3) {
                if (!name_is_unit(tok[1]))
                        return -EBADMSG;
                QuarantineUnitChange u = {};
                r = prior_parse(tok + 2, n - 2, &u.prior);
                if (r < 0)
                        return r;
                QuarantineUnitChange *nl = realloc(e->units, (e->n_units + 1) * sizeof(u));
                u.name = strdup(tok[1]);
                if (!nl || !u.name) {
                        if (nl)
                                e->units = nl;
                        free(u.name);
                        quarantine_prior_done(&u.prior);
                        return -ENOMEM;
                }
                e->units = nl;
                e->units[e->n_units++] = u;
                return 0;
        }
        if (streq(tok[0], "content") && n == 2) {
                _cleanup_free_ char *path = NULL;
                r = pct_field_decode(tok[1], &path);
                if (r < 0)
                        return r;
                if (!name_is_content_path(path))
                        return -EBADMSG;
                return strv_push(&e->content, path);
        }
        if (streq(tok[0], "exclude") && n == 2) {
                _cleanup_free_ char *pattern = NULL;
                r = pct_field_decode(tok[1], &pattern);
                if (r < 0)
                        return r;
                if (!name_is_exclude_pattern(pattern) || strv_length(e->exclude) >= POLICY_MAX_LIST)
                        return -EBADMSG;
                return strv_push(&e->exclude, pattern);
        }
        if (streq(tok[0], "end") && n == 1) {
                *cur = NULL;
                return 0;
        }
        return -EBADMSG;
}

int quarantine_registry_parse(char *buf, QuarantineRegistry *ret) {
        _cleanup_(quarantine_registry_done) QuarantineRegistry reg = {};
        QuarantineRegistryEntry *cur = NULL;
        char *save = NULL;
        bool first = true;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (first) {
                        if (!streq(line, REGISTRY_MAGIC))
                                return -EBADMSG;
                        first = false;
                        continue;
                }
                char *tok[REGISTRY_MAX_TOKENS];
                size_t n = 0;
                char *tsave = NULL;
                for (char *t = strtok_r(line, " ", &tsave); t; t = strtok_r(NULL, " ", &tsave)) {
                        if (n == ELEMENTSOF(tok))
                                return -EBADMSG;
                        tok[n++] = t;
                }
                if (n == 0)
                        return -EBADMSG;
                int r = registry_parse_line(&reg, &cur, tok, n);
                if (r < 0)
                        return r;
        }
        if (first || cur)
                return -EBADMSG;
        *ret = reg;
        reg = (QuarantineRegistry) {};
        return 0;
}

int quarantine_registry_read(int qdir_fd, QuarantineRegistry *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_full_at(qdir_fd, LASTGOOD_QUARANTINE_REGISTRY_NAME, REGISTRY_MAX_SIZE, &buf, &len);
        if (r == -ENOENT) {
                *ret = (QuarantineRegistry) {};
                return 0;
        }
        if (r < 0)
                return r;
        if (strlen(buf) != len)
                return -EBADMSG;
        return quarantine_registry_parse(buf, ret);
}


int quarantine_registry_write(int qdir_fd, const QuarantineRegistry *reg) {
        if (reg->n_entries == 0 && !reg->modprobe_owned) {
                /* Nothing quarantined: no registry at all, so the boot-time
                 * check is a single failed open. */
                return unlink_durable_at(qdir_fd, LASTGOOD_QUARANTINE_REGISTRY_NAME);
        }
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = quarantine_registry_format(reg, &text, &size);
        if (r < 0)
                return r;
        /* Fixed temp: the caller holds the lock, and q_open() clears a leftover. */
        const WriteAtomicOptions o = { .flags = WRITE_ATOMIC_FIXED_TEMP, .mode = 0600 };
        return write_atomic_at_full(qdir_fd, LASTGOOD_QUARANTINE_REGISTRY_NAME, text, size, &o);
}
