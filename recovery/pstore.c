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

/* ---- parsing one dump's text ----
 *
 * The fatal block, and what a local user can put into it.
 *
 * A user cannot write kernel lines directly (/dev/kmsg is root's, and what
 * is written there carries a user-space facility: "<12>" and up), but
 * kernel messages print strings a user chose: the x86 segfault message
 * prints the task's comm and the faulting file's name, and a file name may
 * hold '\n'. Since 5.10 every line of such a message gets its own
 * "<6>[time]" prefix, so "Modules linked in: edrsensor(OE+)" or "RIP:
 * 0010:f+0x1/0x2 [edrsensor]" can stand in the dump as a line of its own.
 * The defences:
 *
 * 1. Only the fatal block is evidence: the dump's last report, from its
 *    header on. A line before that header — planted by a segfault, or part
 *    of an earlier warning or non-fatal oops — is never read into the
 *    crash fields, so a planted line followed by any later crash names
 *    nobody. A panic line joins the report it ends ("Fatal exception"
 *    after an oops, or any panic while a report is still being printed);
 *    any other panic starts a report of its own.
 * 2. Inside the block each field is taken once, where the kernel prints it:
 *    the CPU line (PID, Comm, taint) first; the RIP after it and before the
 *    call trace; frames only between "Call Trace:" and "</TASK>" (or the
 *    module list, or the end marker); one "Modules linked in:". A field
 *    line out of place is ignored (n_ignored). A kernel line that is no
 *    part of an oops report (report_line()) closes the report, and a panic
 *    other than "Fatal exception" joins a report only while it is open and
 *    within REPORT_GAP_USEC of its last line: a report planted early and
 *    left open does not capture a later, unrelated panic.
 * 3. A structure line must be a kernel line: in a dump whose lines carry
 *    "<level>" prefixes its facility is the kernel's and its level at most
 *    KERN_NOTICE (oops lines are printed at KERN_EMERG…KERN_WARNING, the
 *    default message level being 4; the segfault message is KERN_INFO), and
 *    a line without a prefix is none (it would be the tail of another
 *    message).
 * 4. The CPU line prints the crashing task's comm (at most 15 bytes, chosen
 *    by whoever named or exec'ed the task) between "Comm: " and the taint.
 *    A comm holding '\n' splits the line: what follows, up to the taint and
 *    within those 15 bytes, is read as the rest of the comm, never as a
 *    structure line — 15 bytes leave no room for a fake line after a fake
 *    taint marker.
 *
 * What is left to trust: the comm is the task's own choice, so a process
 * that can crash the kernel in its own context can call itself
 * "falcon-sensor" (process evidence trusts the task's name); a BPF
 * program's name is its loader's choice (any user's where unprivileged BPF
 * is enabled); lines another CPU prints at KERN_NOTICE or above while the
 * oops is being printed can interleave with the block — at worst a planted
 * header there starts a new last report, which clears the real culprit
 * rather than blaming an innocent one. The RIP's module, the call trace and
 * the module list are the kernel's own symbol lookups; a '?' frame is an
 * address found on the stack, where a user can leave values, and is never
 * evidence.
 */

#define KERN_LEVEL_STRUCTURE_MAX 5 /* KERN_NOTICE */
/* A report is printed within moments (seconds under emulation, with a slow
 * pstore backend written in between); a panic this much later than the
 * report's last line is a crash of its own. */
#define REPORT_GAP_USEC (10 * USEC_PER_SEC)

static void crash_modules_free(CrashModule *m, size_t n) {
        for (size_t i = 0; m && i < n; i++)
                free(m[i].name);
        free(m);
}

static void crash_frames_free(CrashFrame *f, size_t n) {
        for (size_t i = 0; f && i < n; i++) {
                free(f[i].module);
                free(f[i].bpf_prog);
        }
        free(f);
}

/* The fields that describe one report; a later report in the same dump
 * replaces them (the last one is what killed the machine). */
static void crash_event_reset_block(CrashEvent *ev) {
        free(ev->reason);
        free(ev->oops);
        free(ev->rip);
        free(ev->fault_module);
        free(ev->fault_bpf);
        free(ev->comm);
        free(ev->taint);
        free(ev->kernel_release);
        free(ev->last_unloaded);
        crash_modules_free(ev->modules, ev->n_modules);
        crash_frames_free(ev->frames, ev->n_frames);
        ev->reason = ev->oops = ev->rip = ev->fault_module = ev->fault_bpf = NULL;
        ev->comm = ev->taint = ev->kernel_release = ev->last_unloaded = NULL;
        ev->modules = NULL;
        ev->n_modules = 0;
        ev->frames = NULL;
        ev->n_frames = 0;
        ev->modules_listed = false;
        ev->has_pid = false;
        ev->pid = 0;
}

static void crash_event_done(CrashEvent *ev) {
        crash_event_reset_block(ev);
        free(ev->kind);
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

/* "<4>" at L: the syslog priority (facility << 3 | level), or -1. */
static int line_priority(const char *l, size_t n) {
        if (n < 3 || l[0] != '<')
                return -1;
        int v = 0;
        size_t i = 1;
        for (; i <= 3 && i < n && l[i] >= '0' && l[i] <= '9'; i++)
                v = v * 10 + (l[i] - '0');
        return i > 1 && i < n && l[i] == '>' ? v : -1;
}

/* "<4>[    3.827158] …": the seconds since boot, in µs. */
static bool line_time(const char *l, uint64_t *ret) {
        const char *p = l;
        if (*p == '<')
                p += strcspn(p, ">") + (strchr(p, '>') ? 1 : 0);
        if (*p != '[')
                return false;
        p++;
        while (*p == ' ')
                p++;
        uint64_t sec, usec = 0;
        size_t n = parse_digits(p, strlen(p), &sec);
        if (n == 0 || sec > UINT64_MAX / USEC_PER_SEC - 1)
                return false;
        p += n;
        if (*p == '.') {
                p++;
                size_t k = 0;
                for (; k < 6 && p[k] >= '0' && p[k] <= '9'; k++)
                        usec = usec * 10 + (uint64_t) (p[k] - '0');
                for (; k < 6; k++)
                        usec *= 10;
        }
        *ret = sec * USEC_PER_SEC + usec;
        return true;
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

/* The first line of a report (panic lines are handled apart). */
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

typedef enum Phase {
        PHASE_NONE, /* outside any report: nothing is evidence */
        PHASE_HEADER, /* after a header, before the CPU line ("Oops: …" after "BUG: …" is the same report) */
        PHASE_REGS,  /* after the CPU line: Hardware name, RIP, registers */
        PHASE_TRACE, /* between "Call Trace:" and its end */
        PHASE_AFTER, /* after the trace: module list, CR2, end marker */
        PHASE_ENDED, /* after "---[ end trace": only a "Fatal exception" panic still joins it */
        PHASE_PANIC, /* after the report's panic line (panic() may still print a CPU line and a trace) */
} Phase;

typedef struct Parser {
        CrashEvent *ev;
        bool prefixed;                   /* the dump's lines carry "<level>" prefixes */
        bool has_time;                   /* the current line has a "[seconds]" prefix: line_usec */
        uint64_t line_usec, report_usec; /* the current line's time, the report's last line's */
        Phase phase;
        bool is_oops; /* the report began with an oops header, not a panic */
        bool cpu_seen, trace_seen, modules_seen;
        bool comm_open;   /* inside a CPU line split by a '\n' in the comm… */
        size_t comm_used; /* …whose bytes so far */
} Parser;

/* "sym+0x2d/0xf40 [mod]" at P (N bytes of symbol token): the module, and the
 * BPF program name of "bpf_prog_<tag>_<name>+…". */
static int parse_symbol(const char *p, size_t n, char **ret_module, char **ret_bpf) {
        int r;
        const char *q = p + n;
        while (*q == ' ' || *q == '\t')
                q++;
        bool bpf = n > 9 && startswith_n(p, "bpf_prog_");
        if (*q == '[') {
                q++;
                size_t m = strcspn(q, "]");
                /* BPF programs may show as the pseudo-module "bpf" */
                if (q[m] == ']' && name_is_module_n(q, m) && !(bpf && m == 3 && strneq(q, "bpf", 3))) {
                        r = set_str(ret_module, q, m, NAME_MODULE_MAX);
                        if (r < 0)
                                return r;
                }
        }
        if (bpf) {
                /* bpf_prog_<16 hex digits>_<name>: older kernels print no name */
                const char *t = p + 9;
                size_t hex = strspn(t, "0123456789abcdef");
                size_t sym = strcspn(p, "+");
                if (hex == 16 && t[16] == '_' && (size_t) (t + 17 - p) < sym && sym <= n) {
                        r = set_str(ret_bpf, t + 17, sym - (size_t) (t + 17 - p), 64);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* "RIP: 0010:fs_parse_rules+0x2d/0xf40 [fakesensor]" (x86), "pc : sym+o/l [mod]"
 * (arm64), "PC is at sym+o/l [mod]" (arm), "EIP: sym+o/l [mod]" (i386).
 * Returns 1 when L is a RIP line, taken or not. */
static int parse_rip(Parser *ps, const char *l) {
        CrashEvent *ev = ps->ev;
        const char *p;
        if (startswith_n(l, "RIP: ") || startswith_n(l, "EIP: ") || startswith_n(l, "pc : "))
                p = l + 5;
        else if (startswith_n(l, "PC is at "))
                p = l + 9;
        else
                return 0;
        /* A segment selector: 0010 is kernel mode; 0033/0023 are user space
         * registers printed in the same trace, not the faulting code. */
        if (strlen(p) >= 5 && p[4] == ':' && strspn(p, "0123456789abcdef") == 4) {
                if (strncmp(p, "0010", 4) != 0 && strncmp(p, "0060", 4) != 0)
                        return 1;
                p += 5;
        }
        /* The faulting code is printed right after the CPU line; the same
         * registers again after the end marker (x86's "executive summary"). */
        if (ps->phase != PHASE_REGS || ev->rip) {
                ev->n_ignored++;
                return 1;
        }
        size_t n = strcspn(p, " \t");
        if (n == 0)
                return 1;
        int r = set_str(&ev->rip, p, n, 128);
        if (r < 0)
                return r;
        r = parse_symbol(p, n, &ev->fault_module, &ev->fault_bpf);
        return r < 0 ? r : 1;
}

/* "Modules linked in: fakesensor(OE+) efi_pstore efivarfs [last unloaded: x]" */
static int parse_modules(CrashEvent *ev, const char *p) {
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
        }
        return 0;
}

/* " fakesensor_init+0xc6/0x1000 [fakesensor]", " ? do_set_pte+0x189/0x1d0":
 * one frame of the call trace. Markers (" <TASK>", " <IRQ>") and raw
 * addresses (" ? 0xffffffffc029f000") name nothing. */
static int parse_frame(CrashEvent *ev, const char *l) {
        const char *p = l;
        while (*p == ' ')
                p++;
        bool reliable = true;
        if (p[0] == '?' && p[1] == ' ') {
                reliable = false;
                p += 2;
        }
        size_t n = strcspn(p, " \t");
        const char *plus = memchr(p, '+', n);
        if (n == 0 || !plus || plus == p || ev->n_frames >= PSTORE_FRAMES_MAX)
                return 0;
        CrashFrame f = { .reliable = reliable };
        int r = parse_symbol(p, n, &f.module, &f.bpf_prog);
        if (r < 0 || (!f.module && !f.bpf_prog)) {
                free(f.module);
                free(f.bpf_prog);
                return r; /* the core kernel's frames are not kept: they name no component */
        }
        CrashFrame *nf = reallocarray(ev->frames, ev->n_frames + 1, sizeof *nf);
        if (!nf) {
                free(f.module);
                free(f.bpf_prog);
                return -ENOMEM;
        }
        ev->frames = nf;
        ev->frames[ev->n_frames++] = f;
        return 0;
}

/* The last " Tainted: " or " Not tainted" of L: the comm before it may hold
 * either, the kernel's own text after it holds neither. */
static const char *taint_marker(const char *l) {
        static const char *const markers[] = { " Tainted: ", " Not tainted" };
        const char *last = NULL;
        for (size_t i = 0; i < ELEMENTSOF(markers); i++)
                for (const char *p = strstr(l, markers[i]); p; p = strstr(p + 1, markers[i]))
                        if (!last || p > last)
                                last = p;
        return last;
}

/* "Tainted: G           OE      6.1.0-56-amd64 #1 …" / "Not tainted 6.1.0-56-amd64 …" at M */
static int parse_taint(CrashEvent *ev, const char *m) {
        int r;
        const char *rest;
        if (startswith_n(m, " Tainted: ")) {
                char letters[64];
                size_t n = 0;
                const char *q = m + 10;
                for (; *q == ' ' || (*q >= 'A' && *q <= 'Z'); q++)
                        if (*q != ' ' && n < sizeof letters - 1)
                                letters[n++] = *q;
                r = set_str(&ev->taint, letters, n, sizeof letters);
                if (r < 0)
                        return r;
                rest = q;
        } else {
                r = set_str(&ev->taint, "", 0, 1);
                if (r < 0)
                        return r;
                rest = m + 12;
        }
        while (*rest == ' ')
                rest++;
        size_t n = strcspn(rest, " ");
        if (n > 0 && rest[0] >= '0' && rest[0] <= '9')
                return set_str(&ev->kernel_release, rest, n, 64);
        return 0;
}

/* Appends "?" (the '\n') and N bytes of S to the comm. */
static int comm_append(CrashEvent *ev, const char *s, size_t n) {
        char buf[PSTORE_COMM_MAX * 2 + 2];
        int k = snprintf(buf, sizeof buf, "%s?%.*s", ev->comm ?: "", (int) n, s);
        if (k < 0)
                return -EINVAL;
        return set_str(&ev->comm, buf, (size_t) k, sizeof buf);
}

/* A line after a CPU line that had no taint yet: the rest of a comm that
 * held '\n'? Returns 1 when L was consumed as such. */
static int parse_comm_rest(Parser *ps, const char *l) {
        CrashEvent *ev = ps->ev;
        const char *m = taint_marker(l);
        size_t piece = m ? (size_t) (m - l) : strlen(l);
        if (ps->comm_used + 1 + piece > PSTORE_COMM_MAX) {
                ps->comm_open = false; /* no room left in a comm: an ordinary line */
                return 0;
        }
        int r = comm_append(ev, l, piece);
        if (r < 0)
                return r;
        ps->comm_used += 1 + piece;
        if (m) {
                ps->comm_open = false;
                r = parse_taint(ev, m);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* "CPU: 0 PID: 89 Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1 …"
 * "CPU: 0 PID: 1 Comm: sh Not tainted 6.1.0-56-amd64 #1 …" (newer: "CPU: 7 UID: 0 PID: …") */
static int parse_cpu_line(Parser *ps, const char *l) {
        CrashEvent *ev = ps->ev;
        const char *p = strstr(l, " PID: ");
        if (p) {
                uint64_t pid;
                size_t n = parse_digits(p + 6, strlen(p + 6), &pid);
                if (n > 0 && pid <= UINT32_MAX) {
                        ev->pid = (uint32_t) pid;
                        ev->has_pid = true;
                }
        }
        const char *comm = strstr(l, " Comm: ");
        const char *m = taint_marker(l);
        size_t len = strlen(l);
        if (!comm && len >= 6 && streq(l + len - 6, " Comm:"))
                comm = l + len - 6; /* a comm starting with '\n' (the line's trailing blank was cut) */
        if (comm) {
                comm = comm[6] == ' ' ? comm + 7 : comm + 6;
                const char *end = m && m >= comm ? m : comm + strlen(comm);
                const char *kdump = strstr(comm, " Kdump: loaded");
                if (m && kdump && kdump < end)
                        end = kdump;
                int r = set_str(&ev->comm, comm, (size_t) (end - comm), PSTORE_COMM_MAX * 2 + 1);
                if (r < 0)
                        return r;
                if (!m || m < comm) {
                        /* the comm held '\n': its rest follows on the next lines */
                        ps->comm_open = true;
                        ps->comm_used = (size_t) (end - comm);
                        return 0;
                }
        }
        return m ? parse_taint(ev, m) : 0;
}

static bool is_oops_start(const char *l) {
        for (size_t i = 0; i < ELEMENTSOF(oops_starts); i++)
                if (startswith_n(l, oops_starts[i]))
                        return true;
        return false;
}

/* Could L be a line of an oops report (x86, arm64, arm)? Frames and markers
 * are indented; the rest starts with a label the report code prints. */
static bool report_line(const char *l) {
        static const char *const labels[] = {
                "#PF: ",
                "PGD ",
                "Oops",
                "CPU: ",
                "Hardware name: ",
                "Workqueue: ",
                "RIP: ",
                "EIP: ",
                "Code: ",
                "RSP: ",
                "RAX: ",
                "RDX: ",
                "RBP: ",
                "R10: ",
                "R13: ",
                "FS: ",
                "CS: ",
                "CR2: ",
                "DR0: ",
                "DR3: ",
                "DR6: ",
                "PKRU: ",
                "pc : ",
                "lr : ",
                "sp : ",
                "pstate: ",
                "PC is at ",
                "LR is at ",
                "Call Trace:",
                "Call trace:",
                "Backtrace:",
                "Modules linked in:",
                "---[ end ",
                "irq event stamp:",
                "hardirqs last ",
                "softirqs last ",
                "Mem abort info:",
                "Data abort info:",
                "Kernel Offset: ",
                "Stack:",
                "note: ",
                "Kernel panic - not syncing",
        };
        if (l[0] == ' ' || l[0] == '\t' || l[0] == '\0' || is_oops_start(l))
                return true;
        if (l[0] == 'x' && l[1] >= '0' && l[1] <= '9') /* arm64 "x29: …" */
                return true;
        for (size_t i = 0; i < ELEMENTSOF(labels); i++)
                if (startswith_n(l, labels[i]))
                        return true;
        return false;
}

static int report_begin(Parser *ps, bool is_oops) {
        crash_event_reset_block(ps->ev);
        ps->ev->fatal_block = true;
        ps->ev->n_reports++;
        ps->is_oops = is_oops;
        ps->cpu_seen = ps->trace_seen = ps->modules_seen = false;
        ps->comm_open = false;
        ps->phase = PHASE_HEADER;
        ps->report_usec = ps->line_usec;
        return 0;
}

/* A line that would be evidence inside a fatal block: counted when it is
 * found elsewhere (n_ignored). */
static bool looks_like_evidence(const char *l) {
        return startswith_n(l, "Modules linked in:") || startswith_n(l, "RIP: ") ||
               startswith_n(l, "CPU: ") || startswith_n(l, "pc : ");
}

static bool phase_in_report(Phase p) {
        return p == PHASE_HEADER || p == PHASE_REGS || p == PHASE_TRACE || p == PHASE_AFTER;
}

/* One line of a dump, prefix stripped. STRUCTURE: it may be a line of an
 * oops (a kernel line at an oops level, see above). */
static int parse_line(Parser *ps, const char *l, bool structure) {
        CrashEvent *ev = ps->ev;
        int r;

        if (ps->comm_open) {
                r = parse_comm_rest(ps, l);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        if (!structure) {
                if (looks_like_evidence(l) || startswith_n(l, "Kernel panic - not syncing") || is_oops_start(l))
                        ev->n_ignored++;
                return 0;
        }

        if (startswith_n(l, "Kernel panic - not syncing")) {
                /* panic("Fatal exception…") comes only from the oops path: it
                 * ends the last oops, however much another CPU logged after
                 * its end marker. Any other panic ends the report it
                 * interrupts (panic_on_warn, a soft lockup), or stands alone
                 * (sysrq, VFS, init killed). */
                bool fatal_exc = startswith_n(l, "Kernel panic - not syncing: Fatal exception");
                bool recent = !ps->has_time || ps->line_usec - ps->report_usec <= REPORT_GAP_USEC;
                bool joins =
                        ev->fatal_block && !ev->reason &&
                        ((phase_in_report(ps->phase) && recent) ||
                         (fatal_exc && ps->is_oops && (ps->phase == PHASE_ENDED || ps->phase == PHASE_NONE)));
                if (!joins) {
                        r = report_begin(ps, false);
                        if (r < 0)
                                return r;
                }
                r = set_str(&ev->reason, l, strlen(l), STR_MAX);
                if (r < 0)
                        return r;
                ps->phase = joins ? PHASE_PANIC : PHASE_HEADER;
                return 0;
        }
        if (is_oops_start(l)) {
                if (ps->phase != PHASE_HEADER || !ps->is_oops) {
                        r = report_begin(ps, true);
                        if (r < 0)
                                return r;
                }
                if (!ev->oops)
                        return set_str(&ev->oops, l, strlen(l), STR_MAX);
                return 0;
        }
        if (phase_in_report(ps->phase)) {
                if (!report_line(l)) {
                        ps->phase = PHASE_ENDED; /* some other message: the report is over */
                        return 0;
                }
                if (ps->has_time)
                        ps->report_usec = ps->line_usec;
        }

        if (startswith_n(l, "CPU: ")) {
                if (ps->cpu_seen || !(ps->phase == PHASE_HEADER || ps->phase == PHASE_PANIC)) {
                        ev->n_ignored++;
                        return 0;
                }
                ps->cpu_seen = true;
                if (ps->phase == PHASE_HEADER)
                        ps->phase = PHASE_REGS;
                return parse_cpu_line(ps, l);
        }
        r = parse_rip(ps, l);
        if (r != 0)
                return r < 0 ? r : 0;
        if (startswith_n(l, "Call Trace:") || startswith_n(l, "Call trace:") || startswith_n(l, "Backtrace:")) {
                if (!ps->trace_seen &&
                    (ps->phase == PHASE_HEADER || ps->phase == PHASE_REGS || ps->phase == PHASE_PANIC)) {
                        ps->trace_seen = true;
                        ps->phase = PHASE_TRACE;
                }
                return 0;
        }
        if (startswith_n(l, "Modules linked in:")) {
                if (ps->modules_seen || !phase_in_report(ps->phase)) {
                        ev->n_ignored++;
                        return 0;
                }
                ps->modules_seen = true;
                if (ps->phase == PHASE_TRACE)
                        ps->phase = PHASE_AFTER;
                return parse_modules(ev, l + 18);
        }
        if (startswith_n(l, "---[ end trace")) {
                if (phase_in_report(ps->phase))
                        ps->phase = PHASE_ENDED;
                return 0;
        }
        if (ps->phase == PHASE_TRACE) {
                if (startswith_n(l, " </TASK>")) {
                        ps->phase = ev->reason ? PHASE_PANIC : PHASE_AFTER;
                        return 0;
                }
                if (l[0] == ' ')
                        return parse_frame(ev, l);
        }
        return 0;
}

/* Does any line of the dump start with "<level>"? Then every kernel line does. */
static bool text_prefixed(const char *data, size_t len) {
        const char *p = data, *end = data + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = (size_t) ((nl ? nl : end) - p);
                if (line_priority(p, n) >= 0)
                        return true;
                p += n + (nl ? 1 : 0);
        }
        return false;
}

static int parse_text(Parser *ps, const char *data, size_t len) {
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
                int prio = line_priority(buf, c);
                ps->has_time = line_time(buf, &ps->line_usec);
                bool structure = !ps->prefixed ||
                                 (prio >= 0 && prio >> 3 == 0 && (prio & 7) <= KERN_LEVEL_STRUCTURE_MAX);
                int r = parse_line(ps, strip_prefix(buf), structure);
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

        Parser ps = { .ev = ev };
        for (size_t i = 0; i < n && !ps.prefixed; i++)
                ps.prefixed = text_prefixed(order[i]->body, order[i]->body_len);
        /* Part1 holds the newest text: read from the highest part down. */
        for (size_t i = n; i > 0; i--) {
                int r = parse_text(&ps, order[i - 1]->body, order[i - 1]->body_len);
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

const char *crash_strength_to_string(CrashStrength s) {
        static const char *const names[] = {
                [CRASH_STRENGTH_NONE] = "none",
                [CRASH_STRENGTH_WEAK] = "weak",
                [CRASH_STRENGTH_MEDIUM] = "medium",
                [CRASH_STRENGTH_STRONG] = "strong",
        };
        return (size_t) s < ELEMENTSOF(names) ? names[s] : NULL;
}

static bool module_listed(char *const *patterns, const char *name) {
        for (; patterns && *patterns; patterns++)
                if (name_module_match(*patterns, name))
                        return true;
        return false;
}

static bool glob_listed(char *const *patterns, const char *name, NameMatchFlags flags) {
        for (; patterns && *patterns; patterns++)
                if (name_glob_match(*patterns, name, flags))
                        return true;
        return false;
}

/* The crashing task is one of PROCESSES: a comm of PSTORE_COMM_MAX bytes may
 * be a longer name the kernel cut. */
static bool comm_listed(char *const *processes, const char *comm) {
        return glob_listed(processes, comm, strlen(comm) >= PSTORE_COMM_MAX ? NAME_MATCH_TRUNCATED : 0);
}

/* What panic() prints before its message. */
#define PANIC_PREFIX "Kernel panic - not syncing: "

static const CrashEvent *fatal_event(const CrashReport *r) {
        /* The newest dump is the crash that killed the machine (with
         * oops=panic its Panic dump holds the whole oops); older dumps are
         * not evidence. */
        if (!r || r->n_events == 0 || !r->events[0].fatal_block)
                return NULL;
        return &r->events[0];
}

bool pstore_points_at(const CrashReport *r, char *buf, size_t size) {
        const CrashEvent *ev = fatal_event(r);
        if (size == 0)
                return ev != NULL;
        buf[0] = '\0';
        if (!ev)
                return false;
        size_t o = 0;
        if (ev->fault_module)
                appendf(buf, size, &o, "%s", ev->fault_module);
        else if (ev->fault_bpf)
                appendf(buf, size, &o, "BPF program %s", ev->fault_bpf);
        else
                appendf(buf, size, &o, "the core kernel");
        if (ev->comm)
                appendf(buf, size, &o, " (%s)", ev->comm);
        return true;
}

typedef struct Words {
        char *buf;
        size_t size, o;
        const char *named[16]; /* module and program names already said */
        size_t n_named;
} Words;

static bool words_named(Words *w, const char *name) {
        for (size_t i = 0; i < w->n_named; i++)
                if (name_module_equal(w->named[i], name))
                        return true;
        if (w->n_named < ELEMENTSOF(w->named))
                w->named[w->n_named++] = name;
        return false;
}

static void words_add(Words *w, const char *fmt, ...) _printf_(2, 3);
static void words_add(Words *w, const char *fmt, ...) {
        char piece[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(piece, sizeof piece, fmt, ap);
        va_end(ap);
        appendf(w->buf, w->size, &w->o, "%s%s", w->o > 0 ? "; " : "", piece);
}

void pstore_weigh(const CrashReport *r, const CrashIdentity *id, CrashVerdict *ret) {
        CrashVerdict v = {};
        const CrashEvent *ev = fatal_event(r);
        if (!ev) {
                *ret = v;
                return;
        }
        (void) pstore_points_at(r, v.points_at, sizeof v.points_at);
        static const CrashIdentity nobody = {};
        if (!id)
                id = &nobody;

        /* Strongest first; each module or program is named once, by its
         * strongest piece. */
        char strong[320] = "", medium[320] = "", weak[320] = "";
        Words ws = { .buf = strong, .size = sizeof strong };
        Words wm = { .buf = medium, .size = sizeof medium };
        Words ww = { .buf = weak, .size = sizeof weak };
        if (ev->fault_module && module_listed(id->kernel_modules, ev->fault_module)) {
                words_named(&ws, ev->fault_module);
                words_add(&ws, "RIP in %s (strong)", ev->fault_module);
        }
        if (ev->fault_bpf && glob_listed(id->bpf_programs, ev->fault_bpf, 0)) {
                words_named(&ws, ev->fault_bpf);
                words_add(&ws, "RIP in BPF program %s (strong)", ev->fault_bpf);
        }
        if (ev->comm && comm_listed(id->processes, ev->comm))
                words_add(&ws, "crashing task %s (strong)", ev->comm);
        const char *msg =
                ev->reason && startswith_n(ev->reason, PANIC_PREFIX) ? ev->reason + strlen(PANIC_PREFIX) : NULL;
        if (msg && glob_listed(id->panic_messages, msg, 0))
                words_add(&ws, "panic \"%.80s\" (strong)", msg);

        wm.n_named = ws.n_named;
        memcpy(wm.named, ws.named, sizeof ws.named);
        for (size_t i = 0; i < ev->n_frames; i++) {
                const CrashFrame *f = &ev->frames[i];
                if (!f->reliable)
                        continue; /* a stale address on the stack, which anyone can leave there */
                if (f->module && module_listed(id->kernel_modules, f->module) && !words_named(&wm, f->module))
                        words_add(&wm, "call trace through %s (medium)", f->module);
                if (f->bpf_prog && glob_listed(id->bpf_programs, f->bpf_prog, 0) && !words_named(&wm, f->bpf_prog))
                        words_add(&wm, "call trace through BPF program %s (medium)", f->bpf_prog);
        }

        ww.n_named = wm.n_named;
        memcpy(ww.named, wm.named, sizeof wm.named);
        for (size_t i = 0; i < ev->n_modules; i++) {
                const CrashModule *m = &ev->modules[i];
                if (!module_listed(id->kernel_modules, m->name) || words_named(&ww, m->name))
                        continue;
                if (m->loading)
                        words_add(&ww, "%s was being loaded (weak)", m->name);
                else
                        words_add(&ww, "%s was loaded (weak)", m->name);
        }

        v.strength = strong[0]   ? CRASH_STRENGTH_STRONG
                     : medium[0] ? CRASH_STRENGTH_MEDIUM
                     : weak[0]   ? CRASH_STRENGTH_WEAK
                                 : CRASH_STRENGTH_NONE;
        v.cleared = v.strength < CRASH_STRENGTH_MEDIUM;
        size_t o = 0;
        if (v.cleared)
                appendf(v.why, sizeof v.why, &o, "cleared: the crash was in %s", v.points_at);
        const char *parts[] = { strong, medium, weak };
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                if (parts[i][0])
                        appendf(v.why, sizeof v.why, &o, "%s%s", o > 0 ? "; " : "", parts[i]);
        *ret = v;
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
