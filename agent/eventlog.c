/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/eventlog.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "lib/encode.h"
#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/rootfs.h"

#define HASH_HEX_LEN (SHA256_DIGEST_SIZE * 2)
static const char zero_hash[HASH_HEX_LEN + 1] = "0000000000000000000000000000000000000000000000000000000000000000";

/* The one table of event types: name, MESSAGE_ID, journal priority.
 * Recoveries, refusals and errors are notices or warnings an admin should
 * see; the rest is info. */
static const struct {
        const char *name;
        const char *message_id;
        int priority;
} event_types[_EVENT_TYPE_MAX] = {
        [EVENT_BOOT_COUNTED] = { "boot-counted", "76819e05420985633a479ac0be8165c9", LOG_INFO },
        [EVENT_BOOT_CONFIRMED] = { "boot-confirmed", "ac608e1639a752f5f63f05bc598af7af", LOG_INFO },
        [EVENT_CONFIRM_FAILED] = { "confirm-failed", "db2d9a151df3f9f17e51fa8bf749c955", LOG_INFO },
        [EVENT_RECOVERY_RESTORE] = { "recovery-restore", "dc19036c2ac839d0b792ce2b385a3760", LOG_NOTICE },
        [EVENT_RECOVERY_QUARANTINE] = { "recovery-quarantine", "8f55041447d52c1be3e8a53bb86e85a7", LOG_NOTICE },
        [EVENT_RECOVERY_SAFE_MODE] = { "recovery-safe-mode", "4c010604472a48fc485f910291261124", LOG_NOTICE },
        [EVENT_NO_SUSPECT] = { "no-suspect", "5a9401c07da35bca29e7847af0fe2d0c", LOG_NOTICE },
        [EVENT_LADDER_EXHAUSTED] = { "ladder-exhausted", "a42e2fac5e084497b818b768957d14db", LOG_WARNING },
        [EVENT_QUARANTINE_RELEASE] = { "quarantine-release", "a7e79c7dad8b7e05cd6c20b77d0f2101", LOG_INFO },
        [EVENT_SAFE_MODE_REQUESTED] = { "safe-mode-requested", "f82f7607353bc83eafce9b499c6fd19e", LOG_INFO },
        [EVENT_SAFE_MODE_CODE_REJECTED] = { "safe-mode-code-rejected", "61860e1b6593d15d33fc246bf51eb41c",
                                            LOG_NOTICE },
        [EVENT_INTERNAL_ERROR] = { "internal-error", "54a133e72f4b70ca3c5bc96eb02bfb47", LOG_NOTICE },
        [EVENT_POLICY_ERROR] = { "policy-error", "ca14d456b5447abaf4d57712cf7a6643", LOG_WARNING },
        [EVENT_CRASH_RECORD] = { "crash-record", "6ec759b134b6b1560e46c841220a0203", LOG_INFO },
        [EVENT_STATE_CORRUPT] = { "state-corrupt", "1518ade42128fcc6cbd49560a3a4ff8a", LOG_WARNING },
        [EVENT_STATE_FALLTHROUGH] = { "state-fallthrough", "d25d291acf4146f80a31deeb745942b6", LOG_NOTICE },
        [EVENT_CRASH_RECORD_NOT_COUNTED] = { "crash-record-not-counted", "98fe6d3a0d8d49e69e56af34efbdaced",
                                             LOG_NOTICE },
        [EVENT_SAFE_MODE_SCHEDULED] = { "safe-mode-scheduled", "d654db8cdbcc44238d00a5bb46417c7e", LOG_NOTICE },
        [EVENT_SAFE_MODE_CANCELLED] = { "safe-mode-cancelled", "13674f966a5e4603880a3e8af9413dd1", LOG_NOTICE },
        [EVENT_SAFE_MODE_BOOT] = { "safe-mode-boot", "6fb1c023af974a8fa487dd74c21d69c3", LOG_WARNING },
        [EVENT_SNAPSHOT_IMPORTED] = { "snapshot-imported", "dff3b01d19c64e89a800330ea78bf466", LOG_NOTICE },
        [EVENT_SNAPSHOT_RESTORED] = { "snapshot-restored", "d9f42c11d1884c878485c4fb3e3495bc", LOG_NOTICE },
        [EVENT_HELPDESK_ENROLLED] = { "helpdesk-enrolled", "a856a1ca9c1a4e17a8b0fa262763e914", LOG_NOTICE },
        [EVENT_ESP_REQUEST_STALE] = { "esp-request-stale", "5172da4ad5bc49aa82fd82d2413ad1a9", LOG_NOTICE },
        [EVENT_REPORT_DIR_MISSING] = { "report-dir-missing", "995ab1ea35bd460ca186f7edd0b5dac4", LOG_NOTICE },
        [EVENT_PROFILE_ENABLED] = { "profile-enabled", "fb99201a7a4e47dbbce519e628955457", LOG_NOTICE },
        [EVENT_PROFILE_DISABLED] = { "profile-disabled", "399fdd313b5a42cbb43ed3352194cc9f", LOG_NOTICE },
};

static bool event_type_valid(EventType t) {
        return t > _EVENT_TYPE_UNSET && t < _EVENT_TYPE_MAX;
}

const char *event_type_to_string(EventType t) {
        return event_type_valid(t) ? event_types[t].name : NULL;
}

EventType event_type_from_string(const char *s) {
        for (EventType t = _EVENT_TYPE_UNSET + 1; s && t < _EVENT_TYPE_MAX; t++)
                if (streq(event_types[t].name, s))
                        return t;
        return _EVENT_TYPE_INVALID;
}

const char *event_type_message_id(EventType t) {
        return event_type_valid(t) ? event_types[t].message_id : NULL;
}

int event_type_priority(EventType t) {
        return event_type_valid(t) ? event_types[t].priority : LOG_INFO;
}

/* ---- building events ---- */

static bool evidence_key_valid(const char *key) {
        size_t n = key ? strlen(key) : 0;
        if (n == 0 || n > EVENT_KEY_MAX)
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

void event_add(Event *e, const char *key, const char *value) {
        if (!value)
                return; /* nothing to say */
        if (!evidence_key_valid(key)) {
                e->n_dropped++;
                return;
        }
        for (size_t i = 0; i < e->n_evidence; i++)
                if (streq(e->evidence[i].key, key)) {
                        e->evidence[i].value = value;
                        return;
                }
        if (e->n_evidence >= EVENT_EVIDENCE_MAX) {
                e->n_dropped++;
                return;
        }
        e->evidence[e->n_evidence++] = (EventEvidence) { .key = key, .value = value };
}

void event_addf(Event *e, const char *key, const char *fmt, ...) {
        size_t room = sizeof e->storage - e->storage_used;
        char *dst = e->storage + e->storage_used;
        va_list ap;
        va_start(ap, fmt);
        int n = room > 0 ? vsnprintf(dst, room, fmt, ap) : -1;
        va_end(ap);
        if (n < 0 || (size_t) n >= room) {
                e->n_dropped++;
                return;
        }
        e->storage_used += (size_t) n + 1;
        event_add(e, key, dst);
}

/* Length of the valid UTF-8 sequence at S (at most AVAIL bytes), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail) {
        unsigned char c = s[0];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f; /* no UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else
                return 0;
        if (avail < n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

/*
 * Copies S into DST (size max + 4) as valid UTF-8 of at most MAX bytes: the
 * log is read by tools that expect JSON, which means UTF-8, whatever bytes a
 * file name or a crash record handed us. Invalid bytes become '?'; cut text
 * ends with "…".
 */
static const char *text_sanitize(char *dst, size_t max, const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t avail = strlen(s), o = 0;
        while (avail > 0) {
                size_t n = utf8_seq_len(p, avail);
                size_t out = n ? n : 1;
                if (o + out > max) {
                        memcpy(dst + o, "\xe2\x80\xa6", 3);
                        o += 3;
                        break;
                }
                if (n)
                        memcpy(dst + o, p, n);
                else
                        dst[o] = '?';
                o += out;
                p += out;
                avail -= out;
        }
        dst[o] = '\0';
        return dst;
}

static void json_kv_text(JsonWriter *w, const char *key, const char *s, size_t max) {
        char buf[EVENT_MESSAGE_MAX + 4];
        if (max > EVENT_MESSAGE_MAX)
                max = EVENT_MESSAGE_MAX;
        json_key(w, key);
        json_string(w, s ? text_sanitize(buf, max, s) : NULL);
}

static void sha256_hex(const void *data, size_t len, char out[static HASH_HEX_LEN + 1]) {
        struct sha256_ctx ctx;
        uint8_t digest[SHA256_DIGEST_SIZE];
        sha256_init(&ctx);
        sha256_update(&ctx, len, data);
        sha256_digest(&ctx, sizeof digest, digest);
        hex_encode_to(digest, sizeof digest, out);
}

static void format_iso8601(uint64_t usec, char buf[static 32]) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&sec, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
                strcpy(buf, "1970-01-01T00:00:00");
        }
        size_t n = strlen(buf);
        snprintf(buf + n, 32 - n, ".%06" PRIu64 "Z", usec % USEC_PER_SEC);
}

typedef struct AppendExtra {
        size_t torn_bytes;
        char torn_sha256[HASH_HEX_LEN + 1];
        const char *previous_log;
        const char *previous_problem;
} AppendExtra;

static int event_format_line(const Event *e, uint64_t seq, const char *prev, const AppendExtra *x,
                             char **ret, size_t *ret_len) {
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        if (!f)
                return -ENOMEM;

        char boot_id[37], when[32];
        read_boot_id(boot_id);
        format_iso8601(now_realtime_usec(), when);

        JsonWriter w;
        json_init(&w, f);
        json_object_begin(&w);
        json_kv_u64(&w, "seq", seq);
        json_kv_string(&w, "time", when);
        json_kv_string(&w, "boot_id", boot_id[0] ? boot_id : NULL);
        json_kv_string(&w, "type", event_type_to_string(e->type));
        json_kv_text(&w, "component", e->component, 128);
        json_kv_text(&w, "action", e->action, 128);
        json_kv_text(&w, "message", e->message, EVENT_MESSAGE_MAX);
        json_key(&w, "evidence");
        json_object_begin(&w);
        for (size_t i = 0; i < e->n_evidence && i < EVENT_EVIDENCE_MAX; i++)
                json_kv_text(&w, e->evidence[i].key, e->evidence[i].value, EVENT_VALUE_MAX);
        if (e->n_dropped > 0) {
                char n[16];
                snprintf(n, sizeof n, "%u", e->n_dropped);
                json_kv_string(&w, "eventlog_evidence_dropped", n);
        }
        if (x->torn_bytes > 0) {
                char n[32];
                snprintf(n, sizeof n, "%zu", x->torn_bytes);
                json_kv_string(&w, "eventlog_repaired_torn_bytes", n);
                json_kv_string(&w, "eventlog_repaired_torn_sha256", x->torn_sha256);
        }
        if (x->previous_log) {
                json_kv_text(&w, "eventlog_previous_log", x->previous_log, EVENT_VALUE_MAX);
                json_kv_text(&w, "eventlog_previous_problem", x->previous_problem, EVENT_VALUE_MAX);
        }
        json_object_end(&w);
        json_kv_string(&w, "prev", prev);
        json_object_end(&w);
        fputc('\n', f);
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = memstream_finalize(&m, &buf, &len);
        if (r < 0)
                return r;
        if (len - 1 > EVENTLOG_LINE_MAX)
                return -E2BIG;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* ---- the tail ---- */

void eventlog_tail_analyze(const char *buf, size_t len, bool at_start, EventLogTail *ret) {
        *ret = (EventLogTail) {};
        if (len == 0)
                return;
        const char *nl = memrchr(buf, '\n', len);
        if (!nl) {
                /* No newline at all: the whole window is one unterminated line. */
                if (at_start)
                        ret->torn_bytes = len;
                else
                        ret->need_more = true;
                return;
        }
        size_t end = (size_t) (nl - buf);
        ret->torn_bytes = len - end - 1;
        const char *pnl = end > 0 ? memrchr(buf, '\n', end) : NULL;
        size_t start;
        if (pnl)
                start = (size_t) (pnl - buf) + 1;
        else if (at_start)
                start = 0;
        else {
                ret->need_more = true;
                return;
        }
        ret->last_line = buf + start;
        ret->last_len = end - start;
}

/* Opens the log for appending and takes the lock, making sure the locked file
 * is still the one at NAME (a concurrent append may have set it aside). */
static int eventlog_open_locked(int dir_fd, int *ret_fd, struct stat *ret_st) {
        for (unsigned attempt = 0; attempt < 8; attempt++) {
                _cleanup_close_ int fd = openat(dir_fd, EVENTLOG_NAME,
                                                O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);
                if (fd < 0)
                        return -errno;
                struct stat st, st2;
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (!S_ISREG(st.st_mode))
                        return -EBADF;
                if (flock(fd, LOCK_EX) < 0)
                        return -errno;
                if (fstatat(dir_fd, EVENTLOG_NAME, &st2, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
                        continue;
                if (fstat(fd, ret_st) < 0)
                        return -errno;
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        return -EBUSY;
}

/* Reads the tail of the locked log FD of SIZE bytes: a small window first,
 * a bounded larger one if the last line is longer than that. *ret_buf holds
 * the last *ret_win bytes (NULL when SIZE is 0). */
static int tail_read(int fd, size_t size, char **ret_buf, size_t *ret_win, EventLogTail *ret_tail) {
        _cleanup_free_ char *buf = NULL;
        EventLogTail tail = {};
        size_t win = 0;
        static const size_t windows[] = { 8192, 2 * EVENTLOG_LINE_MAX + 2 };
        for (size_t i = 0; i < ELEMENTSOF(windows) && size > 0; i++) {
                win = size < windows[i] ? size : windows[i];
                free(buf);
                buf = malloc(win);
                if (!buf)
                        return -ENOMEM;
                ssize_t n = loop_pread(fd, buf, win, (off_t) (size - win));
                if (n < 0)
                        return (int) n;
                if ((size_t) n < win)
                        return -EIO; /* shrank under our lock: someone ignores it */
                eventlog_tail_analyze(buf, win, win == size, &tail);
                if (!tail.need_more || win == size)
                        break;
        }
        *ret_buf = TAKE_PTR(buf);
        *ret_win = win;
        *ret_tail = tail;
        return 0;
}

int eventlog_append(int root_fd, const Event *e) {
        if (!e || !event_type_valid(e->type) || !e->message)
                return -EINVAL;

        _cleanup_close_ int dir_fd = -1;
        int r = root_open_dir(root_fd, EVENTLOG_DIR, true, 0755, &dir_fd);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = -1;
        struct stat st;
        r = eventlog_open_locked(dir_fd, &fd, &st);
        if (r < 0)
                return r;

        size_t size = (size_t) st.st_size;
        _cleanup_free_ char *tailbuf = NULL;
        EventLogTail tail = {};
        size_t win = 0;
        r = tail_read(fd, size, &tailbuf, &win, &tail);
        if (r < 0)
                return r;

        AppendExtra extra = {};
        uint64_t seq = 1;
        char prev[HASH_HEX_LEN + 1];
        strcpy(prev, zero_hash);
        _cleanup_free_ char *problem = NULL;

        if (tail.need_more || tail.torn_bytes > EVENTLOG_LINE_MAX)
                problem = strdup("the last line is longer than any event line");
        else if (tail.last_line) {
                EventRecord last = {};
                if (eventlog_parse_line(tail.last_line, tail.last_len, &last) < 0)
                        problem = strdup("the last complete line is not a valid event");
                else {
                        seq = last.seq + 1;
                        sha256_hex(tail.last_line, tail.last_len, prev);
                }
                event_record_done(&last);
        }

        char broken_name[64];
        if (problem) {
                /* Nothing we can chain to: keep the file as evidence and start
                 * a new chain that names it, rather than stop logging. */
                r = xsnprintf(broken_name, sizeof broken_name, EVENTLOG_NAME ".broken-%" PRIu64,
                              now_realtime_usec());
                if (r < 0)
                        return r;
                r = rename_durable(dir_fd, EVENTLOG_NAME, dir_fd, broken_name);
                if (r < 0)
                        return r;
                extra.previous_log = broken_name;
                extra.previous_problem = problem;
        } else if (tail.torn_bytes > 0) {
                /* A power cut mid-append left a partial line: cut it off
                 * durably so that the chain continues from the last whole line. */
                sha256_hex(tailbuf + win - tail.torn_bytes, tail.torn_bytes, extra.torn_sha256);
                extra.torn_bytes = tail.torn_bytes;
                r = fault_point("eventlog-truncate");
                if (r < 0)
                        return r;
                if (ftruncate(fd, (off_t) (size - tail.torn_bytes)) < 0)
                        return -errno;
                if (fsync(fd) < 0)
                        return -errno;
        }

        _cleanup_free_ char *line = NULL;
        size_t len;
        r = event_format_line(e, seq, prev, &extra, &line, &len);
        if (r < 0)
                return r;
        r = append_durable_at(dir_fd, EVENTLOG_NAME, line, len, 0640);
        if (r < 0)
                return r;
        return (int) (seq > INT32_MAX ? INT32_MAX : seq);
}

/* ---- reading back: a strict parser for exactly the lines we write ---- */

void event_record_done(EventRecord *r) {
        if (!r)
                return;
        free(r->time);
        free(r->boot_id);
        free(r->type_name);
        free(r->component);
        free(r->action);
        free(r->message);
        strv_free(r->evidence);
        size_t line = r->line;
        *r = (EventRecord) { .line = line };
}

void event_records_free(EventRecord *r, size_t n) {
        for (size_t i = 0; r && i < n; i++)
                event_record_done(&r[i]);
        free(r);
}

typedef struct Parser {
        const char *p, *end;
} Parser;

static void parser_ws(Parser *ps) {
        while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
                ps->p++;
}

static bool parser_eat(Parser *ps, char c) {
        parser_ws(ps);
        if (ps->p < ps->end && *ps->p == c) {
                ps->p++;
                return true;
        }
        return false;
}

static int hex4(const char *p, uint32_t *ret) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++) {
                int d = unhexchar(p[i]);
                if (d < 0)
                        return -EBADMSG;
                v = v << 4 | (uint32_t) d;
        }
        *ret = v;
        return 0;
}

/* A JSON string; the result is at most as long as the input, so one
 * allocation of the remaining length suffices (\u escapes shrink). */
static int parser_string(Parser *ps, char **ret) {
        if (!parser_eat(ps, '"'))
                return -EBADMSG;
        size_t avail = (size_t) (ps->end - ps->p);
        _cleanup_free_ char *out = malloc(avail + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        for (;;) {
                if (ps->p >= ps->end)
                        return -EBADMSG;
                unsigned char c = (unsigned char) *ps->p++;
                if (c == '"')
                        break;
                if (c < 0x20)
                        return -EBADMSG; /* raw control characters and NUL */
                if (c != '\\') {
                        out[o++] = (char) c;
                        continue;
                }
                if (ps->p >= ps->end)
                        return -EBADMSG;
                c = (unsigned char) *ps->p++;
                /* the one-letter escapes: escape, then what it stands for */
                static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
                const char *m = NULL;
                for (const char *e = simple; *e; e += 2)
                        if (*e == (char) c) {
                                m = e;
                                break;
                        }
                if (m) {
                        out[o++] = m[1];
                        continue;
                }
                if (c != 'u')
                        return -EBADMSG;
                uint32_t cp, lo;
                if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
                        return -EBADMSG;
                ps->p += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                        return -EBADMSG;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                            hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                                return -EBADMSG;
                        ps->p += 6;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0)
                        return -EBADMSG; /* would cut the C string */
                /* 6 or 12 input bytes always cover the ≤ 4 output bytes */
                if (cp < 0x80)
                        out[o++] = (char) cp;
                else if (cp < 0x800) {
                        out[o++] = (char) (0xc0 | (cp >> 6));
                        out[o++] = (char) (0x80 | (cp & 0x3f));
                } else if (cp < 0x10000) {
                        out[o++] = (char) (0xe0 | (cp >> 12));
                        out[o++] = (char) (0x80 | ((cp >> 6) & 0x3f));
                        out[o++] = (char) (0x80 | (cp & 0x3f));
                } else {
                        out[o++] = (char) (0xf0 | (cp >> 18));
                        out[o++] = (char) (0x80 | ((cp >> 12) & 0x3f));
                        out[o++] = (char) (0x80 | ((cp >> 6) & 0x3f));
                        out[o++] = (char) (0x80 | (cp & 0x3f));
                }
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

static int parser_string_or_null(Parser *ps, char **ret) {
        parser_ws(ps);
        if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0) {
                ps->p += 4;
                *ret = NULL;
                return 0;
        }
        return parser_string(ps, ret);
}

static int parser_u64(Parser *ps, uint64_t *ret) {
        parser_ws(ps);
        const char *s = ps->p;
        uint64_t v = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
                unsigned d = (unsigned) (*ps->p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
                ps->p++;
        }
        size_t n = (size_t) (ps->p - s);
        if (n == 0 || (n > 1 && s[0] == '0'))
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parser_evidence(Parser *ps, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        if (!parser_eat(ps, '{'))
                return -EBADMSG;
        if (parser_eat(ps, '}')) {
                *ret = TAKE_PTR(l);
                return 0;
        }
        size_t n = 0;
        for (;;) {
                _cleanup_free_ char *k = NULL, *v = NULL;
                int r = parser_string(ps, &k);
                if (r < 0)
                        return r;
                if (!parser_eat(ps, ':'))
                        return -EBADMSG;
                r = parser_string(ps, &v);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i += 2)
                        if (streq(l[i], k))
                                return -EBADMSG; /* duplicate keys: which one is meant? */
                if (n >= 4 * EVENT_EVIDENCE_MAX)
                        return -EBADMSG;
                r = strv_push(&l, k);
                if (r >= 0)
                        r = strv_push(&l, v);
                if (r < 0)
                        return r;
                n += 2;
                if (parser_eat(ps, '}'))
                        break;
                if (!parser_eat(ps, ','))
                        return -EBADMSG;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static bool is_hash_hex(const char *s) {
        if (!s || strlen(s) != HASH_HEX_LEN)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

typedef enum ValueKind {
        V_U64,
        V_STRING,
        V_STRING_OR_NULL,
        V_EVIDENCE,
        V_HASH,
} ValueKind;

/* Every key of a line, each required exactly once. */
static const struct {
        const char *name;
        ValueKind kind;
        size_t offset;
} fields[] = {
        { "seq", V_U64, offsetof(EventRecord, seq) },
        { "time", V_STRING, offsetof(EventRecord, time) },
        { "boot_id", V_STRING_OR_NULL, offsetof(EventRecord, boot_id) },
        { "type", V_STRING, offsetof(EventRecord, type_name) },
        { "component", V_STRING_OR_NULL, offsetof(EventRecord, component) },
        { "action", V_STRING_OR_NULL, offsetof(EventRecord, action) },
        { "message", V_STRING, offsetof(EventRecord, message) },
        { "evidence", V_EVIDENCE, offsetof(EventRecord, evidence) },
        { "prev", V_HASH, offsetof(EventRecord, prev) },
};

static int parse_value(Parser *ps, ValueKind kind, void *dst) {
        _cleanup_free_ char *hash = NULL;
        int r;
        switch (kind) {
        case V_U64:
                return parser_u64(ps, dst);
        case V_STRING:
                return parser_string(ps, dst);
        case V_STRING_OR_NULL:
                return parser_string_or_null(ps, dst);
        case V_EVIDENCE:
                return parser_evidence(ps, dst);
        case V_HASH:
                r = parser_string(ps, &hash);
                if (r < 0)
                        return r;
                if (!is_hash_hex(hash))
                        return -EBADMSG;
                memcpy(dst, hash, HASH_HEX_LEN + 1);
                return 0;
        }
        return -EBADMSG;
}

static int parse_line_into(Parser *ps, EventRecord *rec) {
        bool seen[ELEMENTSOF(fields)] = {};
        if (!parser_eat(ps, '{'))
                return -EBADMSG;
        for (;;) {
                _cleanup_free_ char *key = NULL;
                int r = parser_string(ps, &key);
                if (r < 0)
                        return r;
                if (!parser_eat(ps, ':'))
                        return -EBADMSG;
                size_t f = ELEMENTSOF(fields);
                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        if (streq(key, fields[i].name))
                                f = i;
                if (f == ELEMENTSOF(fields) || seen[f])
                        return -EBADMSG; /* unknown or repeated key */
                seen[f] = true;
                r = parse_value(ps, fields[f].kind, (uint8_t *) rec + fields[f].offset);
                if (r < 0)
                        return r;
                if (parser_eat(ps, '}'))
                        break;
                if (!parser_eat(ps, ','))
                        return -EBADMSG;
        }
        parser_ws(ps);
        if (ps->p != ps->end)
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (!seen[i])
                        return -EBADMSG;
        return 0;
}

int eventlog_parse_line(const char *line, size_t len, EventRecord *ret) {
        Parser ps = { .p = line, .end = line + len };
        EventRecord rec = {};
        int r = parse_line_into(&ps, &rec);
        if (r < 0) {
                event_record_done(&rec);
                return r;
        }
        rec.type = event_type_from_string(rec.type_name);
        rec.valid = true;
        *ret = rec;
        return 0;
}

/* ---- streaming lines ---- */

typedef struct LineReader {
        int fd;
        char *buf;
        size_t cap, start, end;
        bool eof, discarding;
} LineReader;

/* Returns 1 with a line (without newline; *ret_newline false for an
 * unterminated last line), 0 at the end, -E2BIG once for a line longer than
 * EVENTLOG_LINE_MAX (the rest of it is skipped), or -errno. */
static int line_reader_next(LineReader *lr, const char **ret_line, size_t *ret_len, bool *ret_newline) {
        for (;;) {
                char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
                if (nl) {
                        const char *line = lr->buf + lr->start;
                        lr->start = (size_t) (nl - lr->buf) + 1;
                        if (lr->discarding) {
                                lr->discarding = false;
                                continue;
                        }
                        *ret_line = line;
                        *ret_len = (size_t) (nl - line);
                        *ret_newline = true;
                        return 1;
                }
                if (lr->discarding)
                        lr->start = lr->end = 0;
                else if (lr->end - lr->start > EVENTLOG_LINE_MAX) {
                        lr->discarding = true;
                        lr->start = lr->end = 0;
                        return -E2BIG;
                }
                if (lr->eof) {
                        if (lr->start == lr->end)
                                return 0;
                        *ret_line = lr->buf + lr->start;
                        *ret_len = lr->end - lr->start;
                        *ret_newline = false;
                        lr->start = lr->end;
                        return 1;
                }
                if (lr->start > 0) {
                        memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
                        lr->end -= lr->start;
                        lr->start = 0;
                }
                ssize_t n = loop_read(lr->fd, lr->buf + lr->end, lr->cap - lr->end);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        lr->eof = true;
                lr->end += (size_t) n;
        }
}

static int line_reader_init(LineReader *lr, int fd) {
        *lr = (LineReader) { .fd = fd, .cap = 2 * EVENTLOG_LINE_MAX + 2 };
        lr->buf = malloc(lr->cap);
        return lr->buf ? 0 : -ENOMEM;
}

static int problemf(char **ret, const char *fmt, ...) _printf_(2, 3);
static int problemf(char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(ret, fmt, ap);
        va_end(ap);
        return n < 0 ? -ENOMEM : 1;
}

/* What one walk over a log found: besides the chain's first problem, where
 * ANCHOR (if any) is, and the set-aside logs its lines name. */
typedef enum AnchorSeen {
        ANCHOR_NOT_SEEN,
        ANCHOR_MATCH,
        ANCHOR_MISMATCH,
} AnchorSeen;

typedef struct Walk {
        const EventLogHead *anchor; /* NULL: none */
        AnchorSeen anchor_seen;
        uint64_t last_seq;
        char **previous_logs; /* eventlog_previous_log values, in order */
} Walk;

static void walk_done(Walk *w) {
        strv_free(w->previous_logs);
}

static int walk_record(Walk *w, const EventRecord *rec, const char *hash) {
        w->last_seq = rec->seq;
        if (w->anchor && w->anchor->seq == rec->seq && w->anchor_seen == ANCHOR_NOT_SEEN)
                w->anchor_seen = streq(w->anchor->hash, hash) ? ANCHOR_MATCH : ANCHOR_MISMATCH;
        for (char **e = rec->evidence; e && e[0] && e[1]; e += 2)
                if (streq(e[0], "eventlog_previous_log") && strv_push(&w->previous_logs, e[1]) < 0)
                        return -ENOMEM;
        return 0;
}

static int verify_walk(int fd, Walk *w, size_t *ret_lines, char **ret_problem);

int eventlog_verify_fd(int fd, size_t *ret_lines, char **ret_problem) {
        _cleanup_(walk_done) Walk w = {};
        return verify_walk(fd, &w, ret_lines, ret_problem);
}

static int verify_walk(int fd, Walk *w, size_t *ret_lines, char **ret_problem) {
        LineReader lr;
        int r = line_reader_init(&lr, fd);
        if (r < 0)
                return r;
        _cleanup_free_ _unused_ char *buf = lr.buf; /* frees the reader's buffer; clang calls it unused */
        char prev[HASH_HEX_LEN + 1];
        strcpy(prev, zero_hash);
        size_t n = 0;
        _cleanup_free_ char *problem = NULL;
        int result = 0;

        for (;;) {
                const char *line;
                size_t len;
                bool newline;
                r = line_reader_next(&lr, &line, &len, &newline);
                if (r == 0)
                        break;
                if (r == -E2BIG) {
                        n++;
                        result = problemf(&problem, "line %zu: longer than %u bytes, not an event line", n,
                                          EVENTLOG_LINE_MAX);
                        break;
                }
                if (r < 0)
                        return r;
                n++;
                if (!newline) {
                        result = problemf(&problem,
                                          "line %zu: incomplete (no newline: a torn write; the next append cuts it off)",
                                          n);
                        break;
                }
                EventRecord rec = {};
                r = eventlog_parse_line(line, len, &rec);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        result = problemf(&problem, "line %zu: not a valid event line (edited?)", n);
                        break;
                }
                uint64_t seq = rec.seq;
                bool prev_ok = streq(rec.prev, prev);
                char hash[HASH_HEX_LEN + 1];
                sha256_hex(line, len, hash);
                r = seq == n && prev_ok ? walk_record(w, &rec, hash) : 0;
                event_record_done(&rec);
                if (r < 0)
                        return r;
                if (seq != n) {
                        result = problemf(&problem,
                                          "line %zu: seq %" PRIu64
                                          ", expected %zu (a line was removed, inserted or reordered)",
                                          n, seq, n);
                        break;
                }
                if (!prev_ok) {
                        if (n == 1)
                                result = problemf(&problem,
                                                  "line 1: prev is not the start of a chain (lines before it were removed)");
                        else
                                result = problemf(&problem,
                                                  "line %zu: prev does not match the hash of line %zu (line %zu was edited, or a line was removed, inserted or replaced)",
                                                  n, n - 1, n - 1);
                        break;
                }
                memcpy(prev, hash, sizeof prev);
        }
        if (result < 0)
                return result;
        *ret_lines = n;
        *ret_problem = TAKE_PTR(problem);
        return result;
}

/* Opens the log read-only; -ENOENT when there is none. */
static int eventlog_open_read(int root_fd, int *ret_fd) {
        _cleanup_close_ int dir_fd = -1;
        int r = root_open_dir(root_fd, EVENTLOG_DIR, false, 0, &dir_fd);
        if (r < 0)
                return r;
        int fd = openat_regular(dir_fd, EVENTLOG_NAME, NULL);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

int eventlog_verify(int root_fd, size_t *ret_lines, char **ret_problem) {
        _cleanup_close_ int fd = -1;
        int r = eventlog_open_read(root_fd, &fd);
        if (r == -ENOENT) {
                *ret_lines = 0;
                *ret_problem = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        return eventlog_verify_fd(fd, ret_lines, ret_problem);
}

int eventlog_read(int root_fd, EventRecord **ret, size_t *ret_n) {
        _cleanup_close_ int fd = -1;
        int r = eventlog_open_read(root_fd, &fd);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size > EVENTLOG_READ_MAX)
                return -EFBIG;

        LineReader lr;
        r = line_reader_init(&lr, fd);
        if (r < 0)
                return r;
        _cleanup_free_ _unused_ char *buf = lr.buf; /* frees the reader's buffer; clang calls it unused */
        EventRecord *recs = NULL;
        size_t n = 0, cap = 0;
        for (;;) {
                const char *line = NULL;
                size_t len = 0;
                bool newline;
                r = line_reader_next(&lr, &line, &len, &newline);
                if (r == 0)
                        break;
                if (r < 0 && r != -E2BIG) {
                        event_records_free(recs, n);
                        return r;
                }
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 64;
                        EventRecord *nr = reallocarray(recs, ncap, sizeof *nr);
                        if (!nr) {
                                event_records_free(recs, n);
                                return -ENOMEM;
                        }
                        recs = nr;
                        cap = ncap;
                }
                EventRecord *rec = &recs[n];
                *rec = (EventRecord) {};
                if (r == 1 && newline) {
                        int k = eventlog_parse_line(line, len, rec);
                        if (k == -ENOMEM) {
                                event_records_free(recs, n);
                                return k;
                        }
                }
                rec->line = ++n;
        }
        *ret = recs;
        *ret_n = n;
        return 0;
}

int eventlog_head(int root_fd, EventLogHead *ret) {
        _cleanup_close_ int fd = -1;
        int r = eventlog_open_read(root_fd, &fd);
        if (r == -ENOENT) {
                *ret = (EventLogHead) {};
                return 0;
        }
        if (r < 0)
                return r;
        /* Shared: an append in progress (exclusive) finishes first. */
        if (flock(fd, LOCK_SH) < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        _cleanup_free_ char *buf = NULL;
        size_t win = 0;
        EventLogTail tail = {};
        r = tail_read(fd, (size_t) st.st_size, &buf, &win, &tail);
        if (r < 0)
                return r;
        if (tail.need_more)
                return -EBADMSG;
        if (!tail.last_line) {
                *ret = (EventLogHead) {};
                return 0;
        }
        EventRecord last = {};
        r = eventlog_parse_line(tail.last_line, tail.last_len, &last);
        uint64_t seq = last.seq;
        event_record_done(&last);
        if (r < 0)
                return r;
        EventLogHead h = { .seq = seq };
        sha256_hex(tail.last_line, tail.last_len, h.hash);
        *ret = h;
        return 0;
}

/* Walks the log NAME in dir_fd looking for HEAD. */
static int walk_file(int dir_fd, const char *name, const EventLogHead *head, Walk *w, size_t *ret_lines,
                     char **ret_problem) {
        _cleanup_close_ int fd = openat_regular(dir_fd, name, NULL);
        if (fd < 0)
                return fd;
        *w = (Walk) { .anchor = head };
        return verify_walk(fd, w, ret_lines, ret_problem);
}

int eventlog_verify_head(int root_fd, const EventLogHead *head, size_t *ret_lines, char **ret_problem) {
        if (!head || head->seq == 0)
                return eventlog_verify(root_fd, ret_lines, ret_problem);

        _cleanup_close_ int dir_fd = -1;
        int r = root_open_dir(root_fd, EVENTLOG_DIR, false, 0, &dir_fd);
        _cleanup_(walk_done) Walk w = {};
        size_t lines = 0;
        _cleanup_free_ char *problem = NULL;
        if (r >= 0)
                r = walk_file(dir_fd, EVENTLOG_NAME, head, &w, &lines, &problem);
        if (r == -ENOENT) {
                *ret_lines = 0;
                return problemf(ret_problem,
                                "the log is missing, but the state record saw it at seq %" PRIu64 " (deleted?)",
                                head->seq);
        }
        if (r < 0)
                return r;
        if (r > 0) {
                *ret_lines = lines;
                *ret_problem = TAKE_PTR(problem);
                return 1;
        }
        /* A log set aside after a garbage line is evidence: it must stay. */
        for (char **p = w.previous_logs; p && *p; p++) {
                static const char prefix[] = EVENTLOG_NAME ".broken-";
                /* Only a name we would have written, in this directory. */
                bool ours = strncmp(*p, prefix, sizeof prefix - 1) == 0 && !strchr(*p, '/');
                r = ours ? exists_at(dir_fd, *p, NULL) : 0;
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret_lines = lines;
                        return problemf(ret_problem, "the log set aside as %s is missing (deleted?)", *p);
                }
        }
        AnchorSeen seen = w.anchor_seen;
        uint64_t last_seq = w.last_seq;
        if (seen != ANCHOR_MATCH && w.previous_logs) {
                /* The chain restarted after a garbage line: the head the state
                 * record saw may be in the log set aside then. */
                _cleanup_(walk_done) Walk pw = {};
                size_t plines = 0;
                _cleanup_free_ char *pproblem = NULL;
                r = walk_file(dir_fd, w.previous_logs[0], head, &pw, &plines, &pproblem);
                if (r >= 0 && pw.anchor_seen == ANCHOR_MATCH)
                        seen = ANCHOR_MATCH;
        }
        *ret_lines = lines;
        *ret_problem = NULL;
        if (seen == ANCHOR_MATCH)
                return 0;
        if (seen == ANCHOR_MISMATCH)
                return problemf(ret_problem,
                                "seq %" PRIu64 " is not the line the state record saw there (the last line was edited, "
                                "or the log was replaced by a freshly computed chain)",
                                head->seq);
        return problemf(ret_problem,
                        "the log ends at seq %" PRIu64 ", but the state record saw seq %" PRIu64
                        " (lines were removed at the end)",
                        last_seq, head->seq);
}
