/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The event log: /var/lib/lastgood/events.jsonl beneath the root, append-only
 * and hash-chained. Every decision lastgood takes is one line, one JSON
 * object, in this key order:
 *
 *   {"seq":N,"time":"2026-11-25T11:11:41.123456Z","boot_id":"…"|null,
 *    "type":"…","component":"…"|null,"action":"…"|null,"message":"…",
 *    "evidence":{"key":"value",…},"prev":"<64 hex>"}
 *
 * seq starts at 1 and grows by one per line; prev is the sha256 (lowercase
 * hex) of the previous line's bytes without its newline, 64 zeros on the
 * first line. `eventlog_verify` detects an edited, removed, inserted or
 * reordered line and names it.
 *
 * What the chain alone cannot see: an edit of the LAST line, the removal of
 * lines at the end, or a rewrite that recomputes every hash. The state
 * record (written at every boot, authenticated: agent/state.h) therefore
 * carries the log's head when it was written (EventLogHead: seq and the
 * sha256 of that line), and eventlog_verify_head() requires the log to
 * still contain exactly that line at that seq. The head is a prefix point:
 * events appended after the record was written (confirm, other verbs) are
 * fine. It makes tampering up to the last state write evident, not a
 * determined root attacker on the running system (who holds the key too).
 *
 * Appending reads only the tail of the file (boot path). A line torn by a
 * power cut mid-append is cut back to the last newline by the next append,
 * which says so in its evidence ("eventlog_repaired_torn_bytes"). A last
 * line that cannot be parsed at all (not a torn write: corrupted or
 * tampered) cannot be chained to: the file is set aside as
 * events.jsonl.broken-<usec> and a new chain starts whose first event names
 * it ("eventlog_previous_log").
 */

#include <errno.h>
#include <stdint.h>

#include "lib/paths.h"
#include "lib/util.h"

#define EVENTLOG_DIR LASTGOOD_STATE_DIR
#define EVENTLOG_NAME LASTGOOD_EVENTLOG_NAME
/* Longest line written or accepted (the tail read needs a bound). */
#define EVENTLOG_LINE_MAX (64u * 1024u)
/* `eventlog_read` refuses logs larger than this (-EFBIG); verify streams. */
#define EVENTLOG_READ_MAX (64u * 1024u * 1024u)
#define EVENT_EVIDENCE_MAX 16
/* Per-field caps applied when writing (longer text is cut, marked "…"). */
#define EVENT_MESSAGE_MAX 1024u
#define EVENT_VALUE_MAX 400u /* 16 of them, all escaped 6x, stay well under EVENTLOG_LINE_MAX */
#define EVENT_KEY_MAX 48u

/*
 * Event types. Each has one row in the table in eventlog.c: its stable name
 * (the "type" of a line), the systemd-style MESSAGE_ID for the journal and
 * the journal PRIORITY. Never rename or renumber an ID: tools match on them.
 * An Event carries the enum, so a type that is not in the table cannot be
 * written; a zeroed Event has no type and is refused.
 */
typedef enum EventType {
        _EVENT_TYPE_UNSET = 0,
        EVENT_BOOT_COUNTED,
        EVENT_BOOT_CONFIRMED,
        EVENT_CONFIRM_FAILED,
        EVENT_RECOVERY_RESTORE,
        EVENT_RECOVERY_QUARANTINE,
        EVENT_RECOVERY_SAFE_MODE,
        EVENT_NO_SUSPECT,
        EVENT_LADDER_EXHAUSTED,
        EVENT_QUARANTINE_RELEASE,
        EVENT_SAFE_MODE_REQUESTED,
        EVENT_SAFE_MODE_CODE_REJECTED,
        EVENT_INTERNAL_ERROR,
        EVENT_POLICY_ERROR,
        EVENT_CRASH_RECORD,
        EVENT_STATE_CORRUPT,
        EVENT_STATE_FALLTHROUGH,
        EVENT_CRASH_RECORD_NOT_COUNTED,
        EVENT_SAFE_MODE_SCHEDULED, /* safe-mode --next-boot, by an actor */
        EVENT_SAFE_MODE_CANCELLED, /* safe-mode --cancel, by an actor */
        EVENT_SAFE_MODE_BOOT,      /* a boot ran in safe mode on request, naming who asked */
        EVENT_SNAPSHOT_IMPORTED,   /* snapshot import, by an actor */
        EVENT_SNAPSHOT_RESTORED,   /* snapshot restore by hand, by an actor */
        EVENT_HELPDESK_ENROLLED,   /* helpdesk enroll, by an actor */
        EVENT_ESP_REQUEST_STALE,   /* an ESP request file left from a confirmed boot, removed unheeded */
        EVENT_REPORT_DIR_MISSING,  /* the metrics textfile's directory is missing (said once) */
        EVENT_PROFILE_ENABLED,     /* profile enable, by an actor */
        EVENT_PROFILE_DISABLED,    /* profile disable, by an actor */
        _EVENT_TYPE_MAX,
        _EVENT_TYPE_INVALID = -EINVAL,
} EventType;

/* The stable name ("boot-counted"), or NULL for a value not in the table. */
const char *event_type_to_string(EventType t);
/* _EVENT_TYPE_INVALID for a name not in the table (a newer version's type). */
EventType event_type_from_string(const char *s);
/* The 32-hex MESSAGE_ID, or NULL for a value not in the table. */
const char *event_type_message_id(EventType t);
/* The journal PRIORITY (syslog level); LOG_INFO for a value not in the table. */
int event_type_priority(EventType t);

typedef struct EventEvidence {
        const char *key; /* [a-z0-9_.-], at most EVENT_KEY_MAX bytes */
        const char *value;
} EventEvidence;

/*
 * One event to append. Fill type/component/action/message directly (they are
 * borrowed, not copied), add evidence with event_add(f)():
 *
 *   Event e = { .type = EVENT_RECOVERY_RESTORE, .component = c->name,
 *               .action = "restore-content", .message = "restored …" };
 *   event_add(&e, "snapshot", id);
 *   event_addf(&e, "failed_boots", "%u", n);
 *   r = eventlog_append(root_fd, &e);
 *
 * Adding never fails: an invalid key, or evidence beyond EVENT_EVIDENCE_MAX or
 * the storage for formatted values, is dropped and counted, and the appended
 * line says how many were dropped ("eventlog_evidence_dropped").
 */
typedef struct Event {
        EventType type;        /* required */
        const char *component; /* NULL → null */
        const char *action;    /* NULL → null */
        const char *message;   /* one human sentence; required */
        EventEvidence evidence[EVENT_EVIDENCE_MAX];
        size_t n_evidence;
        unsigned n_dropped;
        char storage[2048]; /* event_addf() values live here */
        size_t storage_used;
} Event;

/* VALUE is borrowed: it must outlive the eventlog_append() call. A key added
 * twice keeps the last value. A NULL value adds nothing (not counted). */
void event_add(Event *e, const char *key, const char *value);
void event_addf(Event *e, const char *key, const char *fmt, ...) _printf_(3, 4);

/*
 * Appends E to the log beneath root_fd (creating /var/lib/lastgood and the
 * file), durably (fsync of file and directory), under an exclusive flock so
 * that concurrent lastgood processes cannot fork the chain.
 * Returns the new line's seq (>= 1), or -EINVAL (no or unknown type, no message),
 * -ELOOP (the log is a symlink), -EBADF (not a regular file), or an I/O error.
 */
int eventlog_append(int root_fd, const Event *e) _wur_;

/* One line of the log, as read back. */
typedef struct EventRecord {
        size_t line; /* 1-based line number in the file */
        bool valid;  /* false: the line did not parse; only `line` is set */
        uint64_t seq;
        char *time;
        char *boot_id;   /* NULL for null */
        EventType type;  /* _EVENT_TYPE_INVALID: a name this version does not know */
        char *type_name; /* the name as written */
        char *component; /* NULL for null */
        char *action;    /* NULL for null */
        char *message;
        char **evidence; /* key, value, key, value, …, NULL */
        char prev[65];
} EventRecord;

void event_record_done(EventRecord *r);
void event_records_free(EventRecord *r, size_t n);

/*
 * Parses one line (without its newline) strictly: exactly the keys above,
 * each once, no trailing bytes, no NUL, no control characters, evidence a
 * flat object of strings. A type name this version does not know parses
 * (type = _EVENT_TYPE_INVALID): a log written by a newer lastgood still
 * verifies, and appending still chains to it. Returns 0 or -EBADMSG (-ENOMEM).
 */
int eventlog_parse_line(const char *line, size_t len, EventRecord *ret) _wur_;

/*
 * Reads every line of the log (missing log: 0 records). Lines that do not
 * parse are returned with valid=false so `lastgood log` can show where they
 * are. -EFBIG beyond EVENTLOG_READ_MAX.
 */
int eventlog_read(int root_fd, EventRecord **ret, size_t *ret_n) _wur_;

/*
 * Walks the whole log (streaming): every line must parse, seq must be
 * 1, 2, 3, … and prev must be the sha256 of the line before (zeros on line
 * 1). Returns 0 when intact (*ret_problem = NULL), 1 when not (*ret_problem =
 * "line N: …", the first problem found), negative errno when the log could
 * not be read. *ret_lines is the number of lines read. A missing log is
 * intact with 0 lines.
 */
int eventlog_verify(int root_fd, size_t *ret_lines, char **ret_problem) _wur_;
/* The same on an open file (tests, fuzzing). */
int eventlog_verify_fd(int fd, size_t *ret_lines, char **ret_problem) _wur_;

/* For tests and fuzzing: the tail analysis eventlog_append() does. BUF holds
 * the last bytes of the file (all of it when at_start). */
typedef struct EventLogTail {
        size_t torn_bytes;     /* bytes after the last newline */
        const char *last_line; /* points into BUF; NULL: no complete line */
        size_t last_len;
        bool need_more; /* BUF does not reach back to the last line's start */
} EventLogTail;
void eventlog_tail_analyze(const char *buf, size_t len, bool at_start, EventLogTail *ret);

/* The log's head: the seq of its last complete line and that line's sha256
 * (lowercase hex). {0, ""} for a missing or empty log. */
typedef struct EventLogHead {
        uint64_t seq;
        char hash[65];
} EventLogHead;

/* The head now (under a shared lock: never a half-appended line). -EBADMSG
 * when the last line is not an event (the next append sets the log aside). */
int eventlog_head(int root_fd, EventLogHead *ret) _wur_;

/*
 * eventlog_verify(), and besides the chain: the line at HEAD->seq must be
 * the one HEAD names (else: an edit of that line, or a replacement with a
 * freshly computed chain), the log must reach that seq (else: truncated),
 * and every log set aside after a garbage line that the log names
 * ("eventlog_previous_log") must still exist. After a set-aside the head
 * may be in that log. HEAD NULL or seq 0: eventlog_verify() only. Returns
 * what eventlog_verify() does.
 */
int eventlog_verify_head(int root_fd, const EventLogHead *head, size_t *ret_lines, char **ret_problem) _wur_;
