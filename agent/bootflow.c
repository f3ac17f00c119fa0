/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/bootflow.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>

#include "agent/eventlog.h"
#include "agent/record.h"
#include "agent/safe-request.h"
#include "agent/state-store.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/rootfs.h"
#include "recovery/crash-archive.h"
#include "recovery/culprit.h"
#include "recovery/ladder.h"
#include "recovery/safemode.h"
#include "recovery/steps.h"

/* What the flow needs from the command line: Context stops at bootflow_run(). */
typedef struct BootEnv {
        int root_fd;
        int runtime_fd; /* where /run is: the root, or the initramfs's own (--runtime-root) */
        const Policy *policy;
        const char *pstore_dir; /* host path of the crash records */
        const char *cmdline;    /* NULL reads /proc/cmdline */
        const char *esp_dir;    /* NULL finds the ESP with libblkid */
        char boot_id[37];
        uint64_t now_usec;
} BootEnv;

/* One boot's record and where it lives. Only this file writes it. */
typedef struct Boot {
        const BootEnv *env;
        StateStores stores;
        BootState st;
        bool corrupt;              /* the only records found were corrupt */
        bool fallthrough_recorded; /* this boot's state-fallthrough event is written */
} Boot;

static void boot_done(Boot *b) {
        state_stores_done(&b->stores);
}

/* What is known about the previous boot: its crash records, the suspect,
 * and whether it ran another kernel than the last confirmed boot. */
typedef struct Evidence {
        CrashEvidence crash;
        Culprit culprit;
        char kernel_change[2 * KERNEL_RELEASE_SIZE + 64]; /* "kernel changed A → B since …", or "" */
} Evidence;

static void evidence_done(Evidence *e) {
        crash_evidence_done(&e->crash);
        culprit_done(&e->culprit);
}

/* What the ladder part of the boot decided, for the console line. */
typedef struct LadderOutcome {
        BootMode mode;
        uint32_t threshold;
        char step[32];     /* the step performed last, or "" */
        char summary[512]; /* what and why */
        /* only its evidence fields (boot --json) */
        BootReport evidence;
} LadderOutcome;

/* The evidence, for `boot --json`: what the boot's events record. Best
 * effort (out of memory: fewer components listed). */
static void outcome_note_evidence(LadderOutcome *o, const Evidence *ev) {
        BootReport *r = &o->evidence;
        const Culprit *c = &ev->culprit;
        if (ev->crash.found)
                snprintf(r->crash_record, sizeof r->crash_record, "%s", ev->crash.summary);
        if (c->component) {
                snprintf(r->culprit, sizeof r->culprit, "%s", c->component->name);
                snprintf(r->suspect, sizeof r->suspect, "%s", suspect_reason_to_string(c->reason));
                snprintf(r->culprit_evidence, sizeof r->culprit_evidence, "%s", c->evidence);
        }
        snprintf(r->why, sizeof r->why, "%s", c->why);
        for (size_t i = 0; i < c->n_components; i++)
                if (strv_push(&r->evidence, c->components[i].component->name) < 0 ||
                    strv_push(&r->evidence, c->components[i].words) < 0)
                        break;
        /* Pairs only: a failed push leaves no name without its words. */
        size_t n = strv_length(r->evidence);
        if (n % 2) {
                free(r->evidence[n - 1]);
                r->evidence[n - 1] = NULL;
        }
}

void boot_report_done(BootReport *r) {
        strv_free(r->evidence);
        r->evidence = NULL;
}

static void summary(LadderOutcome *o, const char *fmt, ...) _printf_(2, 3);
static void summary(LadderOutcome *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->summary, sizeof o->summary, fmt, ap);
        va_end(ap);
}

/* ---- the ladder's part of the record ---- */

static LadderState ladder_state_of(const BootState *st) {
        LadderState ls = {
                .failed_boots = st->failed_boots,
                .step_failed_boots = st->step_failed_boots,
                .ladder_step = st->ladder_step,
                .incident = st->incident,
                .loop_started_usec = st->loop_started_usec,
                .last_action = st->last_action,
                .last_action_usec = st->last_action_usec,
        };
        state_set_str(ls.culprit, st->culprit);
        return ls;
}

static void ladder_state_apply(BootState *st, const LadderState *ls) {
        st->failed_boots = ls->failed_boots;
        st->step_failed_boots = ls->step_failed_boots;
        st->ladder_step = ls->ladder_step;
        st->incident = ls->incident;
        st->loop_started_usec = ls->loop_started_usec;
        st->last_action = ls->last_action;
        st->last_action_usec = ls->last_action_usec;
        state_set_str(st->culprit, ls->culprit);
}

/* ---- events and errors ---- */

/* Appends one event with the evidence every ladder event carries, and what
 * the step (RES, or NULL) adds. */
static void boot_event(const Boot *b, EventType type, const char *component, const char *action,
                       const char *message, const Evidence *ev, const StepResult *res) {
        Event e = { .type = type, .component = component, .action = action, .message = message };
        const Culprit *c = &ev->culprit;
        if (ev->crash.found)
                event_add(&e, "crash_record", ev->crash.summary);
        if (c->component) {
                event_add(&e, "suspect", suspect_reason_to_string(c->reason));
                event_add(&e, "culprit_evidence", c->evidence);
                event_add(&e, "attributed", c->attributed ? "true" : "false");
                if (ev->crash.found)
                        event_add(&e, "crash_strength", crash_strength_to_string(c->strength));
                event_add(&e, "changed", c->changed ? "true" : "false");
        }
        /* Every component's evidence, in words: who was weighed and why
         * each is or is not a suspect; once in one line, and per component
         * (evidence.NAME) for `status`. */
        if (c->why[0])
                event_add(&e, "evidence", c->why);
        if (ev->kernel_change[0])
                event_add(&e, "kernel_change", ev->kernel_change);
        event_addf(&e, "max_failed_boots", "%u", b->env->policy->boot.max_failed_boots);
        for (size_t i = 0; res && i < res->n_evidence; i++)
                event_add(&e, res->evidence[i].key, res->evidence[i].value);
        /* Last: beyond EVENT_EVIDENCE_MAX they are dropped (and counted);
         * the one-line form above has them all. */
        char keys[EVENT_EVIDENCE_MAX][EVENT_KEY_MAX + 1];
        for (size_t i = 0; i < c->n_components && i < ELEMENTSOF(keys); i++)
                if (snprintf(keys[i], sizeof keys[i], "evidence.%s", c->components[i].component->name) <
                    (int) sizeof keys[i])
                        event_add(&e, keys[i], c->components[i].words);
        record_append(b->env->root_fd, &e);
}

/* Counts an error in the record (status shows it) and logs it. */
static void count_error(Boot *b, int r, const char *what) {
        log_error_errno(r, "%s: %m (continuing the boot)", what);
        b->st.internal_errors++;
        char buf[sizeof b->st.last_error];
        snprintf(buf, sizeof buf, "%s: %s", what, strerror(r < 0 ? -r : r));
        state_set_str(b->st.last_error, buf);
}

/* An error the boot goes on past: counted, logged, and an internal-error event. */
static void note_internal_error(Boot *b, int r, const char *what) {
        count_error(b, r, what);
        char msg[256];
        snprintf(msg, sizeof msg, "%s: %s (continuing the boot)", what, strerror(r < 0 ? -r : r));
        Event e = { .type = EVENT_INTERNAL_ERROR, .message = msg };
        event_addf(&e, "errno", "%d", r < 0 ? -r : r);
        record_append(b->env->root_fd, &e);
}

/* Policy errors: the invalid settings fall back to their defaults. */
static void note_policy_errors(Boot *b) {
        static const char *const keys[] = { "error_1", "error_2", "error_3" };
        char *const *errors = b->env->policy->errors;
        size_t n = strv_length(errors);
        if (n == 0)
                return;
        PolicyFallback fb = b->env->policy->fallback;
        const char *instead = fb == POLICY_FALLBACK_LAST_GOOD ? "the last-known-good policy is used instead"
                              : fb == POLICY_FALLBACK_STRICT ? "no last-known-good copy: strict settings are used"
                                                             : "defaults are used where it is invalid";
        count_error(b, -EINVAL,
                    fb != POLICY_FALLBACK_NONE ? "policy invalid, fallback in use"
                                               : "policy errors, using defaults where invalid");
        char msg[160];
        snprintf(msg, sizeof msg, "the policy has %zu error%s; %s", n, n == 1 ? "" : "s", instead);
        Event e = { .type = EVENT_POLICY_ERROR, .message = msg };
        event_addf(&e, "policy_errors", "%zu", n);
        if (fb != POLICY_FALLBACK_NONE)
                event_add(&e, "policy_fallback", policy_fallback_to_string(fb));
        for (size_t i = 0; i < n && i < ELEMENTSOF(keys); i++)
                event_add(&e, keys[i], errors[i]);
        record_append(b->env->root_fd, &e);
}

/* ---- reading and writing the record ---- */

/* Returns what state_stores_read() does: 1 read, 0 none, -EBADMSG only
 * corrupt records (b->corrupt: counting restarts conservatively). */
static int boot_read(Boot *b) {
        int r = state_stores_read(&b->stores, &b->st);
        if (r == -EBADMSG) {
                /* Conservative restart: assume the previous boot failed. */
                b->corrupt = true;
                b->st = (BootState) { .failed_boots = 0, .in_boot = 1 };
                state_set_str(b->st.boot_id, "corrupt-record");
                log_warning("State record corrupt: counting restarts from one unconfirmed boot.");
        } else if (r > 0 && (b->stores.saw_corrupt || b->stores.unauthenticated)) {
                /* A corrupt copy beside a valid one may have been the newer:
                 * the valid one's progress is kept, the boot counted
                 * conservatively. An unauthenticated record is distrusted
                 * (state_distrust()): counted, but it starts nothing. */
                b->corrupt = true;
                b->st.in_boot = 1;
                log_warning("State record %s: counting the previous boot as failed.",
                            b->stores.unauthenticated ? "not authenticated" : "has a corrupt copy");
        } else if (r < 0)
                log_warning_errno(r, "Failed to read the state record, starting a new one: %m");
        return r;
}

/* The record moved to a later store than the one it was read from: said
 * once per boot, with the reason the earlier ones gave. */
static void note_fallthrough(Boot *b, int written) {
        if (written <= 0 || written == b->stores.read_from || b->fallthrough_recorded)
                return;
        b->fallthrough_recorded = true;
        const char *where = b->stores.stores[written].location ?: "?";
        /* A device store that was not found has no location yet. */
        const char *preferred = b->stores.stores[0].location ?: "the state device";
        char msg[300];
        snprintf(msg, sizeof msg, "the state record was written to %s, not to the preferred store %s", where,
                 preferred);
        Event e = { .type = EVENT_STATE_FALLTHROUGH, .message = msg };
        event_add(&e, "store", where);
        event_add(&e, "preferred_store", preferred);
        if (b->stores.problems)
                event_add(&e, "problem", b->stores.problems[0]);
        record_append(b->env->root_fd, &e);
}

/* Writes the record. A failure is logged and recorded (the next write, or
 * the event log, keeps it), never fatal: the caller goes on. */
static int boot_write(Boot *b, const char *what) {
        int r = state_stores_write(&b->stores, &b->st);
        if (r < 0) {
                note_internal_error(b, r, what);
                return r;
        }
        note_fallthrough(b, r);
        return 0;
}

/* A second `boot` in the same boot (initramfs script, then the systemd
 * unit): it reports the first run's decision and writes no state (only the
 * metrics textfile, which the read-only initramfs root may have kept the
 * first run from writing). */
static bool boot_is_second_run(const Boot *b, int read_result) {
        return read_result > 0 && b->st.in_boot && b->env->boot_id[0] && streq(b->st.boot_id, b->env->boot_id);
}

/* The initramfs script (or lastgood-boot.service) marks this boot counted
 * once its `lastgood boot` returned: a later run in the same boot only
 * reports, even when the state stores cannot be read now — it must never
 * count the boot a second time. */
static bool boot_counted_earlier(const BootEnv *env) {
        _cleanup_close_ int fd = root_openat(env->runtime_fd, LASTGOOD_BOOTED_MARKER, O_PATH, 0);
        return fd >= 0;
}

/* ---- the previous boot ---- */

/* The previous boot failed. It leaves a trace (events, archived crash
 * records): in the initramfs that needs the root read-write. Healthy boots
 * never get here and keep it read-only. */
static void boot_gather_evidence(Boot *b, Evidence *ev) {
        const BootEnv *env = b->env;
        int r = root_ensure_writable(env->root_fd);
        if (r < 0)
                log_warning_errno(r, "Failed to remount the root read-write, recording may fail: %m");
        if (b->corrupt) {
                Event e = {
                        .type = EVENT_STATE_CORRUPT,
                        .message = b->stores.unauthenticated
                                           ? "the state record is not authenticated; the previous boot counts as "
                                             "failed, and the record names no culprit, step or safe-mode request"
                                   : b->stores.saw_corrupt
                                           ? "a corrupt copy of the state record was found beside a valid one; "
                                             "the previous boot counts as failed"
                                           : "the state record is corrupt; counting restarts from one unconfirmed boot",
                };
                if (b->stores.problems)
                        event_add(&e, "problem", b->stores.problems[0]);
                record_append(env->root_fd, &e);
        }
        /* What happened to it: a crash record, or nothing (power cut, reset,
         * hang, or a boot nobody confirmed). */
        r = crash_evidence_collect(env->pstore_dir, &ev->crash);
        if (r < 0)
                log_warning_errno(r, "Failed to read crash records, treating the failure as unknown: %m");

        /* The failed boot ran this kernel too (lastgood runs early in it):
         * a kernel update since the last confirmed boot is worth saying
         * (the 2024 sensor panics on RHEL 9.4 and Debian followed them). It
         * blames no component. */
        char now[KERNEL_RELEASE_SIZE];
        if (b->st.confirmed_kernel[0] && read_kernel_release(now) >= 0 && !streq(now, b->st.confirmed_kernel))
                snprintf(ev->kernel_change, sizeof ev->kernel_change,
                         "kernel changed %s \u2192 %s since the last confirmed boot", b->st.confirmed_kernel,
                         now);
}

/* The suspect: weighed again at every failed boot, the incident's culprit
 * preferred among equals. */
static void boot_find_culprit(const Boot *b, const LadderPlan *plan, Evidence *ev) {
        const BootEnv *env = b->env;
        const char *incident_culprit = plan->state.culprit[0] ? plan->state.culprit : NULL;
        int r = culprit_find(env->root_fd, env->policy, &ev->crash, incident_culprit, &ev->culprit);
        if (r < 0)
                log_warning_errno(r, "Failed to weigh the evidence, no suspect: %m");
}

/* The count goes to disk before the crash records are archived and cleared:
 * archiving many efi-pstore records takes a while, and a power cut in the
 * middle must not lose this failure. (If the cut comes before the records
 * are cleared, the next boot sees them again: it then counts its
 * predecessor as a crash, not as unknown.) */
static void boot_archive_crash_records(Boot *b, const Evidence *ev) {
        if (!ev->crash.found)
                return;
        (void) boot_write(b, "could not record the failed boot before archiving the crash records");
        const Component *comp = ev->culprit.component;
        boot_event(b, EVENT_CRASH_RECORD, comp ? comp->name : NULL, NULL, ev->crash.summary, ev, NULL);
        _cleanup_free_ char *name = NULL;
        int r = pstore_archive_and_clear(b->env->pstore_dir, b->env->root_fd, LASTGOOD_CRASH_DIR, &name);
        if (r < 0)
                log_warning_errno(r, "Failed to archive the crash records from %s, ignoring: %m",
                                  b->env->pstore_dir);
}

/* ---- the steps ---- */

static EventType step_event_type(LadderStep step) {
        switch (step) {
        case LADDER_RESTORE_CONTENT:
                return EVENT_RECOVERY_RESTORE;
        case LADDER_QUARANTINE:
                return EVENT_RECOVERY_QUARANTINE;
        default:
                return EVENT_RECOVERY_SAFE_MODE;
        }
}

/* Runs STEP and records its result: the event, and the recovery counter
 * when it acted. */
static int boot_run_step(Boot *b, LadderStep step, const Evidence *ev, StepResult *res) {
        const BootEnv *env = b->env;
        const Culprit *c = &ev->culprit;
        int r = steps_run(env->root_fd, env->runtime_fd, env->policy, step, c, b->st.incident, res);
        boot_event(b, step_event_type(step), c->component ? c->component->name : NULL, res->action,
                   res->message, ev, res);
        if (r >= 0)
                record_count_recovery(env->root_fd, c->component ? c->component->name : "none",
                                      ladder_step_to_string(step),
                                      step_result_evidence(res, STEP_EVIDENCE_CONTENT_DIGEST));
        return r;
}

/* Anti-tamper: without a suspect no component is touched; safe mode only
 * if the policy allows it. */
static void boot_no_suspect(Boot *b, const LadderPlan *plan, const Evidence *ev, LadderOutcome *o) {
        const Culprit *c = &ev->culprit;
        if (plan->verdict == LADDER_NO_SUSPECT_SAFE_MODE) {
                StepResult res;
                int r = boot_run_step(b, LADDER_SAFE_MODE, ev, &res);
                o->mode = r >= 0 ? BOOT_MODE_SAFE : BOOT_MODE_NORMAL;
                snprintf(o->step, sizeof o->step, "%s", ladder_step_to_string(LADDER_SAFE_MODE));
                summary(o, "no suspect component (%s); safe mode for this boot", c->why);
        } else
                summary(o, "crash loop but no suspect component%s%s%s: %s; no component touched%s",
                        plan->culprit_gone ? " (" : "", plan->culprit_gone ? plan->state.culprit : "",
                        plan->culprit_gone ? ", the incident's culprit, is no longer one)" : "", c->why,
                        ladder_has_safe_mode(b->env->policy) ? " (recovery.safe_mode_without_suspect is false)"
                                                             : "");
        boot_event(b, EVENT_NO_SUSPECT, NULL, o->step[0] ? o->step : NULL, o->summary, ev, NULL);
}

/* Climbs the ladder for the culprit: the due step, or the next one in this
 * same boot when it does not apply. */
static void boot_climb(Boot *b, const LadderEvidence *lev, LadderPlan *plan, const Evidence *ev,
                       LadderOutcome *o) {
        const Policy *p = b->env->policy;
        const Component *comp = ev->culprit.component;
        o->mode = BOOT_MODE_RECOVERY;
        for (;;) {
                ladder_state_apply(&b->st, &plan->state);
                if (plan->verdict == LADDER_EXHAUSTED) {
                        o->mode = BOOT_MODE_NORMAL;
                        summary(o, "recovery ladder exhausted for %s; no further step (incident %u)",
                                comp->name, b->st.incident);
                        boot_event(b, EVENT_LADDER_EXHAUSTED, comp->name, NULL, o->summary, ev, NULL);
                        return;
                }
                /* The intent goes to disk before the step touches anything:
                 * after a power cut the next boot sees the step as taken and
                 * the step's own journal finishes or undoes it. */
                (void) boot_write(b, "could not record the recovery intent; acting anyway");

                StepResult res;
                int r = boot_run_step(b, plan->step, ev, &res);
                snprintf(o->step, sizeof o->step, "%s", ladder_step_to_string(plan->step));
                if (r == -EALREADY || r == -EPERM) {
                        /* Not applicable (nothing to restore, quarantine
                         * forbidden): the next step, in this same boot. */
                        log_notice("Recovery step %s for %s skipped: %s", o->step, comp->name, res.message);
                        ladder_skip(p, lev, plan);
                        if (plan->verdict == LADDER_WAIT) {
                                /* The next step waits for its own threshold. */
                                ladder_state_apply(&b->st, &plan->state);
                                o->mode = BOOT_MODE_NORMAL;
                                o->threshold = plan->threshold;
                                summary(o, "%s; %u of %u failed boots before the next step", res.message,
                                        plan->count, plan->threshold);
                                return;
                        }
                        continue;
                }
                if (r < 0)
                        log_error_errno(r, "Recovery step %s for %s failed: %m", o->step, comp->name);
                summary(o, "%s", res.message);
                if (plan->step == LADDER_SAFE_MODE && r >= 0)
                        o->mode = BOOT_MODE_SAFE;
                return;
        }
}

/* Counts the previous boot and, when the ladder says a step is due, takes
 * it. b->st follows every stage of the plan. */
static void boot_ladder(Boot *b, bool safe_requested, LadderOutcome *ret) {
        const Policy *p = b->env->policy;
        LadderOutcome o = { .mode = BOOT_MODE_NORMAL, .threshold = p->boot.max_failed_boots };
        LadderEvidence lev = {
                .previous_failed = b->st.in_boot || b->corrupt,
                .safe_mode_requested = safe_requested,
                .now_usec = b->env->now_usec,
        };
        if (!lev.previous_failed) {
                *ret = o;
                return;
        }

        _cleanup_(evidence_done) Evidence ev = {};
        boot_gather_evidence(b, &ev);
        lev.crash_record = ev.crash.found;

        LadderState ls = ladder_state_of(&b->st);
        LadderPlan plan;
        ladder_count(p, &ls, &lev, &plan);
        if (plan.verdict == LADDER_NOT_COUNTED) {
                summary(&o, "previous boot failed without a crash record; not counted "
                            "(boot.count_unknown_failures=false)");
                boot_event(b, EVENT_BOOT_COUNTED, NULL, NULL, o.summary, &ev, NULL);
                outcome_note_evidence(&o, &ev);
                *ret = o;
                return;
        }
        ladder_state_apply(&b->st, &plan.state);

        boot_find_culprit(b, &plan, &ev);
        boot_archive_crash_records(b, &ev);

        const Culprit *c = &ev.culprit;
        lev.culprit = c->component;
        lev.attributed = c->attributed;
        lev.changed = c->changed;
        ladder_plan(p, &lev, &plan);
        o.threshold = plan.threshold;

        switch (plan.verdict) {
        case LADDER_WAIT:
                summary(&o, "previous boot failed (%s); %u of %u failed boots before recovery%s%s%s%s%s%s",
                        ev.crash.found ? "crash" : "unknown", plan.count, plan.threshold,
                        c->component ? "; suspect: " : "", c->component ? c->component->name : "",
                        c->component ? " (" : "", c->component ? c->evidence : "", c->component ? ")" : "",
                        plan.culprit_gone ? "; the incident's culprit is no longer a suspect" : "");
                boot_event(b, EVENT_BOOT_COUNTED, c->component ? c->component->name : NULL, NULL, o.summary,
                           &ev, NULL);
                break;
        case LADDER_DEFERRED:
                /* The count is kept: the ladder resumes if the loop goes on. */
                summary(&o, "recovery due but safe mode was requested");
                break;
        case LADDER_NO_SUSPECT:
        case LADDER_NO_SUSPECT_SAFE_MODE:
                boot_no_suspect(b, &plan, &ev, &o);
                break;
        default:
                boot_climb(b, &lev, &plan, &ev, &o);
        }
        outcome_note_evidence(&o, &ev);
        *ret = o;
}

/* ---- the flow ---- */

static void boot_requests(Boot *b, SafeDecision *ret) {
        const BootEnv *env = b->env;
        SafeRequestInput in = {
                .root_fd = env->root_fd,
                .policy = env->policy,
                .cmdline = env->cmdline,
                .esp_dir = env->esp_dir,
                .pending = b->st.safe_mode_requested,
                .look_at_esp = b->st.in_boot || b->corrupt || env->esp_dir,
        };
        safe_request_decide(&in, ret);
        b->st.safe_mode_requested = ret->pending_after;
}

static void boot_log_problems(const Boot *b) {
        for (char **e = b->stores.problems; e && *e; e++)
                log_warning("%s", *e);
}

/* A second run only repeats what the first one decided. */
static void boot_report_again(const Boot *b, BootReport *ret) {
        *ret = (BootReport) {
                .mode = b->st.boot_mode < _BOOT_MODE_MAX ? (BootMode) b->st.boot_mode : BOOT_MODE_NORMAL,
                .failed_boots = b->st.failed_boots,
                .threshold = b->env->policy->boot.max_failed_boots,
                .total_boots = b->st.total_boots,
        };
        ret->again = true;
        snprintf(ret->summary, sizeof ret->summary, "already counted in this boot");
}

/* The one write every boot makes: this boot is counted, unconfirmed. */
static void boot_finish(Boot *b, BootMode mode) {
        b->st.total_boots++;
        b->st.in_boot = 1;
        b->st.boot_mode = mode;
        b->st.last_boot_usec = b->env->now_usec;
        state_set_str(b->st.boot_id, b->env->boot_id);
        /* The event log's head goes with the record (`log verify` checks
         * the log still holds it); a head that cannot be read keeps the
         * last one, an older prefix point. */
        EventLogHead head;
        if (eventlog_head(b->env->root_fd, &head) >= 0) {
                b->st.log_head_seq = head.seq;
                state_set_str(b->st.log_head_hash, head.hash);
        }
        (void) boot_write(b, "could not record this boot in any state store");
}

/* Takes OUT's evidence. */
static void boot_report(const Boot *b, const SafeDecision *sd, LadderOutcome *out, BootReport *ret) {
        *ret = out->evidence;
        out->evidence.evidence = NULL;
        ret->mode = b->st.boot_mode;
        ret->failed_boots = b->st.failed_boots;
        ret->threshold = out->threshold ?: b->env->policy->boot.max_failed_boots;
        ret->total_boots = b->st.total_boots;
        snprintf(ret->step, sizeof ret->step, "%s", sd->safe ? "" : out->step);
        if (sd->safe)
                snprintf(ret->summary, sizeof ret->summary, "safe mode: %s", sd->why);
        else
                snprintf(ret->summary, sizeof ret->summary, "%s", out->summary);
}

static int boot_run(const BootEnv *env, BootReport *ret) {
        const Policy *p = env->policy;

        steps_recover_interrupted(env->root_fd, p);

        _cleanup_(boot_done) Boot b = { .env = env };
        int r = state_stores_open(env->root_fd, p, /* allow_remount= */ true, &b.stores);
        if (r < 0)
                return r;
        r = boot_read(&b);
        bool again = boot_is_second_run(&b, r);
        if (again || boot_counted_earlier(env)) {
                boot_report_again(&b, ret);
                boot_log_problems(&b);
                /* From the systemd side: the textfile a read-only root kept
                 * the initramfs from writing (lastgood-boot.service). */
                if (again)
                        record_report(env->root_fd, env->runtime_fd, p, &b.stores, &b.st, RECORD_REPORT_BOOT);
                return 0;
        }

        note_policy_errors(&b);

        SafeDecision sd;
        boot_requests(&b, &sd);

        LadderOutcome out;
        boot_ladder(&b, sd.safe, &out);

        if (sd.safe) {
                r = safemode_apply(env->root_fd, env->runtime_fd, p, sd.why);
                if (r < 0)
                        note_internal_error(&b, r, "could not enter safe mode");
                safe_request_record_boot(env->root_fd, &sd);
        }

        boot_finish(&b, sd.safe ? BOOT_MODE_SAFE : out.mode);
        boot_log_problems(&b);
        boot_report(&b, &sd, &out, ret);
        record_report(env->root_fd, env->runtime_fd, p, &b.stores, &b.st, RECORD_REPORT_BOOT);
        return 0;
}

int bootflow_run(Context *ctx, BootReport *ret) {
        Policy *p;
        int r = context_policy(ctx, &p);
        if (r < 0)
                return r;
        BootEnv env = {
                .root_fd = ctx->root_fd,
                .runtime_fd = ctx->runtime_fd,
                .policy = p,
                .pstore_dir = ctx->pstore_dir,
                .cmdline = ctx->cmdline,
                .esp_dir = ctx->esp_dir,
                .now_usec = now_realtime_usec(),
        };
        read_boot_id(env.boot_id);
        return boot_run(&env, ret);
}
