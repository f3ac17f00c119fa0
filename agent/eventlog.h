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
 * What the chain cannot see (it has no key, and nothing outside the file
 * anchors it): an edit of the LAST line, the removal of lines at the end, or
 * a rewrite that recomputes every later hash. It makes careless or partial
 * tampering evident, not a determined root attacker.
 *
 * Appending reads only the tail of the file (boot path). A line torn by a
 * power cut mid-append is cut back to the last newline by the next append,
 * which says so in its evidence ("eventlog_repaired_torn_bytes"). A last
 * line that cannot be parsed at all (not a torn write: corrupted or
 * tampered) cannot be chained to: the file is set aside as
 * events.jsonl.broken-<usec> and a new chain starts whose first event names
 * it ("eventlog_previous_log").
 */

#include <stdint.h>

#include "lib/util.h"

#define EVENTLOG_DIR "/var/lib/lastgood"
#define EVENTLOG_NAME "events.jsonl"
/* Longest line written or accepted (the tail read needs a bound). */
#define EVENTLOG_LINE_MAX (64u * 1024u)
/* `eventlog_read` refuses logs larger than this (-EFBIG); verify streams. */
#define EVENTLOG_READ_MAX (64u * 1024u * 1024u)
#define EVENT_EVIDENCE_MAX 16
/* Per-field caps applied when writing (longer text is cut, marked "…"). */
#define EVENT_MESSAGE_MAX 1024u
#define EVENT_VALUE_MAX 400u /* 16 of them, all escaped 6x, stay well under EVENTLOG_LINE_MAX */
#define EVENT_KEY_MAX 48u

/* Stable event type names, and the systemd-style MESSAGE_ID of each, for
 * forwarding to the journal. Never renumber: tools match on them. */
#define EVENT_BOOT_COUNTED "boot-counted"
#define EVENT_BOOT_CONFIRMED "boot-confirmed"
#define EVENT_CONFIRM_FAILED "confirm-failed"
#define EVENT_RECOVERY_RESTORE "recovery-restore"
#define EVENT_RECOVERY_QUARANTINE "recovery-quarantine"
#define EVENT_RECOVERY_SAFE_MODE "recovery-safe-mode"
#define EVENT_NO_SUSPECT "no-suspect"
#define EVENT_QUARANTINE_RELEASE "quarantine-release"
#define EVENT_SAFE_MODE_REQUESTED "safe-mode-requested"
#define EVENT_SAFE_MODE_CODE_REJECTED "safe-mode-code-rejected"
#define EVENT_INTERNAL_ERROR "internal-error"
#define EVENT_POLICY_ERROR "policy-error"
#define EVENT_CRASH_RECORD "crash-record"
#define EVENT_STATE_CORRUPT "state-corrupt"
#define EVENT_STATE_FALLTHROUGH "state-fallthrough"

#define EVENT_BOOT_COUNTED_MESSAGE_ID "76819e05420985633a479ac0be8165c9"
#define EVENT_BOOT_CONFIRMED_MESSAGE_ID "ac608e1639a752f5f63f05bc598af7af"
#define EVENT_CONFIRM_FAILED_MESSAGE_ID "db2d9a151df3f9f17e51fa8bf749c955"
#define EVENT_RECOVERY_RESTORE_MESSAGE_ID "dc19036c2ac839d0b792ce2b385a3760"
#define EVENT_RECOVERY_QUARANTINE_MESSAGE_ID "8f55041447d52c1be3e8a53bb86e85a7"
#define EVENT_RECOVERY_SAFE_MODE_MESSAGE_ID "4c010604472a48fc485f910291261124"
#define EVENT_NO_SUSPECT_MESSAGE_ID "5a9401c07da35bca29e7847af0fe2d0c"
#define EVENT_QUARANTINE_RELEASE_MESSAGE_ID "a7e79c7dad8b7e05cd6c20b77d0f2101"
#define EVENT_SAFE_MODE_REQUESTED_MESSAGE_ID "f82f7607353bc83eafce9b499c6fd19e"
#define EVENT_SAFE_MODE_CODE_REJECTED_MESSAGE_ID "61860e1b6593d15d33fc246bf51eb41c"
#define EVENT_INTERNAL_ERROR_MESSAGE_ID "54a133e72f4b70ca3c5bc96eb02bfb47"
#define EVENT_POLICY_ERROR_MESSAGE_ID "ca14d456b5447abaf4d57712cf7a6643"
#define EVENT_CRASH_RECORD_MESSAGE_ID "6ec759b134b6b1560e46c841220a0203"
#define EVENT_STATE_CORRUPT_MESSAGE_ID "1518ade42128fcc6cbd49560a3a4ff8a"
#define EVENT_STATE_FALLTHROUGH_MESSAGE_ID "d25d291acf4146f80a31deeb745942b6"

/* The MESSAGE_ID of a type, or NULL when the type is not one of the above. */
const char *event_type_message_id(const char *type);

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
        const char *type;      /* one of EVENT_*; required */
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
 * Returns the new line's seq (>= 1), or -EINVAL (unknown type, no message),
 * -ELOOP (the log is a symlink), -EBADF (not a regular file), or an I/O error.
 */
int eventlog_append(int root_fd, const Event *e) _wur_;

/* One line of the log, as read back. */
typedef struct EventRecord {
        size_t line;   /* 1-based line number in the file */
        bool valid;    /* false: the line did not parse; only `line` is set */
        uint64_t seq;
        char *time;
        char *boot_id;   /* NULL for null */
        char *type;
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
 * flat object of strings. Returns 0 or -EBADMSG (-ENOMEM).
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
        size_t torn_bytes;      /* bytes after the last newline */
        const char *last_line;  /* points into BUF; NULL: no complete line */
        size_t last_len;
        bool need_more;         /* BUF does not reach back to the last line's start */
} EventLogTail;
void eventlog_tail_analyze(const char *buf, size_t len, bool at_start, EventLogTail *ret);
