/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <nettle/sha2.h>
#include <sys/wait.h>

#include "agent/eventlog.h"
#include "lib/rootfs.h"

/* Each test: a fresh root with an event log of N events written by the real
 * append path; the file's lines can then be tampered with. */
typedef struct Fixture {
        char *dir;
        int root_fd;
        char path[512];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->dir = unit_mkdtemp();
        assert_int_equal(root_open(f->dir, &f->root_fd), 0);
        snprintf(f->path, sizeof f->path, "%s%s/%s", f->dir, EVENTLOG_DIR, EVENTLOG_NAME);
        setenv("LASTGOOD_BOOT_ID", "0f0e0d0c-0b0a-0908-0706-050403020100", 1);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        close(f->root_fd);
        unit_rmdir(f->dir);
        free(f);
        return 0;
}

static void append_n(Fixture *f, int n) {
        for (int i = 1; i <= n; i++) {
                char msg[64];
                snprintf(msg, sizeof msg, "event %d", i);
                Event e = { .type = EVENT_BOOT_COUNTED, .message = msg };
                event_addf(&e, "index", "%d", i);
                int seq = eventlog_append(f->root_fd, &e);
                assert_true(seq >= 1);
        }
}

/* The file as lines (without newlines), and back. */
typedef struct Lines {
        char *l[64];
        size_t n;
} Lines;

static void lines_read(const Fixture *f, Lines *ls) {
        FILE *fp = fopen(f->path, "re");
        assert_non_null(fp);
        *ls = (Lines) {};
        char *line = NULL;
        size_t cap = 0;
        ssize_t k;
        while ((k = getline(&line, &cap, fp)) > 0) {
                assert_true(ls->n < 64);
                if (line[k - 1] == '\n')
                        line[k - 1] = '\0';
                ls->l[ls->n++] = strdup(line);
        }
        free(line);
        fclose(fp);
}

static void lines_write(const Fixture *f, Lines *ls) {
        FILE *fp = fopen(f->path, "we");
        assert_non_null(fp);
        for (size_t i = 0; i < ls->n; i++)
                fprintf(fp, "%s\n", ls->l[i]);
        fclose(fp);
        for (size_t i = 0; i < ls->n; i++)
                free(ls->l[i]);
        ls->n = 0;
}

/* Replaces the first FROM in S (must exist) by TO; returns a new string. */
static char *replace(const char *s, const char *from, const char *to) {
        const char *p = strstr(s, from);
        assert_non_null(p);
        char *r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
        assert_non_null(r);
        sprintf(r, "%.*s%s%s", (int) (p - s), s, to, p + strlen(from));
        return r;
}

static void line_replace(Lines *ls, size_t i, const char *from, const char *to) {
        char *n = replace(ls->l[i], from, to);
        free(ls->l[i]);
        ls->l[i] = n;
}

static void line_delete(Lines *ls, size_t i) {
        free(ls->l[i]);
        memmove(&ls->l[i], &ls->l[i + 1], (ls->n - i - 1) * sizeof(char *));
        ls->n--;
}

static void line_insert(Lines *ls, size_t i, const char *line) {
        assert_true(ls->n < 64);
        memmove(&ls->l[i + 1], &ls->l[i], (ls->n - i) * sizeof(char *));
        ls->l[i] = strdup(line);
        ls->n++;
}

static void line_swap(Lines *ls, size_t i, size_t j) {
        char *t = ls->l[i];
        ls->l[i] = ls->l[j];
        ls->l[j] = t;
}

static void sha256_hex_of(const char *s, char out[65]) {
        struct sha256_ctx ctx;
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_init(&ctx);
        sha256_update(&ctx, strlen(s), (const uint8_t *) s);
        sha256_digest(&ctx, sizeof d, d);
        for (size_t i = 0; i < sizeof d; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
}

/* verify must find a problem that mentions every one of NEEDLES. */
static void expect_broken(const Fixture *f, const char *const *needles) {
        size_t lines = 0;
        char *problem = NULL;
        int r = eventlog_verify(f->root_fd, &lines, &problem);
        assert_int_equal(r, 1);
        assert_non_null(problem);
        for (; *needles; needles++)
                if (!strstr(problem, *needles))
                        fail_msg("problem \"%s\" lacks \"%s\"", problem, *needles);
        free(problem);
}

static void expect_intact(const Fixture *f, size_t want_lines) {
        size_t lines = 0;
        char *problem = NULL;
        int r = eventlog_verify(f->root_fd, &lines, &problem);
        if (r != 0)
                fail_msg("verify: r=%d problem=%s", r, problem ? problem : "(none)");
        assert_null(problem);
        assert_int_equal(lines, want_lines);
}

/* Every line of the log, read back: WANT of them. */
static EventRecord *read_records(const Fixture *f, size_t want) {
        EventRecord *recs = NULL;
        size_t n = 0;
        assert_int_equal(eventlog_read(f->root_fd, &recs, &n), 0);
        assert_int_equal(n, want);
        return recs;
}

static void test_roundtrip(void **state) {
        Fixture *f = *state;
        Event e = {
                .type = EVENT_RECOVERY_RESTORE,
                .component = "sensor",
                .action = "restore-content",
                .message = "restored \"sensor\"\nfrom snapshot",
        };
        event_add(&e, "snapshot", "20261125T111141Z");
        event_add(&e, "escape", "\x1b[2Jboom");
        event_add(&e, "bad_utf8",
                  "a\xff"
                  "b");
        event_add(&e, "utf8", "caf\xc3\xa9");
        event_addf(&e, "failed_boots", "%u", 3u);
        assert_int_equal(eventlog_append(f->root_fd, &e), 1);
        Event e2 = { .type = EVENT_BOOT_CONFIRMED, .message = "confirmed" };
        assert_int_equal(eventlog_append(f->root_fd, &e2), 2);
        expect_intact(f, 2);

        size_t n = 2;
        EventRecord *recs = read_records(f, n);
        assert_true(recs[0].valid);
        assert_int_equal(recs[0].seq, 1);
        assert_int_equal(recs[0].line, 1);
        assert_int_equal(recs[0].type, EVENT_RECOVERY_RESTORE);
        assert_string_equal(recs[0].type_name, "recovery-restore");
        assert_string_equal(recs[0].component, "sensor");
        assert_string_equal(recs[0].action, "restore-content");
        assert_string_equal(recs[0].message, "restored \"sensor\"\nfrom snapshot");
        assert_string_equal(recs[0].boot_id, "0f0e0d0c-0b0a-0908-0706-050403020100");
        assert_string_equal(recs[0].prev, "0000000000000000000000000000000000000000000000000000000000000000");
        const char *want[] = {
                "snapshot", "20261125T111141Z", "escape",       "\x1b[2Jboom", "bad_utf8", "a?b",
                "utf8",     "caf\xc3\xa9",      "failed_boots", "3",           NULL
        };
        for (size_t i = 0; want[i]; i++) {
                assert_non_null(recs[0].evidence[i]);
                assert_string_equal(recs[0].evidence[i], want[i]);
        }
        assert_null(recs[0].evidence[10]);
        assert_null(recs[1].component);
        assert_null(recs[1].action);
        assert_int_equal(recs[1].seq, 2);

        /* prev is the sha256 of the previous line's bytes. */
        Lines ls;
        lines_read(f, &ls);
        char h[65];
        sha256_hex_of(ls.l[0], h);
        assert_string_equal(recs[1].prev, h);
        /* the line is what the header documents: seq first, prev last */
        assert_true(strncmp(ls.l[0], "{\"seq\":1,\"time\":\"", 17) == 0);
        assert_non_null(strstr(ls.l[1], "\"prev\":\""));
        lines_write(f, &ls);
        event_records_free(recs, n);
        /* The README documents this one: journalctl MESSAGE_ID=… */
        assert_string_equal(event_type_message_id(EVENT_RECOVERY_RESTORE), "dc19036c2ac839d0b792ce2b385a3760");
}

static void test_append_refuses_bad_events(void **state) {
        Fixture *f = *state;
        Event e = { .type = _EVENT_TYPE_MAX, .message = "x" };
        assert_int_equal(eventlog_append(f->root_fd, &e), -EINVAL);
        Event e1 = { .type = _EVENT_TYPE_INVALID, .message = "x" };
        assert_int_equal(eventlog_append(f->root_fd, &e1), -EINVAL);
        Event e0 = { .message = "a zeroed Event has no type" };
        assert_int_equal(eventlog_append(f->root_fd, &e0), -EINVAL);
        Event e2 = { .type = EVENT_INTERNAL_ERROR };
        assert_int_equal(eventlog_append(f->root_fd, &e2), -EINVAL);
        assert_int_equal(access(f->path, F_OK), -1);
}

static void test_evidence_caps(void **state) {
        Fixture *f = *state;
        Event e = { .type = EVENT_INTERNAL_ERROR, .message = "many" };
        char keys[20][16];
        for (int i = 0; i < 20; i++) {
                snprintf(keys[i], sizeof keys[i], "k%u", (unsigned) i & 31u);
                event_add(&e, keys[i], "v");
        }
        event_add(&e, "Bad Key", "v");   /* invalid key: dropped */
        event_add(&e, "k0", "replaced"); /* same key: replaced, not added */
        assert_int_equal(e.n_evidence, EVENT_EVIDENCE_MAX);
        assert_int_equal(e.n_dropped, 5);
        char big[4096];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        e.message = big;
        assert_int_equal(eventlog_append(f->root_fd, &e), 1);

        EventRecord *recs = NULL;
        size_t n = 0;
        assert_int_equal(eventlog_read(f->root_fd, &recs, &n), 0);
        assert_int_equal(n, 1);
        /* cut at the cap and marked */
        assert_int_equal(strlen(recs[0].message), EVENT_MESSAGE_MAX + 3);
        assert_string_equal(recs[0].message + EVENT_MESSAGE_MAX, "\xe2\x80\xa6");
        assert_string_equal(recs[0].evidence[1], "replaced");
        bool found = false;
        for (char **k = recs[0].evidence; k[0]; k += 2)
                if (strcmp(k[0], "eventlog_evidence_dropped") == 0) {
                        assert_string_equal(k[1], "5");
                        found = true;
                }
        assert_true(found);
        event_records_free(recs, n);
        expect_intact(f, 1);
}

/* The largest line a caller can cause (every field at its cap, every byte a
 * control character escaped as \u00XX) still fits a line. */
static void test_worst_case_line_fits(void **state) {
        Fixture *f = *state;
        static char ctl[4096];
        memset(ctl, '\x01', sizeof ctl - 1);
        Event e = { .type = EVENT_INTERNAL_ERROR, .component = ctl, .action = ctl, .message = ctl };
        static const char *const keys[EVENT_EVIDENCE_MAX] = {
                "k00_padding_to_the_maximum_key_length_of_48_b",
                "k01",
                "k02",
                "k03",
                "k04",
                "k05",
                "k06",
                "k07",
                "k08",
                "k09",
                "k10",
                "k11",
                "k12",
                "k13",
                "k14",
                "k15",
        };
        for (size_t i = 0; i < EVENT_EVIDENCE_MAX; i++)
                event_add(&e, keys[i], ctl);
        assert_int_equal(eventlog_append(f->root_fd, &e), 1);
        expect_intact(f, 1);
}

/* ---- tampering: each test fails if the check that catches it is removed ---- */

static void test_edited_line(void **state) {
        Fixture *f = *state;
        append_n(f, 4);
        Lines ls;
        lines_read(f, &ls);
        line_replace(&ls, 1, "event 2", "event X");
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 3:", "prev does not match", "line 2 was edited", NULL });
}

static void test_removed_line(void **state) {
        Fixture *f = *state;
        append_n(f, 4);
        Lines ls;
        lines_read(f, &ls);
        line_delete(&ls, 1);
        lines_write(f, &ls);
        /* caught by the seq check */
        expect_broken(f, (const char *[]) { "line 2:", "seq 3, expected 2", NULL });
}

static void test_removed_line_renumbered(void **state) {
        Fixture *f = *state;
        append_n(f, 4);
        Lines ls;
        lines_read(f, &ls);
        line_delete(&ls, 1);
        line_replace(&ls, 1, "{\"seq\":3,", "{\"seq\":2,");
        line_replace(&ls, 2, "{\"seq\":4,", "{\"seq\":3,");
        lines_write(f, &ls);
        /* seq is consistent again: only the hash chain sees it */
        expect_broken(f, (const char *[]) { "line 2:", "prev does not match the hash of line 1", NULL });
}

static void test_reordered_lines(void **state) {
        Fixture *f = *state;
        append_n(f, 4);
        Lines ls;
        lines_read(f, &ls);
        line_swap(&ls, 1, 2);
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 2:", "seq 3, expected 2", NULL });
}

static void test_reordered_lines_renumbered(void **state) {
        Fixture *f = *state;
        append_n(f, 4);
        Lines ls;
        lines_read(f, &ls);
        line_swap(&ls, 1, 2);
        line_replace(&ls, 1, "{\"seq\":3,", "{\"seq\":2,");
        line_replace(&ls, 2, "{\"seq\":2,", "{\"seq\":3,");
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 2:", "prev does not match", NULL });
}

static void test_inserted_line(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        Lines ls;
        lines_read(f, &ls);
        /* A forged line that chains correctly to line 1 and carries seq 2,
         * with the later lines renumbered: only line 3's prev gives it away. */
        char h[65], forged[512];
        sha256_hex_of(ls.l[0], h);
        snprintf(forged, sizeof forged,
                 "{\"seq\":2,\"time\":\"2026-01-01T00:00:00.000000Z\",\"boot_id\":null,\"type\":\"boot-confirmed\","
                 "\"component\":null,\"action\":null,\"message\":\"all good\",\"evidence\":{},\"prev\":\"%s\"}",
                 h);
        line_insert(&ls, 1, forged);
        line_replace(&ls, 2, "{\"seq\":2,", "{\"seq\":3,");
        line_replace(&ls, 3, "{\"seq\":3,", "{\"seq\":4,");
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 3:", "prev does not match the hash of line 2", NULL });
}

static void test_inserted_line_not_renumbered(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        Lines ls;
        lines_read(f, &ls);
        line_insert(&ls, 1, ls.l[1]); /* a duplicated line */
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 3:", "seq 2, expected 3", NULL });
}

static void test_changed_prev(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        Lines ls;
        lines_read(f, &ls);
        char *p = strstr(ls.l[1], "\"prev\":\"");
        assert_non_null(p);
        p += 8;
        *p = *p == 'a' ? 'b' : 'a';
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 2:", "prev does not match the hash of line 1", NULL });
}

static void test_first_lines_removed(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        Lines ls;
        lines_read(f, &ls);
        line_delete(&ls, 0);
        line_replace(&ls, 0, "{\"seq\":2,", "{\"seq\":1,");
        line_replace(&ls, 1, "{\"seq\":3,", "{\"seq\":2,");
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 1:", "not the start of a chain", NULL });
}

static void test_garbage_line(void **state) {
        Fixture *f = *state;
        append_n(f, 2);
        Lines ls;
        lines_read(f, &ls);
        line_replace(&ls, 1, "\"evidence\":{", "\"evidence\":{\"x\":1,");
        lines_write(f, &ls);
        expect_broken(f, (const char *[]) { "line 2:", "not a valid event line", NULL });
}

/* ---- power cuts ---- */

static void append_raw(const Fixture *f, const char *bytes, size_t len) {
        int fd = open(f->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, len), (ssize_t) len);
        close(fd);
}

static const char *evidence_get(const EventRecord *r, const char *key) {
        for (char **k = r->evidence; k && k[0]; k += 2)
                if (strcmp(k[0], key) == 0)
                        return k[1];
        return NULL;
}

static void test_torn_tail_repaired(void **state) {
        Fixture *f = *state;
        append_n(f, 2);
        const char torn[] = "{\"seq\":3,\"time\":\"2026-11-";
        append_raw(f, torn, strlen(torn));
        expect_broken(f, (const char *[]) { "line 3:", "incomplete", NULL });

        Event e = { .type = EVENT_BOOT_COUNTED, .message = "after the power cut" };
        assert_int_equal(eventlog_append(f->root_fd, &e), 3);
        expect_intact(f, 3);

        EventRecord *recs = NULL;
        size_t n = 0;
        assert_int_equal(eventlog_read(f->root_fd, &recs, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(recs[2].message, "after the power cut");
        const char *v = evidence_get(&recs[2], "eventlog_repaired_torn_bytes");
        assert_non_null(v);
        char want[16];
        snprintf(want, sizeof want, "%zu", strlen(torn));
        assert_string_equal(v, want);
        assert_non_null(evidence_get(&recs[2], "eventlog_repaired_torn_sha256"));
        event_records_free(recs, n);
}

static void test_torn_first_line(void **state) {
        Fixture *f = *state;
        char dir[400];
        snprintf(dir, sizeof dir, "%s%s", f->dir, EVENTLOG_DIR);
        int dfd = -1;
        assert_int_equal(root_open_dir(f->root_fd, EVENTLOG_DIR, true, 0755, &dfd), 0);
        close(dfd);
        unit_write(dir, EVENTLOG_NAME, "{\"seq\":1,\"ti");
        Event e = { .type = EVENT_BOOT_COUNTED, .message = "first" };
        assert_int_equal(eventlog_append(f->root_fd, &e), 1);
        expect_intact(f, 1);
}

static void test_corrupt_tail_rotates(void **state) {
        Fixture *f = *state;
        append_n(f, 2);
        append_raw(f, "this is not an event\n", 21);
        Event e = { .type = EVENT_STATE_CORRUPT, .message = "after corruption" };
        assert_int_equal(eventlog_append(f->root_fd, &e), 1);
        expect_intact(f, 1);

        EventRecord *recs = NULL;
        size_t n = 0;
        assert_int_equal(eventlog_read(f->root_fd, &recs, &n), 0);
        assert_int_equal(n, 1);
        const char *prev_log = evidence_get(&recs[0], "eventlog_previous_log");
        assert_non_null(prev_log);
        assert_true(strncmp(prev_log, EVENTLOG_NAME ".broken-", strlen(EVENTLOG_NAME ".broken-")) == 0);
        char p[700];
        snprintf(p, sizeof p, "%s%s/%s", f->dir, EVENTLOG_DIR, prev_log);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(st.st_size > 21); /* the old events are kept */
        event_records_free(recs, n);
}

/* ---- the head the state record carries ---- */

static EventLogHead head_now(const Fixture *f) {
        EventLogHead h;
        assert_int_equal(eventlog_head(f->root_fd, &h), 0);
        return h;
}

static int verify_head(const Fixture *f, const EventLogHead *h, char **ret_problem) {
        size_t lines = 0;
        *ret_problem = NULL;
        int r = eventlog_verify_head(f->root_fd, h, &lines, ret_problem);
        assert_true(r >= 0);
        return r;
}

static void expect_head_broken(const Fixture *f, const EventLogHead *h, const char *needle) {
        char *problem;
        assert_int_equal(verify_head(f, h, &problem), 1);
        if (!strstr(problem, needle))
                fail_msg("problem \"%s\" lacks \"%s\"", problem, needle);
        free(problem);
}

static void expect_head_intact(const Fixture *f, const EventLogHead *h) {
        char *problem;
        int r = verify_head(f, h, &problem);
        if (r != 0)
                fail_msg("verify_head: %s", problem);
}

static void test_head(void **state) {
        Fixture *f = *state;
        EventLogHead h = head_now(f);
        assert_true(h.seq == 0);
        assert_string_equal(h.hash, "");
        append_n(f, 3);
        h = head_now(f);
        assert_true(h.seq == 3);
        Lines ls;
        lines_read(f, &ls);
        char want[65];
        sha256_hex_of(ls.l[2], want);
        assert_string_equal(h.hash, want);
        lines_write(f, &ls);
        /* a torn tail is not the head; a garbage last line has none */
        append_raw(f, "{\"seq\":4", 8);
        h = head_now(f);
        assert_true(h.seq == 3);
        assert_string_equal(h.hash, want);
        append_raw(f, "garbage\n", 8);
        EventLogHead g;
        assert_int_equal(eventlog_head(f->root_fd, &g), -EBADMSG);
}

/* The log may grow past the head (events after the last state write);
 * without a head, only the chain is checked. */
static void test_head_prefix_is_fine(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        EventLogHead h = head_now(f);
        expect_head_intact(f, &h);
        append_n(f, 4);
        expect_head_intact(f, &h);
        EventLogHead none = {};
        expect_head_intact(f, &none);
        expect_head_intact(f, NULL);
}

/* The tail cut off: the chain is intact, the head is not there. */
static void test_head_truncation(void **state) {
        Fixture *f = *state;
        append_n(f, 5);
        EventLogHead h = head_now(f);
        Lines ls;
        lines_read(f, &ls);
        line_delete(&ls, 4);
        line_delete(&ls, 3);
        lines_write(f, &ls);
        expect_intact(f, 3); /* what the chain alone says */
        expect_head_broken(f, &h, "the log ends at seq 3, but the state record saw seq 5");
        /* the whole log deleted */
        unlink(f->path);
        expect_head_broken(f, &h, "the log is missing");
}

/* The last line edited: the chain cannot see it, the head can. */
static void test_head_last_line_edited(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        EventLogHead h = head_now(f);
        Lines ls;
        lines_read(f, &ls);
        line_replace(&ls, 2, "event 3", "event X");
        lines_write(f, &ls);
        expect_intact(f, 3);
        expect_head_broken(f, &h, "seq 3 is not the line the state record saw");
        /* edited, then more events chained to the edit: still caught */
        append_n(f, 2);
        expect_intact(f, 5);
        expect_head_broken(f, &h, "seq 3 is not the line");
}

/* A wholesale replacement with a freshly computed chain, as long or longer. */
static void test_head_replaced_chain(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        EventLogHead h = head_now(f);
        unlink(f->path);
        for (int i = 0; i < 4; i++) {
                Event e = { .type = EVENT_BOOT_CONFIRMED, .message = "all is well" };
                assert_true(eventlog_append(f->root_fd, &e) >= 1);
        }
        expect_intact(f, 4);
        expect_head_broken(f, &h, "freshly computed chain");
}

/* A garbage line sets the log aside and a new chain starts (seq 1): the
 * head is then found in the log set aside, and deleting that is caught. */
static void test_head_set_aside_log(void **state) {
        Fixture *f = *state;
        append_n(f, 3);
        EventLogHead h = head_now(f);
        append_raw(f, "this is not an event\n", 21);
        append_n(f, 5); /* seq 1..5 in the new chain: seq 3 exists there too */
        expect_intact(f, 5);
        expect_head_intact(f, &h);
        /* the new head, after the next state write, is intact as well */
        EventLogHead h2 = head_now(f);
        expect_head_intact(f, &h2);

        EventRecord *recs = read_records(f, 5);
        char p[700];
        snprintf(p, sizeof p, "%s%s/%s", f->dir, EVENTLOG_DIR, evidence_get(&recs[0], "eventlog_previous_log"));
        event_records_free(recs, 5);
        assert_int_equal(unlink(p), 0);
        expect_head_broken(f, &h, "is missing (deleted?)");
        expect_head_broken(f, &h2, "is missing (deleted?)");
        expect_intact(f, 5); /* the chain alone does not see it */
}

/* ---- the file itself ---- */

static void test_symlink_refused(void **state) {
        Fixture *f = *state;
        char dir[400], target[600];
        snprintf(dir, sizeof dir, "%s%s", f->dir, EVENTLOG_DIR);
        int dfd = -1;
        assert_int_equal(root_open_dir(f->root_fd, EVENTLOG_DIR, true, 0755, &dfd), 0);
        close(dfd);
        unit_write(f->dir, "victim", "precious\n");
        snprintf(target, sizeof target, "%s/victim", f->dir);
        assert_int_equal(symlink(target, f->path), 0);

        Event e = { .type = EVENT_BOOT_COUNTED, .message = "x" };
        assert_int_equal(eventlog_append(f->root_fd, &e), -ELOOP);
        size_t lines;
        char *problem = NULL;
        assert_int_equal(eventlog_verify(f->root_fd, &lines, &problem), -ELOOP);
        EventRecord *recs = NULL;
        size_t n;
        assert_int_equal(eventlog_read(f->root_fd, &recs, &n), -ELOOP);

        char buf[64] = "";
        FILE *fp = fopen(target, "re");
        assert_non_null(fp);
        assert_non_null(fgets(buf, sizeof buf, fp));
        fclose(fp);
        assert_string_equal(buf, "precious\n");
}

/* Two processes appending at once must not fork the chain (the flock). */
static void test_concurrent_appends(void **state) {
        Fixture *f = *state;
        pid_t pids[2];
        for (int k = 0; k < 2; k++) {
                pids[k] = fork();
                assert_true(pids[k] >= 0);
                if (pids[k] == 0) {
                        for (int i = 0; i < 40; i++) {
                                Event e = { .type = EVENT_BOOT_COUNTED, .message = k ? "child b" : "child a" };
                                if (eventlog_append(f->root_fd, &e) < 0)
                                        _exit(1);
                        }
                        _exit(0);
                }
        }
        for (int k = 0; k < 2; k++) {
                int status;
                assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        expect_intact(f, 80);
}

/* The one table: every type has a unique stable name and a unique 32-hex
 * MESSAGE_ID, and names map back to their type. */
static void test_type_table_complete(void **unused) {
        for (EventType t = _EVENT_TYPE_UNSET + 1; t < _EVENT_TYPE_MAX; t++) {
                const char *name = event_type_to_string(t), *id = event_type_message_id(t);
                assert_non_null(name);
                assert_non_null(id);
                assert_int_equal(strlen(id), 32);
                assert_int_equal(strspn(id, "0123456789abcdef"), 32);
                assert_int_equal(event_type_from_string(name), t);
                int prio = event_type_priority(t);
                assert_true(prio >= 3 && prio <= 7);
                for (EventType u = _EVENT_TYPE_UNSET + 1; u < t; u++) {
                        assert_string_not_equal(event_type_to_string(u), name);
                        assert_string_not_equal(event_type_message_id(u), id);
                }
        }
        assert_null(event_type_to_string(_EVENT_TYPE_UNSET));
        assert_null(event_type_to_string(_EVENT_TYPE_MAX));
        assert_null(event_type_message_id(_EVENT_TYPE_INVALID));
        assert_int_equal(event_type_from_string("made-up"), _EVENT_TYPE_INVALID);
        assert_int_equal(event_type_from_string(NULL), _EVENT_TYPE_INVALID);
        /* The type whose append used to fail with EINVAL. */
        assert_int_equal(event_type_from_string("ladder-exhausted"), EVENT_LADDER_EXHAUSTED);
}

/* Every type can be written, and reads back as itself. */
static void test_every_type_appends(void **state) {
        Fixture *f = *state;
        size_t n = 0;
        for (EventType t = _EVENT_TYPE_UNSET + 1; t < _EVENT_TYPE_MAX; t++, n++) {
                Event e = { .type = t, .message = "m" };
                assert_int_equal(eventlog_append(f->root_fd, &e), (int) n + 1);
        }
        expect_intact(f, n);
        EventRecord *recs = read_records(f, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(recs[i].type, (EventType) (i + 1));
                assert_string_equal(recs[i].type_name, event_type_to_string(recs[i].type));
        }
        event_records_free(recs, n);
}

/* A type this version does not know (a newer lastgood wrote it) reads back
 * as invalid but keeps its name, verifies, and is chained to. */
static void test_unknown_type_from_a_newer_version(void **state) {
        Fixture *f = *state;
        append_n(f, 1);
        Lines ls;
        lines_read(f, &ls);
        line_replace(&ls, 0, "\"type\":\"boot-counted\"", "\"type\":\"from-the-future\"");
        lines_write(f, &ls);
        expect_intact(f, 1);
        Event e = { .type = EVENT_BOOT_COUNTED, .message = "after" };
        assert_int_equal(eventlog_append(f->root_fd, &e), 2);
        expect_intact(f, 2);
        EventRecord *recs = read_records(f, 2);
        assert_true(recs[0].valid);
        assert_int_equal(recs[0].type, _EVENT_TYPE_INVALID);
        assert_string_equal(recs[0].type_name, "from-the-future");
        assert_null(event_type_message_id(recs[0].type));
        assert_int_equal(recs[1].type, EVENT_BOOT_COUNTED);
        event_records_free(recs, 2);
}

static void test_parse_line_strict(void **state) {
        const char *good =
                "{\"seq\":7,\"time\":\"t\",\"boot_id\":null,\"type\":\"boot-counted\",\"component\":\"a\","
                "\"action\":null,\"message\":\"m \\u00e9 \\ud83d\\ude00\",\"evidence\":{\"k\":\"v\"},"
                "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}";
        EventRecord r;
        assert_int_equal(eventlog_parse_line(good, strlen(good), &r), 0);
        assert_int_equal(r.seq, 7);
        assert_int_equal(r.type, EVENT_BOOT_COUNTED);
        assert_string_equal(r.message, "m \xc3\xa9 \xf0\x9f\x98\x80");
        event_record_done(&r);

        static const struct {
                const char *from, *to;
        } bad[] = {
                { "\"seq\":7", "\"seq\":07" },                         /* leading zero */
                { "\"seq\":7", "\"seq\":-7" },                         /* sign */
                { "\"seq\":7", "\"seq\":99999999999999999999999" },    /* overflow */
                { "\"time\":\"t\"", "\"time\":\"t\",\"time\":\"u\"" }, /* duplicate */
                { "\"time\":\"t\"", "\"when\":\"t\"" },                /* unknown / missing */
                { "\"time\":\"t\"", "\"time\":\"a\\u0000b\"" },        /* NUL */
                { "\"time\":\"t\"", "\"time\":\"a\tb\"" },             /* raw control */
                { "\"time\":\"t\"", "\"time\":\"\\ud800\"" },          /* lone surrogate */
                { "\"time\":\"t\"", "\"time\":\"\\udc00\"" },          /* lone low surrogate */
                { "\"action\":null,", "" },                            /* missing key */
                { "\"time\":\"t\"", "\"time\":\"\\x\"" },              /* bad escape */
                { "\"k\":\"v\"", "\"k\":\"v\",\"k\":\"w\"" },          /* duplicate evidence */
                { "\"k\":\"v\"", "\"k\":1" },                          /* non-string evidence */
                { "\"prev\":\"0", "\"prev\":\"A" },                    /* upper-case hex */
                { "\"prev\":\"0", "\"prev\":\"" },                     /* short hash */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *s = replace(good, bad[i].from, bad[i].to);
                if (eventlog_parse_line(s, strlen(s), &r) != -EBADMSG)
                        fail_msg("accepted: %s", s);
                free(s);
        }
        /* trailing bytes, and a line cut short */
        char *s = malloc(strlen(good) + 3);
        assert_non_null(s);
        sprintf(s, "%s x", good);
        assert_int_equal(eventlog_parse_line(s, strlen(s), &r), -EBADMSG);
        assert_int_equal(eventlog_parse_line(good, strlen(good) - 1, &r), -EBADMSG);
        free(s);
}

static void test_tail_analyze(void **state) {
        EventLogTail t;
        eventlog_tail_analyze("a\nb\n", 4, true, &t);
        assert_int_equal(t.torn_bytes, 0);
        assert_int_equal(t.last_len, 1);
        assert_memory_equal(t.last_line, "b", 1);
        eventlog_tail_analyze("a\nb\npart", 8, true, &t);
        assert_int_equal(t.torn_bytes, 4);
        assert_memory_equal(t.last_line, "b", 1);
        eventlog_tail_analyze("xyz\n", 4, false, &t); /* the line may start earlier */
        assert_true(t.need_more);
        eventlog_tail_analyze("xyz", 3, false, &t);
        assert_true(t.need_more);
        eventlog_tail_analyze("only", 4, true, &t);
        assert_int_equal(t.torn_bytes, 4);
        assert_null(t.last_line);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_append_refuses_bad_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_evidence_caps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_worst_case_line_fits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_edited_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_removed_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_removed_line_renumbered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reordered_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reordered_lines_renumbered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_inserted_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_inserted_line_not_renumbered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changed_prev, setup, teardown),
                cmocka_unit_test_setup_teardown(test_first_lines_removed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_torn_tail_repaired, setup, teardown),
                cmocka_unit_test_setup_teardown(test_torn_first_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_tail_rotates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_head, setup, teardown),
                cmocka_unit_test_setup_teardown(test_head_prefix_is_fine, setup, teardown),
                cmocka_unit_test_setup_teardown(test_head_truncation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_head_last_line_edited, setup, teardown),
                cmocka_unit_test_setup_teardown(test_head_replaced_chain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_head_set_aside_log, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
                cmocka_unit_test(test_type_table_complete),
                cmocka_unit_test_setup_teardown(test_every_type_appends, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_type_from_a_newer_version, setup, teardown),
                cmocka_unit_test(test_parse_line_strict),
                cmocka_unit_test(test_tail_analyze),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
