/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/pstore.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "lib/names.h"
#include "lib/rootfs.h"

#define LINE_PARSE_MAX 4096 /* bytes of one log line looked at */
#define STR_MAX 256         /* kept strings are cut here */
#define GROUP_GAP_SEC 120   /* parts of one dump are written within seconds */
/* efi ids carry a realtime second; outside these years it is not one. */
#define PLAUSIBLE_TIME_MIN 946684800ULL  /* 2000-01-01 */
#define PLAUSIBLE_TIME_MAX 7258118400ULL /* 2200-01-01 */

/* ---- small helpers ---- */

/* A copy of N bytes of S, cut at MAX, with everything but printable ASCII
 * replaced by '?': these strings reach terminals, logs and JSON. */
static char *strndup_clean(const char *s, size_t n, size_t max) {
        if (n > max)
                n = max;
        char *d = malloc(n + 1);
        if (!d)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                d[i] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        d[n] = '\0';
        return d;
}

static bool startswith_n(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Digits at S (at most 20, no overflow) → *ret; returns how many were used. */
static size_t parse_digits(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0;
        for (; i < n && i < 20 && s[i] >= '0' && s[i] <= '9'; i++) {
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return 0;
                v = v * 10 + d;
        }
        if (i < n && s[i] >= '0' && s[i] <= '9')
                return 0; /* more than 20 digits */
        *ret = v;
        return i;
}

static bool time_plausible(uint64_t t) {
        return t >= PLAUSIBLE_TIME_MIN && t < PLAUSIBLE_TIME_MAX;
}

/* efi-pstore names a record dmesg-efi-<id> (newer kernels: dmesg-efi_pstore-<id>)
 * with id = (time * 100 + part) * 1000 + count. */
static bool efi_id_decode(const char *name, uint64_t *ret_time, uint32_t *ret_part, uint32_t *ret_count) {
        if (!startswith_n(name, "dmesg-efi"))
                return false;
        const char *dash = strrchr(name, '-');
        if (!dash)
                return false;
        const char *num = dash + 1;
        size_t len = strcspn(num, ".");
        uint64_t id;
        if (len == 0 || parse_digits(num, len, &id) != len)
                return false;
        uint64_t t = id / 100000;
        if (!time_plausible(t))
                return false;
        *ret_time = t;
        *ret_part = (uint32_t) ((id / 1000) % 100);
        *ret_count = (uint32_t) (id % 1000);
        return true;
}

static bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

/* pstore gives up decompressing a record and names it "….enc.z": try raw
 * deflate (the kernel's crypto "deflate"), then zlib/gzip, capped. */
static int inflate_capped(const char *in, size_t len, char **ret, size_t *ret_len) {
        static const int wbits[] = { -15, 15 + 32 };
        for (size_t k = 0; k < ELEMENTSOF(wbits); k++) {
                z_stream z = {};
                if (inflateInit2(&z, wbits[k]) != Z_OK)
                        return -ENOMEM;
                _cleanup_free_ char *out = malloc(PSTORE_RECORD_MAX + 1);
                if (!out) {
                        inflateEnd(&z);
                        return -ENOMEM;
                }
                z.next_in = (Bytef *) in;
                z.avail_in = (uInt) (len > UINT32_MAX ? UINT32_MAX : len);
                z.next_out = (Bytef *) out;
                z.avail_out = PSTORE_RECORD_MAX;
                int zr = inflate(&z, Z_FINISH);
                size_t produced = PSTORE_RECORD_MAX - z.avail_out;
                inflateEnd(&z);
                /* Z_BUF_ERROR with output: cut at the cap, still useful text. */
                if ((zr == Z_STREAM_END || (zr == Z_BUF_ERROR && produced > 0)) && produced > 0) {
                        out[produced] = '\0';
                        *ret = TAKE_PTR(out);
                        *ret_len = produced;
                        return 0;
                }
        }
        return -EBADMSG;
}

/* ---- parsing one dump's text ---- */


static void crash_modules_free(CrashModule *m, size_t n) {
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].name);
                free(m[i].why);
        }
        free(m);
}

/* The fields that describe one oops; a later oops in the same dump replaces
 * them (the last one is what killed the machine). */
static void crash_event_reset_block(CrashEvent *ev) {
        free(ev->oops);
        free(ev->rip);
        free(ev->fault_module);
        free(ev->fault_why);
        free(ev->comm);
        free(ev->taint);
        free(ev->kernel_release);
        free(ev->last_unloaded);
        crash_modules_free(ev->modules, ev->n_modules);
        ev->oops = ev->rip = ev->fault_module = ev->fault_why = NULL;
        ev->comm = ev->taint = ev->kernel_release = ev->last_unloaded = NULL;
        ev->modules = NULL;
        ev->n_modules = 0;
        ev->modules_listed = false;
        ev->has_pid = false;
        ev->pid = 0;
}

static void crash_event_done(CrashEvent *ev) {
        crash_event_reset_block(ev);
        free(ev->kind);
        free(ev->reason);
        strv_free(ev->files);
        *ev = (CrashEvent) {};
}

void crash_report_done(CrashReport *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_events; i++)
                crash_event_done(&r->events[i]);
        free(r->events);
        *r = (CrashReport) {};
}

/* Strips "<4>", "[    3.827158]" and "[  T123]"/"[    C2]" (PRINTK_CALLER). */
static const char *strip_prefix(const char *l) {
        const char *p = l;
        if (*p == '<') {
                size_t i = 1;
                while (i <= 3 && p[i] >= '0' && p[i] <= '9')
                        i++;
                if (i > 1 && p[i] == '>')
                        p += i + 1;
        }
        for (int k = 0; k < 2 && *p == '['; k++) {
                size_t i = 1;
                while (i < 32 && p[i] && p[i] != ']' &&
                       (p[i] == ' ' || p[i] == '.' || p[i] == 'T' || p[i] == 'C' || (p[i] >= '0' && p[i] <= '9')))
                        i++;
                if (p[i] != ']')
                        break;
                p += i + 1;
        }
        if (*p == ' ')
                p++;
        return p;
}

static const char *const oops_starts[] = {
        "BUG: ",
        "Oops: ",
        "general protection fault",
        "kernel BUG at ",
        "WARNING: ",
        "Internal error: ",
        "Unable to handle kernel ",
        "invalid opcode: ",
        "divide error: ",
        "stack segment: ",
        "double fault: ",
        "watchdog: BUG: ",
        "kernel stack overflow",
};

static int set_str(char **field, const char *s, size_t n, size_t max) {
        char *c = strndup_clean(s, n, max);
        if (!c)
                return -ENOMEM;
        free(*field);
        *field = c;
        return 0;
}

/* "RIP: 0010:fs_parse_rules+0x2d/0xf40 [fakesensor]" (x86), "pc : sym+o/l [mod]"
 * (arm64), "PC is at sym+o/l [mod]" (arm), "EIP: sym+o/l [mod]" (i386). */
static int parse_rip(CrashEvent *ev, const char *l) {
        const char *p;
        if (startswith_n(l, "RIP: "))
                p = l + 5;
        else if (startswith_n(l, "EIP: "))
                p = l + 5;
        else if (startswith_n(l, "pc : "))
                p = l + 5;
        else if (startswith_n(l, "PC is at "))
                p = l + 9;
        else
                return 0;
        if (ev->rip)
                return 0; /* the register dump is repeated after the oops: keep the first */
        /* A segment selector: 0010 is kernel mode; 0033/0023 are user space
         * registers printed in the same trace, not the faulting code. */
        if (strlen(p) >= 5 && p[4] == ':' && strspn(p, "0123456789abcdef") == 4) {
                if (strncmp(p, "0010", 4) != 0 && strncmp(p, "0060", 4) != 0)
                        return 0;
                p += 5;
        }
        size_t n = strcspn(p, " \t");
        if (n == 0)
                return 0;
        int r = set_str(&ev->rip, p, n, 128);
        if (r < 0)
                return r;
        const char *q = p + n;
        while (*q == ' ' || *q == '\t')
                q++;
        if (*q != '[')
                return 0;
        q++;
        size_t m = strcspn(q, "]");
        if (q[m] != ']' || !name_is_module_n(q, m))
                return 0;
        r = set_str(&ev->fault_module, q, m, NAME_MODULE_MAX);
        if (r < 0)
                return r;
        free(ev->fault_why);
        if (asprintf(&ev->fault_why, "RIP in %s", ev->fault_module) < 0) {
                ev->fault_why = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* "Modules linked in: fakesensor(OE+) efi_pstore efivarfs [last unloaded: x]" */
static int parse_modules(CrashEvent *ev, const char *p) {
        crash_modules_free(ev->modules, ev->n_modules);
        ev->modules = NULL;
        ev->n_modules = 0;
        ev->modules_listed = true;
        size_t cap = 0;
        while (*p) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                size_t n = strcspn(p, " \t");
                const char *tok = p;
                p += n;
                if (n == 5 && strneq(tok, "[last", 5)) {
                        while (*p == ' ')
                                p++;
                        if (startswith_n(p, "unloaded: ")) {
                                p += 10;
                                size_t m = strcspn(p, "]( \t");
                                if (name_is_module_n(p, m)) {
                                        int r = set_str(&ev->last_unloaded, p, m, NAME_MODULE_MAX);
                                        if (r < 0)
                                                return r;
                                }
                                p += m;
                                if (*p == ']')
                                        p++;
                        }
                        continue;
                }
                size_t name_len = strcspn(tok, "(");
                if (name_len > n)
                        name_len = n;
                if (!name_is_module_n(tok, name_len))
                        continue;
                char flags[16] = "";
                if (name_len < n) {
                        const char *f = tok + name_len + 1;
                        size_t fl = (size_t) (tok + n - f);
                        if (fl == 0 || f[fl - 1] != ')' || fl - 1 >= sizeof flags)
                                continue;
                        fl--;
                        bool ok = true;
                        for (size_t i = 0; i < fl; i++)
                                if (!((f[i] >= 'A' && f[i] <= 'Z') || f[i] == '+' || f[i] == '-'))
                                        ok = false;
                        if (!ok)
                                continue;
                        memcpy(flags, f, fl);
                        flags[fl] = '\0';
                }
                if (ev->n_modules >= PSTORE_MODULES_MAX)
                        break;
                if (ev->n_modules == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        CrashModule *nm = reallocarray(ev->modules, ncap, sizeof *nm);
                        if (!nm)
                                return -ENOMEM;
                        ev->modules = nm;
                        cap = ncap;
                }
                CrashModule *m = &ev->modules[ev->n_modules];
                *m = (CrashModule) {
                        .loading = strchr(flags, '+') != NULL,
                        .unloading = strchr(flags, '-') != NULL,
                };
                memcpy(m->flags, flags, sizeof flags);
                m->name = strndup(tok, name_len);
                if (!m->name)
                        return -ENOMEM;
                ev->n_modules++;
                if (m->loading && asprintf(&m->why, "%s was being loaded", m->name) < 0) {
                        m->why = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

/* "CPU: 0 PID: 89 Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1 …"
 * "CPU: 0 PID: 1 Comm: sh Not tainted 6.1.0-56-amd64 #1 …" (newer: "CPU: 7 UID: 0 PID: …") */
static int parse_cpu_line(CrashEvent *ev, const char *l) {
        if (ev->comm || ev->taint)
                return 0; /* the first one describes the oops */
        const char *p = strstr(l, " PID: ");
        if (p) {
                uint64_t pid;
                size_t n = parse_digits(p + 6, strlen(p + 6), &pid);
                if (n > 0 && pid <= UINT32_MAX) {
                        ev->pid = (uint32_t) pid;
                        ev->has_pid = true;
                }
        }
        const char *tainted = strstr(l, " Tainted: ");
        const char *not_tainted = strstr(l, " Not tainted");
        const char *comm = strstr(l, " Comm: ");
        if (comm) {
                comm += 7;
                const char *end = comm + strlen(comm);
                const char *stops[] = { tainted, not_tainted, strstr(comm, " Kdump: loaded") };
                for (size_t i = 0; i < ELEMENTSOF(stops); i++)
                        if (stops[i] && stops[i] >= comm && stops[i] < end)
                                end = stops[i];
                int r = set_str(&ev->comm, comm, (size_t) (end - comm), 64);
                if (r < 0)
                        return r;
        }
        const char *rest = NULL;
        if (tainted) {
                char letters[64];
                size_t n = 0;
                const char *q = tainted + 10;
                for (; *q == ' ' || (*q >= 'A' && *q <= 'Z'); q++)
                        if (*q != ' ' && n < sizeof letters - 1)
                                letters[n++] = *q;
                int r = set_str(&ev->taint, letters, n, sizeof letters);
                if (r < 0)
                        return r;
                rest = q;
        } else if (not_tainted) {
                int r = set_str(&ev->taint, "", 0, 1);
                if (r < 0)
                        return r;
                rest = not_tainted + 12;
        }
        if (rest) {
                while (*rest == ' ')
                        rest++;
                size_t n = strcspn(rest, " ");
                if (n > 0 && rest[0] >= '0' && rest[0] <= '9') {
                        int r = set_str(&ev->kernel_release, rest, n, 64);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int parse_line(CrashEvent *ev, const char *l) {
        int r;
        if (startswith_n(l, "Kernel panic - not syncing")) {
                if (!ev->reason)
                        return set_str(&ev->reason, l, strlen(l), STR_MAX);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(oops_starts); i++)
                if (startswith_n(l, oops_starts[i])) {
                        /* A new oops after a complete one: the later one counts. */
                        if (ev->rip)
                                crash_event_reset_block(ev);
                        if (!ev->oops)
                                return set_str(&ev->oops, l, strlen(l), STR_MAX);
                        return 0;
                }
        if (startswith_n(l, "Modules linked in:"))
                return parse_modules(ev, l + 18);
        if (startswith_n(l, "CPU: "))
                return parse_cpu_line(ev, l);
        r = parse_rip(ev, l);
        return r;
}

static int parse_text(CrashEvent *ev, const char *data, size_t len) {
        char buf[LINE_PARSE_MAX + 1];
        const char *p = data, *end = data + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = (size_t) ((nl ? nl : end) - p);
                size_t c = n < LINE_PARSE_MAX ? n : LINE_PARSE_MAX;
                /* NULs inside a line would end it early for the string
                 * functions below: make them visible instead. */
                for (size_t i = 0; i < c; i++)
                        buf[i] = p[i] == '\0' ? ' ' : p[i];
                while (c > 0 && (buf[c - 1] == '\r' || buf[c - 1] == ' '))
                        c--;
                buf[c] = '\0';
                int r = parse_line(ev, strip_prefix(buf));
                if (r < 0)
                        return r;
                p += n + (nl ? 1 : 0);
        }
        return 0;
}

/* ---- records → dumps ---- */

typedef struct Rec {
        const PstoreRecord *src;
        const char *body;
        size_t body_len;
        char kind[16];
        bool has_header;
        uint32_t count, part;
        uint64_t time;
} Rec;

/* "====1234.567000-D\n" (ramoops) then "Panic#2 Part1\n". */
static void rec_header(Rec *rec) {
        const PstoreRecord *s = rec->src;
        const char *p = rec->body, *end = rec->body + rec->body_len;
        uint64_t v;

        if (end - p >= 4 && memcmp(p, "====", 4) == 0) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = parse_digits(p + 4, (size_t) ((nl ? nl : end) - (p + 4)), &v);
                if (n > 0 && rec->time == 0 && time_plausible(v))
                        rec->time = v;
                p = nl ? nl + 1 : end;
        }

        size_t k = 0;
        while (p + k < end && k < sizeof rec->kind - 1 &&
               ((p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= 'a' && p[k] <= 'z')))
                k++;
        if (k == 0 || p + k >= end || p[k] != '#')
                goto no_header;
        const char *q = p + k + 1;
        size_t n = parse_digits(q, (size_t) (end - q), &v);
        if (n == 0 || v > UINT32_MAX)
                goto no_header;
        uint32_t count = (uint32_t) v;
        q += n;
        if (end - q < 5 || memcmp(q, " Part", 5) != 0)
                goto no_header;
        q += 5;
        n = parse_digits(q, (size_t) (end - q), &v);
        if (n == 0 || v > UINT32_MAX)
                goto no_header;
        q += n;
        if (q < end && *q != '\n' && *q != '\r')
                goto no_header;
        memcpy(rec->kind, p, k);
        rec->kind[k] = '\0';
        rec->count = count;
        rec->part = (uint32_t) v;
        rec->has_header = true;
        const char *nl = memchr(q, '\n', (size_t) (end - q));
        p = nl ? nl + 1 : end;
no_header:
        rec->body_len = (size_t) (end - p);
        rec->body = p;
        if (rec->time == 0 && time_plausible(s->mtime_sec))
                rec->time = s->mtime_sec;
}

static int rec_compare(const void *a, const void *b) {
        const Rec *x = a, *y = b;
        if (x->has_header != y->has_header)
                return x->has_header ? -1 : 1;
        int c = strcmp(x->kind, y->kind);
        if (c != 0)
                return c;
        if (x->count != y->count)
                return x->count < y->count ? -1 : 1;
        if (x->time != y->time)
                return x->time < y->time ? -1 : 1;
        if (x->part != y->part)
                return x->part < y->part ? -1 : 1;
        return strcmp(x->src->name, y->src->name);
}

static int rec_part_compare(const void *a, const void *b) {
        const Rec *x = *(Rec *const *) a, *y = *(Rec *const *) b;
        if (x->part != y->part)
                return x->part < y->part ? -1 : 1;
        return strcmp(x->src->name, y->src->name);
}

static int event_compare(const void *a, const void *b) {
        const CrashEvent *x = a, *y = b;
        if (x->time_sec != y->time_sec)
                return x->time_sec > y->time_sec ? -1 : 1;
        if (x->count != y->count)
                return x->count > y->count ? -1 : 1;
        return strcmp(x->kind ?: "", y->kind ?: "");
}

static int event_from_group(Rec *group, size_t n, CrashEvent *ev) {
        _cleanup_free_ Rec **order = calloc(n, sizeof(Rec *));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                order[i] = &group[i];
        qsort(order, n, sizeof(Rec *), rec_part_compare);

        if (group[0].has_header) {
                ev->kind = strdup(group[0].kind);
                if (!ev->kind)
                        return -ENOMEM;
        }
        ev->count = group[0].count;
        ev->n_parts = (uint32_t) n;
        ev->time_sec = UINT64_MAX;
        ev->files = calloc(n + 1, sizeof(char *));
        if (!ev->files)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const Rec *rec = order[i];
                if (rec->time != 0 && rec->time < ev->time_sec)
                        ev->time_sec = rec->time;
                if (rec->src->truncated)
                        ev->incomplete = true;
                ev->files[i] = strndup_clean(rec->src->name, strlen(rec->src->name), STR_MAX);
                if (!ev->files[i])
                        return -ENOMEM;
        }
        if (ev->time_sec == UINT64_MAX)
                ev->time_sec = 0;
        if (group[0].has_header && order[n - 1]->part != n)
                ev->incomplete = true; /* parts missing (or repeated) */

        /* Part1 holds the newest text: read from the highest part down. */
        for (size_t i = n; i > 0; i--) {
                int r = parse_text(ev, order[i - 1]->body, order[i - 1]->body_len);
                if (r < 0)
                        return r;
        }
        return 0;
}

int pstore_parse_records(const PstoreRecord *records, size_t n, CrashReport *ret) {
        CrashReport rep = {};
        if (n == 0) {
                *ret = rep;
                return 0;
        }
        _cleanup_free_ Rec *recs = calloc(n ? n : 1, sizeof(Rec));
        char **inflated = calloc(n ? n : 1, sizeof(char *));
        int r = 0;
        if (!recs || !inflated) {
                free(inflated);
                return -ENOMEM;
        }

        for (size_t i = 0; i < n; i++) {
                Rec *rec = &recs[i];
                rec->src = &records[i];
                rec->body = records[i].data;
                rec->body_len = records[i].len;
                if (records[i].name && endswith(records[i].name, ".enc.z")) {
                        size_t len;
                        r = inflate_capped(records[i].data, records[i].len, &inflated[i], &len);
                        if (r == -ENOMEM)
                                goto finish;
                        if (r >= 0) {
                                rec->body = inflated[i];
                                rec->body_len = len;
                        }
                        r = 0;
                }
                uint32_t part, count;
                efi_id_decode(records[i].name ?: "", &rec->time, &part, &count);
                rec_header(rec);
        }
        qsort(recs, n, sizeof(Rec), rec_compare);

        rep.n_records = n;
        rep.found = n > 0;
        rep.events = calloc(n ? n : 1, sizeof(CrashEvent));
        if (!rep.events) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n;) {
                size_t j = i + 1;
                if (recs[i].has_header) {
                        /* Parts of one dump: same reason and count, written
                         * within moments of each other (the clock may tick
                         * between parts). A dump count restarts at every boot,
                         * so "Panic#1" of two boots is told apart by time… */
                        while (j < n && recs[j].has_header && streq(recs[j].kind, recs[i].kind) &&
                               recs[j].count == recs[i].count && recs[j].time - recs[j - 1].time <= GROUP_GAP_SEC)
                                j++;
                        /* …and, should two such dumps fall within the gap, by
                         * their part numbers starting over. */
                        bool repeated = false;
                        for (size_t a = i; a < j && !repeated; a++)
                                for (size_t b = a + 1; b < j; b++)
                                        if (recs[a].part == recs[b].part) {
                                                repeated = true;
                                                break;
                                        }
                        if (repeated) {
                                size_t k = i + 1;
                                while (k < j && recs[k].part > recs[k - 1].part)
                                        k++;
                                j = k;
                        }
                }
                r = event_from_group(&recs[i], j - i, &rep.events[rep.n_events++]);
                if (r < 0)
                        goto finish;
                i = j;
        }
        qsort(rep.events, rep.n_events, sizeof(CrashEvent), event_compare);

finish:
        for (size_t i = 0; i < n; i++)
                free(inflated[i]);
        free(inflated);
        if (r < 0) {
                crash_report_done(&rep);
                return r;
        }
        *ret = rep;
        return 0;
}

/* ---- the directory ---- */

void pstore_files_free(PstoreFile *f, size_t n) {
        for (size_t i = 0; f && i < n; i++)
                free(f[i].name);
        free(f);
}

static int file_compare(const void *a, const void *b) {
        const PstoreFile *x = a, *y = b;
        if (x->time_sec != y->time_sec)
                return x->time_sec > y->time_sec ? -1 : 1;
        return strcmp(y->name, x->name);
}

typedef struct FileList {
        PstoreFile *f;
        size_t n, cap, skipped;
} FileList;

static int list_one(int dfd, const char *name, void *userdata) {
        FileList *l = userdata;
        if (!startswith_n(name, "dmesg-"))
                return 0;
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            l->n >= PSTORE_CANDIDATES_MAX) {
                l->skipped++;
                return 0;
        }
        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 32;
                PstoreFile *nf = reallocarray(l->f, ncap, sizeof *nf);
                if (!nf)
                        return -ENOMEM;
                l->f = nf;
                l->cap = ncap;
        }
        uint64_t t;
        uint32_t part, count;
        if (!efi_id_decode(name, &t, &part, &count))
                t = st.st_mtim.tv_sec > 0 ? (uint64_t) st.st_mtim.tv_sec : 0;
        l->f[l->n].name = strdup(name);
        if (!l->f[l->n].name)
                return -ENOMEM;
        l->f[l->n++].time_sec = t;
        return 0;
}

int pstore_list_files(int dfd, PstoreFile **ret, size_t *ret_n, size_t *ret_skipped) {
        FileList l = {};
        int r = dir_for_each_at(dfd, list_one, &l);
        if (r < 0) {
                pstore_files_free(l.f, l.n);
                return r;
        }
        if (l.n > 0)
                qsort(l.f, l.n, sizeof *l.f, file_compare);
        *ret = l.f;
        *ret_n = l.n;
        *ret_skipped = l.skipped;
        return 0;
}

int pstore_read_file(int dfd, const char *name, size_t cap, char **ret, size_t *ret_len, bool *ret_truncated,
                     uint64_t *ret_mtime) {
        struct stat st;
        _cleanup_close_ int fd = openat_regular(dfd, name, &st);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t k = loop_read(fd, buf, cap);
        if (k < 0)
                return (int) k;
        size_t len = (size_t) k;
        char probe;
        bool truncated = len == cap && loop_read(fd, &probe, 1) > 0;
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        *ret_truncated = truncated;
        if (ret_mtime)
                *ret_mtime = st.st_mtim.tv_sec > 0 ? (uint64_t) st.st_mtim.tv_sec : 0;
        return 0;
}

int pstore_read(const char *dir, CrashReport *ret) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                if (errno == ENOENT) {
                        *ret = (CrashReport) {};
                        return 0;
                }
                return -errno;
        }
        PstoreFile *c = NULL;
        size_t n = 0, skipped = 0;
        int r = pstore_list_files(dfd, &c, &n, &skipped);
        if (r < 0)
                return r;

        size_t want = n < PSTORE_RECORDS_MAX ? n : PSTORE_RECORDS_MAX;
        skipped += n - want;
        PstoreRecord *recs = calloc(want ? want : 1, sizeof *recs);
        char **bufs = calloc(want ? want : 1, sizeof(char *));
        size_t nr = 0, total = 0;
        if (!recs || !bufs)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < want; i++) {
                size_t room = PSTORE_TOTAL_MAX - total;
                if (room == 0) {
                        skipped++;
                        continue;
                }
                size_t len;
                bool truncated;
                uint64_t mtime;
                int k = pstore_read_file(dfd, c[i].name, room < PSTORE_RECORD_MAX ? room : PSTORE_RECORD_MAX,
                                         &bufs[nr], &len, &truncated, &mtime);
                if (k == -ENOMEM) {
                        r = k;
                        break;
                }
                if (k < 0) {
                        /* Gone or unreadable: one lost record, not a lost boot. */
                        skipped++;
                        continue;
                }
                total += len;
                recs[nr] = (PstoreRecord) {
                        .name = c[i].name,
                        .data = bufs[nr],
                        .len = len,
                        .mtime_sec = mtime,
                        .truncated = truncated,
                };
                nr++;
        }
        CrashReport rep = {};
        if (r >= 0)
                r = pstore_parse_records(recs, nr, &rep);
        for (size_t i = 0; bufs && i < nr; i++)
                free(bufs[i]);
        free(bufs);
        free(recs);
        pstore_files_free(c, n);
        if (r < 0)
                return r;
        rep.n_skipped = skipped;
        *ret = rep;
        return 0;
}

/* ---- what it means ---- */

static bool strv_contains_module(char *const *l, const char *name) {
        for (; l && *l; l++)
                if (name_module_equal(*l, name))
                        return true;
        return false;
}

bool pstore_attributes(const CrashReport *r, char *const *kernel_modules, const char **ret_module,
                       const char **ret_why) {
        if (!r || !kernel_modules)
                return false;
        for (size_t i = 0; i < r->n_events; i++) {
                const CrashEvent *ev = &r->events[i];
                if (ev->fault_module && strv_contains_module(kernel_modules, ev->fault_module)) {
                        if (ret_module)
                                *ret_module = ev->fault_module;
                        if (ret_why)
                                *ret_why = ev->fault_why;
                        return true;
                }
                for (size_t j = 0; j < ev->n_modules; j++)
                        if (ev->modules[j].loading && strv_contains_module(kernel_modules, ev->modules[j].name)) {
                                if (ret_module)
                                        *ret_module = ev->modules[j].name;
                                if (ret_why)
                                        *ret_why = ev->modules[j].why;
                                return true;
                        }
        }
        return false;
}

static void appendf(char *buf, size_t size, size_t *o, const char *fmt, ...) _printf_(4, 5);
static void appendf(char *buf, size_t size, size_t *o, const char *fmt, ...) {
        if (*o >= size)
                return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf + *o, size - *o, fmt, ap);
        va_end(ap);
        if (n > 0)
                *o = *o + (size_t) n < size ? *o + (size_t) n : size;
}

const char *crash_report_summary(const CrashReport *r, char *buf, size_t size) {
        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (!r || r->n_events == 0) {
                snprintf(buf, size, "no crash record");
                return buf;
        }
        const CrashEvent *ev = &r->events[0];
        size_t o = 0;
        if (ev->kind)
                appendf(buf, size, &o, "%s#%" PRIu32, ev->kind, ev->count);
        else
                appendf(buf, size, &o, "crash record");
        appendf(buf, size, &o, ": %s", ev->reason ?: ev->oops ?: "no panic or oops line");
        if (ev->oops && ev->reason)
                appendf(buf, size, &o, "; %s", ev->oops);
        if (ev->rip)
                appendf(buf, size, &o, "; RIP %s%s%s%s", ev->rip, ev->fault_module ? " [" : "",
                        ev->fault_module ?: "", ev->fault_module ? "]" : "");
        for (size_t j = 0; j < ev->n_modules; j++)
                if (ev->modules[j].loading)
                        appendf(buf, size, &o, "; loading %s", ev->modules[j].name);
        if (ev->comm)
                appendf(buf, size, &o, "; %s", ev->comm);
        if (ev->has_pid)
                appendf(buf, size, &o, "[%" PRIu32 "]", ev->pid);
        if (ev->taint)
                appendf(buf, size, &o, "; taint %s", ev->taint[0] ? ev->taint : "none");
        if (r->n_events > 1)
                appendf(buf, size, &o, " (+%zu more dump%s)", r->n_events - 1, r->n_events > 2 ? "s" : "");
        return buf;
}
