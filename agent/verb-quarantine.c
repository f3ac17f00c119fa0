/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `lastgood quarantine list [--json]` and `lastgood quarantine release COMPONENT`.
 *
 * Exit status: 0 ok; 1 failure, including "COMPONENT is not quarantined"
 * (the request is well formed, the machine's state is not what it assumes)
 * and a release refused because something new sits where lastgood would put
 * files back; 2 usage: unknown subcommand, missing argument, or a name that
 * cannot be a component.
 *
 * Release needs no policy: the registry records everything, so a component
 * since removed from the policy can still be released.
 */

#include <time.h>

#include "agent/audit.h"
#include "agent/context.h"
#include "agent/eventlog.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/names.h"
#include "recovery/quarantine.h"

static void format_time(char buf[static 32], uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, 32, "?");
}

static void list_json(const QuarantineEntry *l, size_t n) {
        JsonWriter w;
        json_init(&w, stdout);
        json_object_begin(&w);
        json_key(&w, "quarantined");
        json_array_begin(&w);
        for (size_t i = 0; i < n; i++) {
                char when[32];
                format_time(when, l[i].since_usec);
                json_object_begin(&w);
                json_kv_string(&w, "component", l[i].component);
                json_kv_u64(&w, "incident", l[i].incident);
                json_kv_string(&w, "state", quarantine_state_to_string(l[i].state));
                json_kv_string(&w, "since", when);
                json_kv_u64(&w, "since_usec", l[i].since_usec);
                json_kv_string(&w, "reason", l[i].reason);
                json_kv_strv(&w, "kernel_modules", l[i].kernel_modules);
                json_kv_strv(&w, "units", l[i].units);
                json_key(&w, "content");
                json_array_begin(&w);
                for (size_t j = 0; l[i].content && l[i].content[j]; j++) {
                        json_object_begin(&w);
                        json_kv_string(&w, "path", l[i].content[j]);
                        json_kv_string(&w, "kept_at", l[i].content_stash[j]);
                        json_object_end(&w);
                }
                json_array_end(&w);
                json_object_end(&w);
        }
        json_array_end(&w);
        json_object_end(&w);
        fputc('\n', stdout);
}

static void print_strv(const char *label, char *const *l) {
        if (!l || !*l)
                return;
        printf("  %-8s", label);
        for (; *l; l++)
                printf(" %s", *l);
        putchar('\n');
}

static void list_human(const QuarantineEntry *l, size_t n) {
        if (n == 0) {
                printf("No component is quarantined.\n");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                char when[32];
                format_time(when, l[i].since_usec);
                printf("%s: quarantined since %s (incident %u)%s%s\n", l[i].component, when,
                       (unsigned) l[i].incident, l[i].state == QUARANTINE_STATE_ACTIVE ? "" : ", ",
                       l[i].state == QUARANTINE_STATE_ACTIVE ? "" : quarantine_state_to_string(l[i].state));
                if (l[i].reason && *l[i].reason)
                        printf("  reason:   %s\n", l[i].reason);
                print_strv("modules:", l[i].kernel_modules);
                print_strv("units:", l[i].units);
                for (size_t j = 0; l[i].content && l[i].content[j]; j++)
                        printf("  content:  %s (kept at %s)\n", l[i].content[j], l[i].content_stash[j]);
        }
        printf("Undo with: lastgood quarantine release COMPONENT\n");
}

static int verb_list(Context *ctx) {
        QuarantineEntry *l = NULL;
        size_t n = 0;
        int r = quarantine_list(ctx->root_fd, &l, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read the quarantine registry: %m");
        if (ctx->json)
                list_json(l, n);
        else
                list_human(l, n);
        quarantine_list_free(l, n);
        return EXIT_OK;
}

static void record_release(Context *ctx, const QuarantineEntry *e) {
        Event ev = {
                .type = EVENT_QUARANTINE_RELEASE,
                .component = e->component,
                .action = "release",
        };
        event_addf(&ev, "incident", "%u", (unsigned) e->incident);
        event_add(&ev, "reason", e->reason);
        event_addf(&ev, "kernel_modules", "%zu", strv_length(e->kernel_modules));
        event_addf(&ev, "units", "%zu", strv_length(e->units));
        event_addf(&ev, "content_paths", "%zu", strv_length(e->content));
        char msg[300];
        snprintf(msg, sizeof msg, "released from quarantine by %s", audit_event_add(&ev));
        ev.message = msg;
        int r = eventlog_append(ctx->root_fd, &ev);
        if (r < 0)
                log_warning_errno(r, "Failed to record the release in the event log, ignoring: %m");
}

static int verb_release(Context *ctx, const char *component) {
        if (!name_is_component(component)) {
                log_error("'%s' is not a valid component name.", component);
                return EXIT_USAGE;
        }
        /* What is being undone, for the event log. */
        QuarantineEntry *l = NULL;
        size_t n = 0;
        int r = quarantine_list(ctx->root_fd, &l, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read the quarantine registry: %m");
        QuarantineEntry *e = NULL;
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].component, component))
                        e = &l[i];

        r = quarantine_release(ctx->root_fd, component);
        if (r == -ENOENT) {
                log_error("%s is not quarantined.", component);
                r = EXIT_FAIL;
        } else if (r == -EEXIST) {
                log_error("Cannot release %s: a content path or unit file now exists where lastgood would put the "
                          "original back. Nothing was changed. Move it away (see `lastgood quarantine list`) "
                          "and retry.",
                          component);
                r = EXIT_FAIL;
        } else if (r < 0) {
                log_error_errno(r, "Failed to release %s: %m", component);
                r = EXIT_FAIL;
        } else {
                if (e)
                        record_release(ctx, e);
                if (ctx->json) {
                        JsonWriter w;
                        json_init(&w, stdout);
                        json_object_begin(&w);
                        json_kv_string(&w, "released", component);
                        json_object_end(&w);
                        putchar('\n');
                } else
                        printf("Released %s: its modules, units and content are back as they were.\n", component);
                r = EXIT_OK;
        }
        quarantine_list_free(l, n);
        return r;
}

#ifdef LASTGOOD_FAULT_INJECTION
/* Test builds only: the ladder applies quarantines at boot; this lets the
 * integration tests reach quarantine_apply() through the binary.
 * LASTGOOD_TEST_INCIDENT sets the incident number (default 1). */
static int verb_apply_for_tests(Context *ctx, const char *component) {
        Policy *p;
        int r = context_policy(ctx, &p);
        if (r < 0)
                return r;
        const Component *c = policy_find_component(p, component);
        if (!c) {
                log_error("Unknown component '%s'.", component);
                return EXIT_USAGE;
        }
        uint32_t incident = 1;
        const char *s = getenv("LASTGOOD_TEST_INCIDENT");
        if (s && parse_u32_range(s, 0, UINT32_MAX, &incident) < 0)
                return log_error_errno(-EINVAL, "Bad LASTGOOD_TEST_INCIDENT '%s'.", s);
        QuarantineResult res = {};
        r = quarantine_apply(ctx->root_fd, c, incident, "applied by hand (test build)", &res);
        if (r == -EPERM) {
                log_error("%s has quarantine: never and is never disabled.", component);
                return EXIT_FAIL;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to quarantine %s: %m", component);
        printf("Quarantined %s: %u modules, %u units, %u content paths (%u absent)%s.\n", component,
               res.n_modules, res.n_units, res.n_content, res.n_content_absent, res.copied ? ", copied" : "");
        if (res.unmatched_unit_globs[0])
                printf("units %s matched no installed unit.\n", res.unmatched_unit_globs);
        return EXIT_OK;
}
#endif

int verb_quarantine(Context *ctx, int argc, char **argv) {
        const char *sub = argc > 1 ? argv[1] : "";
        if (streq(sub, "list") && argc == 2)
                return verb_list(ctx);
        if (streq(sub, "release") && argc == 3 && argv[2][0] == '-')
                return context_usage_error(ctx, "release: unknown option '%s'", argv[2]);
        if (streq(sub, "release") && argc == 3)
                return verb_release(ctx, argv[2]);
#ifdef LASTGOOD_FAULT_INJECTION
        if (streq(sub, "apply") && argc == 3)
                return verb_apply_for_tests(ctx, argv[2]);
#endif
        if (streq(sub, "release"))
                return context_usage_error(ctx, "release: give exactly one COMPONENT");
        if (streq(sub, "list"))
                return context_usage_error(ctx, "list: takes no arguments (but --json)");
        return context_usage_error(ctx, "unknown subcommand '%s'", sub);
}
