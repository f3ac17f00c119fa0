/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `lastgood status [--json]` — everything an admin or a fleet tool needs:
 * backend, count, threshold, this boot's mode, last action, policy errors,
 * the components' snapshots and quarantine. Read-only: never writes.
 * The JSON form is versioned (schema_version; docs/status.schema.json).
 */

#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "agent/context.h"
#include "agent/eventlog.h"
#include "lib/json.h"
#include "lib/log.h"
#include "agent/status.h"

static void iso_time(uint64_t usec, char buf[static 32]) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The newest evidence the boot flow recorded for each component
 * (evidence.NAME in the events of failed boots), NULL where none. On a
 * read error *ret is still valid (all NULL). */
typedef struct LastEvidence {
        EventRecord *records;
        size_t n;
        const char **words; /* per component */
        const char **time;
        /* The newest recovery or no-suspect event since the last confirmed
         * boot's: what the open incident did, or why it touched nothing. */
        const char *incident_reason;
        const char *incident_reason_type;
} LastEvidence;

static void last_evidence_done(LastEvidence *l) {
        event_records_free(l->records, l->n);
        free(l->words);
        free(l->time);
}

static int last_evidence_collect(int root_fd, const StatusData *s, LastEvidence *ret) {
        LastEvidence l = {};
        l.words = calloc(s->n_components + 1, sizeof(char *));
        l.time = calloc(s->n_components + 1, sizeof(char *));
        if (!l.words || !l.time) {
                last_evidence_done(&l);
                *ret = (LastEvidence) {};
                return -ENOMEM;
        }
        int r = eventlog_read(root_fd, &l.records, &l.n);
        if (r < 0) {
                /* No evidence to show; the status still is (*ret valid). */
                *ret = l;
                return r == -ENOENT ? 0 : r;
        }
        for (size_t k = l.n; k > 0; k--) {
                const EventRecord *e = &l.records[k - 1];
                if (!e->valid)
                        continue;
                if (e->type == EVENT_BOOT_CONFIRMED)
                        break; /* an earlier incident, ended */
                if (e->type == EVENT_NO_SUSPECT || e->type == EVENT_RECOVERY_RESTORE ||
                    e->type == EVENT_RECOVERY_QUARANTINE || e->type == EVENT_RECOVERY_SAFE_MODE ||
                    e->type == EVENT_LADDER_EXHAUSTED) {
                        l.incident_reason = e->message;
                        l.incident_reason_type = e->type_name;
                        break;
                }
        }
        for (size_t i = 0; i < s->n_components; i++) {
                char key[EVENT_KEY_MAX + 1];
                snprintf(key, sizeof key, "evidence.%s", s->components[i].name);
                for (size_t k = l.n; k > 0 && !l.words[i]; k--) {
                        const EventRecord *e = &l.records[k - 1];
                        for (char **kv = e->valid ? e->evidence : NULL; kv && kv[0] && kv[1]; kv += 2)
                                if (streq(kv[0], key)) {
                                        l.words[i] = kv[1];
                                        l.time[i] = e->time;
                                        break;
                                }
                }
        }
        *ret = l;
        return 0;
}

/* A crash loop is an open incident once recovery is due, whether or not
 * any step could be taken (no suspect, require_suspect): "normal" with
 * "incident 0" after four failed boots hid it. */
static bool incident_open(const StatusData *s) {
        return s->st.failed_boots > 0 && (s->st.ladder_step > 0 || s->st.failed_boots >= s->threshold);
}

/* Why the open incident is where it is, in words (BUF when synthesised). */
static const char *incident_reason(const StatusData *s, const LastEvidence *le, char *buf, size_t size) {
        if (!incident_open(s))
                return NULL;
        if (le->incident_reason)
                return le->incident_reason;
        snprintf(buf, size, "%u failed boots in a row (recovery is due at %u) and no recovery step recorded",
                 s->st.failed_boots, s->threshold);
        return buf;
}

static void print_json(const StatusData *s, const LastEvidence *le) {
        JsonWriter w;
        char tb[32];
        json_init(&w, stdout);
        json_object_begin(&w);
        json_kv_u64(&w, "schema_version", 1);
        json_kv_string(&w, "version", LASTGOOD_VERSION);
        json_kv_string(&w, "backend", s->backend);
        json_kv_string(&w, "backend_location", s->backend_location);
        json_kv_bool(&w, "state_ok", s->state_ok);
        json_kv_string(&w, "state_problem", s->state_problem);
        json_kv_string(&w, "boot_mode", boot_mode_to_string(s->st.boot_mode));
        json_kv_string(&w, "boot_id", s->st.boot_id);
        json_kv_u64(&w, "failed_boots", s->st.failed_boots);
        json_kv_u64(&w, "threshold", s->threshold);
        json_kv_u64(&w, "total_boots", s->st.total_boots);
        json_kv_bool(&w, "in_boot", s->st.in_boot);
        json_key(&w, "last_confirmed_boot");
        if (s->st.last_confirmed_usec) {
                json_object_begin(&w);
                json_kv_u64(&w, "time_usec", s->st.last_confirmed_usec);
                iso_time(s->st.last_confirmed_usec, tb);
                json_kv_string(&w, "time", tb);
                json_kv_string(&w, "boot_id", s->st.last_confirmed_boot_id);
                json_object_end(&w);
        } else
                json_null(&w);
        /* uname release the last confirmed boot ran; null: not recorded (older record) */
        json_kv_string(&w, "confirmed_kernel", s->st.confirmed_kernel[0] ? s->st.confirmed_kernel : NULL);
        json_kv_u64(&w, "safe_mode_requested", s->st.safe_mode_requested);
        json_kv_bool(&w, "safe_mode_active", s->safe_mode_active);
        json_kv_u64(&w, "incident", s->st.incident);
        char rb[160];
        json_kv_bool(&w, "incident_open", incident_open(s));
        json_kv_string(&w, "incident_reason", incident_reason(s, le, rb, sizeof rb));
        json_kv_bool(&w, "state_record_found", s->record_found);
        json_kv_bool(&w, "confirmed", s->confirmed);
        json_key(&w, "ladder");
        json_array_begin(&w);
        for (size_t i = 0; i < s->policy->recovery.n_ladder; i++)
                json_string(&w, ladder_step_to_string(s->policy->recovery.ladder[i]));
        json_array_end(&w);
        json_kv_u64(&w, "ladder_step", s->st.ladder_step);
        json_kv_string(&w, "culprit", s->st.culprit[0] ? s->st.culprit : NULL);
        json_kv_string(&w, "last_action", ladder_action_to_string(s->st.last_action));
        json_key(&w, "last_action_time_usec");
        if (s->st.last_action_usec)
                json_u64(&w, s->st.last_action_usec);
        else
                json_null(&w);
        json_kv_u64(&w, "internal_errors", s->st.internal_errors);
        json_kv_string(&w, "last_error", s->st.last_error[0] ? s->st.last_error : NULL);
        json_kv_strv(&w, "policy_errors", s->policy->errors);
        json_kv_strv(&w, "policy_files", s->policy->files);
        json_kv_strv(&w, "policy_overridden", s->policy->overridden);
        json_kv_strv(&w, "policy_masked", s->policy->masked);
        json_key(&w, "policy_fallback");
        if (s->policy->fallback != POLICY_FALLBACK_NONE) {
                json_object_begin(&w);
                json_kv_string(&w, "kind", policy_fallback_to_string(s->policy->fallback));
                json_kv_string(&w, "reason", s->policy->fallback_reason);
                json_object_end(&w);
        } else
                json_null(&w);
        json_key(&w, "components");
        json_array_begin(&w);
        for (size_t i = 0; i < s->n_components; i++) {
                const ComponentStatus *c = &s->components[i];
                json_object_begin(&w);
                json_kv_string(&w, "name", c->name);
                json_kv_bool(&w, "quarantined", c->quarantined);
                json_kv_bool(&w, "quarantine_state_known", !c->quarantine_unknown);
                json_kv_string(&w, "newest_snapshot", c->newest_snapshot);
                json_key(&w, "newest_snapshot_time_usec");
                if (c->newest_snapshot)
                        json_u64(&w, c->newest_snapshot_usec);
                else
                        json_null(&w);
                json_key(&w, "content_changed");
                if (c->changed_known)
                        json_bool(&w, c->changed);
                else
                        json_null(&w);
                json_key(&w, "changed_entries");
                if (c->changed_known)
                        json_u64(&w, c->n_changed);
                else
                        json_null(&w);
                /* What the last failed boot's evidence said of it, in words. */
                json_kv_string(&w, "last_evidence", le->words[i]);
                json_kv_string(&w, "last_evidence_time", le->time[i]);
                json_object_end(&w);
        }
        json_array_end(&w);
        json_object_end(&w);
        fputc('\n', stdout);
}

static void print_human(const StatusData *s, const LastEvidence *le) {
        char tb[32];
        printf("State:           %s (%s)%s%s\n", s->backend, s->backend_location, s->state_ok ? "" : " — ",
               s->state_ok ? "" : s->state_problem);
        if (!s->record_found)
                printf("This boot:       not yet confirmed (no boot recorded yet: lastgood boot has not run)\n");
        else
                printf("This boot:       %s%s\n", boot_mode_to_string(s->st.boot_mode),
                       s->confirmed ? " (confirmed)" : " (not yet confirmed)");
        if (s->safe_mode_active)
                printf("                 SAFE MODE: security components are OFF for this boot\n");
        printf("Failed boots:    %u (recovery starts at %u)\n", s->st.failed_boots, s->threshold);
        printf("Total boots:     %" PRIu64 "\n", s->st.total_boots);
        if (s->st.last_confirmed_usec) {
                iso_time(s->st.last_confirmed_usec, tb);
                printf("Last confirmed:  %s\n", tb);
        } else
                printf("Last confirmed:  never\n");
        if (s->st.confirmed_kernel[0])
                printf("Kernel then:     %s\n", s->st.confirmed_kernel);
        if (s->st.safe_mode_requested)
                printf("Safe mode:       requested for the next %u boot(s)\n", s->st.safe_mode_requested);
        char rb[160];
        const char *why = incident_reason(s, le, rb, sizeof rb);
        if (why && s->st.ladder_step > 0 && s->st.culprit[0])
                printf("Incident:        OPEN, #%u, ladder step %u, culprit %s\n                 %s\n",
                       s->st.incident, s->st.ladder_step, s->st.culprit, why);
        else if (why)
                printf("Incident:        OPEN, crash loop, no component touched\n                 %s\n", why);
        else if (s->st.incident)
                printf("Incident:        #%u, ladder step %u%s%s\n", s->st.incident, s->st.ladder_step,
                       s->st.culprit[0] ? ", culprit " : "", s->st.culprit);
        if (ladder_action_to_string(s->st.last_action)) {
                iso_time(s->st.last_action_usec, tb);
                printf("Last action:     %s at %s\n", ladder_action_to_string(s->st.last_action), tb);
        }
        if (s->st.internal_errors)
                printf("Internal errors: %u (last: %s)\n", s->st.internal_errors, s->st.last_error);
        size_t ne = strv_length(s->policy->errors);
        if (s->policy->fallback == POLICY_FALLBACK_LAST_GOOD)
                printf("Policy:          INVALID, the last-known-good copy is in use (%s)\n",
                       LASTGOOD_POLICY_LAST_GOOD_FILE);
        else if (s->policy->fallback == POLICY_FALLBACK_STRICT)
                printf("Policy:          INVALID and no last-known-good copy: strict settings in use "
                       "(codes required, no quarantine, components kept in safe mode)\n");
        else
                printf("Policy:          %s%s\n", ne ? "ERRORS, defaults in use where invalid" : "ok",
                       strv_length(s->policy->files) ? "" : " (built-in defaults)");
        for (char **e = s->policy->errors; e && *e; e++)
                printf("                 %s\n", *e);
        for (char **f = s->policy->files; f && *f; f++)
                printf("  file           %s\n", *f);
        for (char **f = s->policy->overridden; f && *f; f++)
                printf("  overridden     %s\n", *f);
        for (char **f = s->policy->masked; f && *f; f++)
                printf("  masked         %s\n", *f);
        for (size_t i = 0; i < s->n_components; i++) {
                const ComponentStatus *c = &s->components[i];
                printf("Component %-12s %s; known-good snapshot %s%s\n", c->name,
                       c->quarantine_unknown ? "QUARANTINED, state unknown (quarantine registry unreadable)"
                       : c->quarantined      ? "QUARANTINED"
                                             : "active",
                       c->newest_snapshot ?: "none",
                       c->changed_known && c->changed ? "; content changed since" : "");
                if (le->words[i])
                        printf("  evidence       %s (%s)\n", le->words[i], le->time[i] ?: "?");
        }
}

int verb_status(Context *ctx, int argc, char **argv) {
        Policy *p;
        int r = context_policy(ctx, &p);
        if (r < 0)
                return r;
        _cleanup_(status_data_done) StatusData s = {};
        r = status_collect(ctx->root_fd, p, true, &s);
        if (r == -EACCES) {
                log_error("Cannot read the boot state as uid %u: permission denied (the state key %s and "
                          "record are readable by root only). Run it as root, e.g. sudo lastgood status.",
                          (unsigned) geteuid(), LASTGOOD_STATE_KEY_FILE);
                return EXIT_FAIL;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to collect the status: %m");
        _cleanup_(last_evidence_done) LastEvidence le = {};
        r = last_evidence_collect(ctx->root_fd, &s, &le);
        if (r == -ENOMEM)
                return log_error_errno(r, "Out of memory");
        if (r < 0)
                log_warning_errno(r, "Failed to read the event log, no evidence shown: %m");
        if (ctx->json)
                print_json(&s, &le);
        else
                print_human(&s, &le);
        return EXIT_OK;
}
