/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood log [-n N] [--since TIME] [--component NAME] [--type TYPE[,TYPE…]] [--json]
 *                          the event log, oldest first; filters combine (AND),
 *                          -n takes the last N of what the others let through
 * lastgood log verify      check its hash chain, and that it still holds the
 *                          head the (authenticated) state record saw; always
 *                          the whole chain (filters are refused with it)
 * lastgood log forward     events not yet in the journal go there
 *
 * Exit status: 0 shown / intact; 1 the log could not be read, or verify found
 * it broken (the problem and its line number on stderr); 2 usage.
 */

#include <getopt.h>

#include "agent/context.h"
#include "agent/eventlog.h"
#include "lib/json.h"
#include "agent/journal.h"
#include "agent/state-store.h"
#include "lib/log.h"
#include "lib/names.h"

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
        for (size_t i = 0; i < n; i++) {
                const EventRecord *e = &recs[i];
                if (!e->valid) {
                        printf("%-5s (line %zu is not a valid event line)\n", "?", e->line);
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
}

/* What `log` shows: every filter given must match. Lines that are not
 * valid events match no filter (the warning about them still counts all). */
typedef struct LogFilter {
        uint32_t lines; /* -n: the last N matching events */
        bool have_lines;
        uint64_t since_usec;
        bool have_since;
        const char *component;
        uint64_t types; /* bit per EventType; 0: any */
} LogFilter;
_Static_assert(_EVENT_TYPE_MAX <= 64, "LogFilter.types needs a bit per event type");

static bool log_filter_active(const LogFilter *f) {
        return f->have_lines || f->have_since || f->component || f->types;
}

static bool log_filter_match(const LogFilter *f, const EventRecord *e) {
        if (!e->valid)
                return !f->have_since && !f->component && !f->types;
        if (f->have_since) {
                uint64_t t;
                if (!e->time || parse_utc_time(e->time, &t) < 0 || t < f->since_usec)
                        return false;
        }
        if (f->component && (!e->component || !streq(e->component, f->component)))
                return false;
        if (f->types && (e->type <= _EVENT_TYPE_UNSET || e->type >= _EVENT_TYPE_MAX ||
                         !(f->types & (UINT64_C(1) << e->type))))
                return false;
        return true;
}

static int log_show(Context *ctx, const LogFilter *f) {
        EventRecord *recs = NULL;
        size_t n = 0;
        int r = eventlog_read(ctx->root_fd, &recs, &n);
        if (r < 0) {
                log_error_errno(r, "Failed to read the event log %s/%s: %m", EVENTLOG_DIR, EVENTLOG_NAME);
                return EXIT_FAIL;
        }
        /* Filter in place: the records that match move to the front, in
         * order (all are freed at the end), then -n keeps the last N. */
        size_t m = 0, bad = 0;
        for (size_t i = 0; i < n; i++) {
                bad += !recs[i].valid;
                if (log_filter_match(f, &recs[i])) {
                        EventRecord tmp = recs[m];
                        recs[m++] = recs[i];
                        recs[i] = tmp;
                }
        }
        size_t skip = f->have_lines && m > f->lines ? m - f->lines : 0;
        /* An empty log has no array at all: no offset into it either. */
        EventRecord *shown = recs ? recs + skip : NULL;
        if (ctx->json)
                show_json(shown, m - skip);
        else if (m - skip == 0 && log_filter_active(f))
                printf("No matching events.\n");
        else
                show_table(shown, m - skip, ctx->verbose > 0);
        if (bad > 0)
                log_warning("%zu line(s) of the event log are not valid events; see 'lastgood log verify'.", bad);
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
        if (ctx->json) {
                JsonWriter w;
                json_init(&w, stdout);
                json_object_begin(&w);
                json_kv_u64(&w, "forwarded", (uint64_t) r);
                json_object_end(&w);
                putchar('\n');
        } else
                printf("%d event%s forwarded to the journal.\n", r, r == 1 ? "" : "s");
        return EXIT_OK;
}

/* --type TYPE[,TYPE…] into F->types; an unknown name is a usage error
 * that lists the valid ones. */
static int parse_types(Context *ctx, const char *arg, LogFilter *f) {
        _cleanup_free_ char *copy = strdup(arg);
        if (!copy)
                return log_error_errno(-ENOMEM, "Out of memory");
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                EventType type = event_type_from_string(t);
                if (type > _EVENT_TYPE_UNSET && type < _EVENT_TYPE_MAX) {
                        f->types |= UINT64_C(1) << type;
                        continue;
                }
                char valid[2048] = "";
                size_t len = 0;
                for (EventType k = _EVENT_TYPE_UNSET + 1; k < _EVENT_TYPE_MAX && len < sizeof valid; k++)
                        len += (size_t) snprintf(valid + len, sizeof valid - len, "%s%s", len ? ", " : "",
                                                 event_type_to_string(k));
                return context_usage_error(ctx, "unknown event type '%s' (valid: %s)", t, valid);
        }
        if (!f->types)
                return context_usage_error(ctx, "--type needs at least one event type");
        return 0;
}

/* --since: an ISO 8601 UTC time (lib/util.h: parse_utc_time), or a duration
 * before now ("-2h", "1d", "30min"). */
static int parse_since(Context *ctx, const char *arg, LogFilter *f) {
        uint64_t usec, ago;
        if (parse_utc_time(arg, &usec) >= 0) {
                f->since_usec = usec;
                f->have_since = true;
                return 0;
        }
        if (parse_duration(arg[0] == '-' ? arg + 1 : arg, &ago) < 0)
                return context_usage_error(ctx,
                                           "--since takes YYYY-MM-DD[THH:MM[:SS]][Z] (UTC) or a duration "
                                           "before now such as -2h or 1d, not '%s'",
                                           arg);
        uint64_t now = now_realtime_usec();
        f->since_usec = now > ago ? now - ago : 0;
        f->have_since = true;
        return 0;
}

int verb_log(Context *ctx, int argc, char **argv) {
        enum { ARG_SINCE = 0x100, ARG_COMPONENT, ARG_TYPE };
        static const struct option options[] = {
                { "lines", required_argument, NULL, 'n' },
                { "since", required_argument, NULL, ARG_SINCE },
                { "component", required_argument, NULL, ARG_COMPONENT },
                { "type", required_argument, NULL, ARG_TYPE },
                {},
        };
        LogFilter f = {};
        int c, r;
        opterr = 0; /* the message is ours, followed by the synopsis */
        while ((c = getopt_long(argc, argv, "n:", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        if (parse_u32_range(optarg, 0, UINT32_MAX, &f.lines) < 0)
                                return context_usage_error(ctx, "-n takes a number of events, not '%s'", optarg);
                        f.have_lines = true;
                        break;
                case ARG_SINCE:
                        if ((r = parse_since(ctx, optarg, &f)) != 0)
                                return r;
                        break;
                case ARG_COMPONENT:
                        if (!name_is_component(optarg))
                                return context_usage_error(ctx, "'%s' is not a valid component name", optarg);
                        f.component = optarg;
                        break;
                case ARG_TYPE:
                        if ((r = parse_types(ctx, optarg, &f)) != 0)
                                return r;
                        break;
                default:
                        return context_usage_error(ctx, "unknown option, or an option without its value: '%s'",
                                                   argv[optind - 1]);
                }
        }
        const char *sub = optind < argc ? argv[optind] : NULL;
        if (optind + 1 < argc)
                return context_usage_error(ctx, "too many arguments");
        if (sub && !streq(sub, "verify") && !streq(sub, "forward"))
                return context_usage_error(ctx, "unknown argument '%s'", sub);
        /* verify always checks the whole chain: a filtered verify would be a
         * false "intact". */
        if (sub && log_filter_active(&f))
                return context_usage_error(ctx,
                                           "-n, --since, --component and --type only filter what is shown, "
                                           "not '%s'",
                                           sub);
        if (!sub)
                return log_show(ctx, &f);
        return streq(sub, "verify") ? log_verify(ctx) : log_forward(ctx);
}
