/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/ladder.h"

#include <inttypes.h>
#include <stdarg.h>

#include "recovery/culprit.h"
#include "lib/log.h"
#include "lib/rootfs.h"
#include "recovery/steps.h"

/* The step the ladder is at, or _LADDER_STEP_MAX once it is exhausted. */
static LadderStep current_step(const Policy *p, const BootState *st) {
        if (st->ladder_step < p->recovery.n_ladder)
                return p->recovery.ladder[st->ladder_step];
        return _LADDER_STEP_MAX;
}

static void summary(LadderOutcome *o, const char *fmt, ...) _printf_(2, 3);
static void summary(LadderOutcome *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->summary, sizeof o->summary, fmt, ap);
        va_end(ap);
}

int ladder_boot(const LadderInput *in, StateStores *stores, BootState *st, LadderOutcome *ret) {
        const Policy *p = in->policy;
        LadderOutcome o = { .mode = BOOT_MODE_NORMAL, .threshold = p->boot.max_failed_boots };
        int r;

        if (!in->previous_failed) {
                *ret = o;
                return 0;
        }
        /* A failed boot leaves a trace (events, archived crash records):
         * in the initramfs that needs the root read-write. Healthy boots
         * never get here and keep it read-only. */
        r = root_ensure_writable(in->root_fd);
        if (r < 0)
                log_warning_errno(r, "Failed to remount the root read-write, recording may fail: %m");

        /* 1. What happened to the previous boot: a crash record, or nothing
         *    (power cut, reset, hang, or a boot nobody confirmed). */
        _cleanup_(crash_evidence_done) CrashEvidence ev = {};
        r = crash_evidence_collect(in->root_fd, p, in->pstore_dir, &ev);
        if (r < 0)
                log_warning_errno(r, "Failed to read crash records, treating the failure as unknown: %m");
        o.crash_record = ev.found;

        if (!ev.found && !p->boot.count_unknown_failures) {
                summary(&o, "previous boot failed without a crash record; not counted (boot.count_unknown_failures=false)");
                steps_record_event(in, "boot-counted", NULL, NULL, o.summary, &ev, NULL);
                *ret = o;
                return 0;
        }
        o.counted = true;
        if (st->failed_boots == 0)
                st->loop_started_usec = in->now_usec;
        st->failed_boots++;
        if (st->ladder_step > 0)
                st->step_failed_boots++;

        /* 2. The culprit: chosen once per incident, kept for its later steps. */
        _cleanup_(culprit_done) Culprit c = {};
        if (st->culprit[0] && st->ladder_step > 0) {
                r = culprit_from_name(in->root_fd, p, st->culprit, &ev, &c);
        } else {
                r = culprit_find(in->root_fd, p, &ev, st->loop_started_usec, &c);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to determine the culprit: %m");

        /* 3. Is a step due? The fast path: a crash record that names a
         *    changed component acts after attributed_crash_threshold. */
        uint32_t threshold = c.component ? policy_component_threshold(p, c.component) : p->boot.max_failed_boots;
        /* The fast path also applies to later steps: a crash record that
         * still names the culprit after its content was restored is strong
         * evidence that the next step is needed (e.g. a bad module). */
        if (c.component && c.attributed && (c.changed || st->ladder_step > 0) &&
            p->recovery.attributed_crash_threshold < threshold)
                threshold = p->recovery.attributed_crash_threshold;
        o.threshold = threshold;
        uint32_t count = st->ladder_step == 0 ? st->failed_boots : st->step_failed_boots;

        /* The count goes to disk before the crash records are archived and
         * cleared: archiving many efi-pstore records takes a while, and a
         * power cut in the middle must not lose this failure. (If the cut
         * comes before the records are cleared, the next boot sees them
         * again: it then counts its predecessor as a crash, not as unknown.) */
        if (ev.found) {
                if (state_stores_write(stores, st) < 0)
                        log_warning("Failed to record the failed boot before archiving the crash records.");
                steps_record_event(in, "crash-record", c.component ? c.component->name : NULL, NULL, ev.summary, &ev,
                                   &c);
        }
        steps_archive_crash_records(in, &ev);

        /* A restore that a power cut interrupted before its swap is undone
         * at the start of the next boot, so the content is still the
         * changed one: the step never happened. Redo it at once (it was
         * due already), once, rather than wait and then escalate. */
        bool redo = c.component && st->ladder_step > 0 && st->ladder_step <= p->recovery.n_ladder &&
                    p->recovery.ladder[st->ladder_step - 1] == LADDER_RESTORE_CONTENT &&
                    streq(st->last_action, "restore-content") && c.changed;

        if (count < threshold && !redo) {
                summary(&o, "previous boot failed (%s); %u of %u failed boots before recovery%s%s",
                        ev.found ? "crash" : "unknown", count, threshold, c.component ? "; suspect: " : "",
                        c.component ? c.component->name : "");
                steps_record_event(in, "boot-counted", c.component ? c.component->name : NULL, NULL, o.summary, &ev,
                                   &c);
                *ret = o;
                return 0;
        }
        if (in->safe_mode_requested) {
                /* The helpdesk asked for safe mode: honour that, and keep
                 * the count so the ladder resumes if the loop goes on. */
                summary(&o, "recovery due but safe mode was requested");
                *ret = o;
                return 0;
        }

        bool has_safe = false;
        for (size_t i = 0; i < p->recovery.n_ladder; i++)
                has_safe = has_safe || p->recovery.ladder[i] == LADDER_SAFE_MODE;

        /* 4. Anti-tamper: no suspect, no component is touched. Only safe mode
         *    may be used, and only if the policy says so. */
        if (!c.component) {
                StepResult res = {};
                if (p->recovery.safe_mode_without_suspect && has_safe) {
                        r = steps_run(in, LADDER_SAFE_MODE, &c, st->incident, &ev, &res);
                        o.mode = r >= 0 ? BOOT_MODE_SAFE : BOOT_MODE_NORMAL;
                        snprintf(o.step, sizeof o.step, "safe-mode");
                        summary(&o, "no suspect component (%s); safe mode for this boot", c.why);
                } else
                        summary(&o, "crash loop but no suspect component: %s; no component touched%s", c.why,
                                has_safe ? " (recovery.safe_mode_without_suspect is false)" : "");
                steps_record_event(in, "no-suspect", NULL, o.step[0] ? o.step : NULL, o.summary, &ev, &c);
                *ret = o;
                return 0;
        }

        /* 5. Act. A new incident starts at the first step. */
        if (st->ladder_step == 0) {
                st->incident++;
                state_set_str(st->culprit, c.component->name);
        }
        o.mode = BOOT_MODE_RECOVERY;
        snprintf(o.culprit, sizeof o.culprit, "%s", c.component->name);

        for (;;) {
                bool retry = redo;
                redo = false;
                LadderStep step = retry ? LADDER_RESTORE_CONTENT : current_step(p, st);
                if (step == _LADDER_STEP_MAX) {
                        /* Exhausted: keep the machine usable with safe mode
                         * each time the loop goes on, if the ladder has it. */
                        if (!has_safe) {
                                o.mode = BOOT_MODE_NORMAL;
                                summary(&o, "recovery ladder exhausted for %s; no further step (incident %u)",
                                        c.component->name, st->incident);
                                steps_record_event(in, "ladder-exhausted", c.component->name, NULL, o.summary, &ev,
                                                   &c);
                                break;
                        }
                        step = LADDER_SAFE_MODE;
                } else if (!retry) {
                        st->ladder_step++;
                }

                /* The intent goes to disk before the step touches anything:
                 * after a power cut the next boot sees the step as taken and
                 * the step's own journal finishes or undoes it. */
                st->step_failed_boots = 0;
                state_set_str(st->last_action, retry ? "restore-content-retry" : ladder_step_to_string(step));
                st->last_action_usec = in->now_usec;
                if (state_stores_write(stores, st) < 0)
                        log_warning("Failed to record the recovery intent durably; acting anyway.");

                StepResult res = {};
                r = steps_run(in, step, &c, st->incident, &ev, &res);
                snprintf(o.step, sizeof o.step, "%s", ladder_step_to_string(step));
                if (r == -EALREADY || r == -EPERM) {
                        /* Not applicable (nothing to restore, quarantine
                         * forbidden): the next step, in this same boot. */
                        log_notice("Recovery step %s for %s skipped: %s", o.step, c.component->name, res.message);
                        continue;
                }
                if (r < 0)
                        log_error_errno(r, "Recovery step %s for %s failed: %m", o.step, c.component->name);
                summary(&o, "%s", res.message);
                if (step == LADDER_SAFE_MODE && r >= 0)
                        o.mode = BOOT_MODE_SAFE;
                break;
        }
        *ret = o;
        return 0;
}

void ladder_recover_interrupted(int root_fd, const Policy *p) {
        steps_recover_interrupted(root_fd, p);
}
