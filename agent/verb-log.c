/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood log [--json]    the event log, oldest first
 * lastgood log verify      check its hash chain, and that it still holds the
 *                          head the (authenticated) state record saw
 *
 * Exit status: 0 shown / intact; 1 the log could not be read, or verify found
 * it broken (the problem and its line number on stderr); 2 usage.
 */

#include "agent/context.h"
#include "agent/eventlog.h"
#include "lib/json.h"
#include "agent/journal.h"
#include "agent/state-store.h"
#include "lib/log.h"

/* Text from the log goes to a terminal: control characters (an ESC sequence
 * planted in a message) are shown as '?', never interpreted. */
static void print_clean(const char *s, int width) {
        int n = 0;
        for (const unsigned char *p = (const unsigned char *) (s ?: "-"); *p; p++, n++)
                putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
        for (; n < width; n++)
                putchar(' ');
}

static void show_json(const EventRecord *recs, size_t n) {
        JsonWriter w;
        json_init(&w, stdout);
        json_array_begin(&w);
        for (size_t i = 0; i < n; i++) {
                const EventRecord *e = &recs[i];
                json_object_begin(&w);
                json_kv_u64(&w, "line", e->line);
                json_kv_bool(&w, "valid", e->valid);
                if (e->valid) {
                        json_kv_u64(&w, "seq", e->seq);
                        json_kv_string(&w, "time", e->time);
                        json_kv_string(&w, "boot_id", e->boot_id);
                        json_kv_string(&w, "type", e->type_name);
                        json_kv_string(&w, "message_id", event_type_message_id(e->type));
                        json_kv_string(&w, "component", e->component);
                        json_kv_string(&w, "action", e->action);
                        json_kv_string(&w, "message", e->message);
                        json_key(&w, "evidence");
                        json_object_begin(&w);
                        for (char **k = e->evidence; k && k[0] && k[1]; k += 2)
                                json_kv_string(&w, k[0], k[1]);
                        json_object_end(&w);
                        json_kv_string(&w, "prev", e->prev);
                }
                json_object_end(&w);
        }
        json_array_end(&w);
        putchar('\n');
}

static void show_table(const EventRecord *recs, size_t n, bool verbose) {
        if (n == 0) {
                printf("No events.\n");
                return;
        }
        printf("%-5s %-19s %-23s %-14s %-16s %s\n", "SEQ", "TIME (UTC)", "TYPE", "COMPONENT", "ACTION", "MESSAGE");
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
                const EventRecord *e = &recs[i];
                if (!e->valid) {
                        printf("%-5s (line %zu is not a valid event line)\n", "?", e->line);
                        bad++;
                        continue;
                }
                char when[20] = "";
                snprintf(when, sizeof when, "%s", e->time ?: "");
                if (strlen(when) > 10 && when[10] == 'T')
                        when[10] = ' ';
                printf("%-5llu ", (unsigned long long) e->seq);
                print_clean(when, 19);
                putchar(' ');
                print_clean(e->type_name, 23);
                putchar(' ');
                print_clean(e->component, 14);
                putchar(' ');
                print_clean(e->action, 16);
                putchar(' ');
                print_clean(e->message, 0);
                putchar('\n');
                if (verbose)
                        for (char **k = e->evidence; k && k[0] && k[1]; k += 2) {
                                printf("      ");
                                print_clean(k[0], 0);
                                putchar('=');
                                print_clean(k[1], 0);
                                putchar('\n');
                        }
        }
        if (bad > 0)
                log_warning("%zu line(s) of the event log are not valid events; see 'lastgood log verify'.", bad);
}

static int log_show(Context *ctx) {
        EventRecord *recs = NULL;
        size_t n = 0;
        int r = eventlog_read(ctx->root_fd, &recs, &n);
        if (r < 0) {
                log_error_errno(r, "Failed to read the event log %s/%s: %m", EVENTLOG_DIR, EVENTLOG_NAME);
                return EXIT_FAIL;
        }
        if (ctx->json)
                show_json(recs, n);
        else
                show_table(recs, n, ctx->verbose > 0);
        event_records_free(recs, n);
        return EXIT_OK;
}

/* The head the last state write saw: only from a record that authenticates
 * (anyone can write an unsigned one). Empty when there is none. */
static void log_anchor(Context *ctx, EventLogHead *ret, bool *ret_anchored) {
        _cleanup_(state_stores_done) StateStores stores = {};
        BootState st = {};
        Policy *p;
        *ret = (EventLogHead) {};
        *ret_anchored = false;
        if (context_state(ctx, &p, &stores, &st) <= 0 || stores.unauthenticated || st.log_head_seq == 0) {
                log_notice("No authenticated state record with the event log's head: checking the chain only.");
                return;
        }
        *ret = (EventLogHead) { .seq = st.log_head_seq };
        state_set_str(ret->hash, st.log_head_hash);
        *ret_anchored = true;
}

static int log_verify(Context *ctx) {
        size_t lines = 0;
        _cleanup_free_ char *problem = NULL;
        EventLogHead head;
        bool anchored;
        log_anchor(ctx, &head, &anchored);
        int r = eventlog_verify_head(ctx->root_fd, &head, &lines, &problem);
        if (r < 0) {
                log_error_errno(r, "Failed to read the event log %s/%s: %m", EVENTLOG_DIR, EVENTLOG_NAME);
                return EXIT_FAIL;
        }
        if (ctx->json) {
                JsonWriter w;
                json_init(&w, stdout);
                json_object_begin(&w);
                json_kv_bool(&w, "intact", r == 0);
                json_kv_u64(&w, "lines", lines);
                json_kv_bool(&w, "anchored", anchored);
                json_kv_string(&w, "problem", problem);
                json_object_end(&w);
                putchar('\n');
        }
        if (r > 0) {
                log_error("Event log %s/%s is not intact: %s", EVENTLOG_DIR, EVENTLOG_NAME, problem);
                return EXIT_FAIL;
        }
        if (!ctx->json)
                printf("Event log intact: %zu event%s.\n", lines, lines == 1 ? "" : "s");
        return EXIT_OK;
}

/* `log forward`: events not yet in the journal go there (see journal.h). */
static int log_forward(Context *ctx) {
        const char *sock = JOURNAL_SOCKET;
#ifdef LASTGOOD_FAULT_INJECTION
        /* Test builds: a socket the test listens on instead of journald's. */
        if (getenv("LASTGOOD_JOURNAL_SOCKET"))
                sock = getenv("LASTGOOD_JOURNAL_SOCKET");
#endif
        int r = journal_forward(ctx->root_fd, sock);
        if (r < 0)
                return log_error_errno(r, "Failed to forward the event log to the journal (%s): %m", sock);
        printf("%d event%s forwarded to the journal.\n", r, r == 1 ? "" : "s");
        return EXIT_OK;
}

int verb_log(Context *ctx, int argc, char **argv) {
        if (argc == 2 && streq(argv[1], "forward"))
                return log_forward(ctx);
        if (argc > 2 || (argc == 2 && !streq(argv[1], "verify"))) {
                log_error("lastgood log: unknown argument '%s' (usage: lastgood log [--json] [verify|forward]).",
                          argv[1]);
                return EXIT_USAGE;
        }
        return argc == 2 ? log_verify(ctx) : log_show(ctx);
}
