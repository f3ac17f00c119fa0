/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/ladder.h"

static const char *const ladder_action_table[_LADDER_ACTION_MAX] = {
        [LADDER_ACTION_NONE] = "",
        [LADDER_ACTION_RESTORE_CONTENT] = "restore-content",
        [LADDER_ACTION_QUARANTINE] = "quarantine",
        [LADDER_ACTION_SAFE_MODE] = "safe-mode",
        [LADDER_ACTION_RESTORE_CONTENT_RETRY] = "restore-content-retry",
};

const char *ladder_action_to_string(LadderAction a) {
        return a > LADDER_ACTION_NONE && a < _LADDER_ACTION_MAX ? ladder_action_table[a] : NULL;
}

LadderAction ladder_action_from_string(const char *s) {
        for (LadderAction a = 0; s && a < _LADDER_ACTION_MAX; a++)
                if (streq(ladder_action_table[a], s))
                        return a;
        return _LADDER_ACTION_INVALID;
}

static LadderAction action_of_step(LadderStep s) {
        switch (s) {
        case LADDER_RESTORE_CONTENT:
                return LADDER_ACTION_RESTORE_CONTENT;
        case LADDER_QUARANTINE:
                return LADDER_ACTION_QUARANTINE;
        case LADDER_SAFE_MODE:
                return LADDER_ACTION_SAFE_MODE;
        default:
                return LADDER_ACTION_NONE;
        }
}

bool ladder_has_safe_mode(const Policy *p) {
        for (size_t i = 0; i < p->recovery.n_ladder; i++)
                if (p->recovery.ladder[i] == LADDER_SAFE_MODE)
                        return true;
        return false;
}

/* The count a step waits for: the incident's failed boots before its first
 * step, the current step's after that. */
static uint32_t plan_count(const LadderState *st) {
        return st->ladder_step == 0 ? st->failed_boots : st->step_failed_boots;
}

void ladder_count(const Policy *p, const LadderState *st, const LadderEvidence *ev, LadderPlan *ret) {
        LadderPlan plan = {
                .verdict = LADDER_NOT_FAILED,
                .threshold = p->boot.max_failed_boots,
                .step = _LADDER_STEP_MAX,
                .state = *st,
        };
        if (ev->previous_failed && !ev->crash_record && !p->boot.count_unknown_failures)
                plan.verdict = LADDER_NOT_COUNTED;
        else if (ev->previous_failed) {
                LadderState *s = &plan.state;
                if (s->failed_boots == 0)
                        s->loop_started_usec = ev->now_usec;
                s->failed_boots++;
                if (s->ladder_step > 0)
                        s->step_failed_boots++;
                plan.verdict = LADDER_WAIT;
                plan.count = plan_count(s);
                plan.keep_culprit = s->ladder_step > 0 && s->culprit[0];
        }
        *ret = plan;
}

/* Takes the step the ladder is at, or at its end safe mode (if the ladder
 * has it: it keeps the machine usable each time the loop goes on). The
 * intent is what the record says before the step touches anything. */
static void take_next_step(const Policy *p, const LadderEvidence *ev, LadderPlan *plan) {
        LadderState *s = &plan->state;
        LadderStep step;
        if (s->ladder_step < p->recovery.n_ladder)
                step = p->recovery.ladder[s->ladder_step++];
        else if (ladder_has_safe_mode(p) && !(plan->verdict == LADDER_STEP && plan->step == LADDER_SAFE_MODE))
                step = LADDER_SAFE_MODE;
        else {
                /* The end, or the end's safe mode did not apply either. */
                plan->verdict = LADDER_EXHAUSTED;
                plan->step = _LADDER_STEP_MAX;
                return;
        }
        plan->verdict = LADDER_STEP;
        plan->step = step;
        s->step_failed_boots = 0;
        s->last_action = action_of_step(step);
        s->last_action_usec = ev->now_usec;
}

void ladder_plan(const Policy *p, const LadderEvidence *ev, LadderPlan *plan) {
        if (plan->verdict != LADDER_WAIT)
                return;
        LadderState *s = &plan->state;
        const Component *c = ev->culprit;

        uint32_t threshold = c ? policy_component_threshold(p, c) : p->boot.max_failed_boots;
        /* The fast path: a crash record that names a changed component acts
         * after attributed_crash_threshold. It also applies to later steps:
         * a crash record that still names the culprit after its content was
         * restored is strong evidence that the next step is needed (e.g. a
         * bad module). */
        if (c && ev->attributed && (ev->changed || s->ladder_step > 0) &&
            p->recovery.attributed_crash_threshold < threshold) {
                threshold = p->recovery.attributed_crash_threshold;
                plan->fast_path = true;
        }
        plan->threshold = threshold;
        plan->count = plan_count(s);

        /* A restore that a power cut interrupted before its swap is undone
         * at the start of the next boot, so the content is still the
         * changed one: the step never happened. Redo it at once (it was due
         * already), once, rather than wait and then escalate. */
        bool redo = c && s->ladder_step > 0 && s->ladder_step <= p->recovery.n_ladder &&
                    p->recovery.ladder[s->ladder_step - 1] == LADDER_RESTORE_CONTENT &&
                    s->last_action == LADDER_ACTION_RESTORE_CONTENT && ev->changed;

        if (plan->count < threshold && !redo)
                return; /* LADDER_WAIT */
        if (ev->safe_mode_requested) {
                /* The helpdesk asked for safe mode: honour that, and keep the
                 * count so the ladder resumes if the loop goes on. */
                plan->verdict = LADDER_DEFERRED;
                return;
        }
        /* Anti-tamper: no suspect, no component is touched. Only safe mode
         * may be used, and only if the policy says so. */
        if (!c) {
                if (p->recovery.safe_mode_without_suspect && ladder_has_safe_mode(p)) {
                        plan->verdict = LADDER_NO_SUSPECT_SAFE_MODE;
                        plan->step = LADDER_SAFE_MODE;
                } else
                        plan->verdict = LADDER_NO_SUSPECT;
                return;
        }

        /* A new incident starts at the first step. */
        if (s->ladder_step == 0) {
                s->incident++;
                snprintf(s->culprit, sizeof s->culprit, "%s", c->name);
                plan->new_incident = true;
        }
        if (redo) {
                plan->verdict = LADDER_STEP;
                plan->redo = true;
                plan->step = LADDER_RESTORE_CONTENT;
                s->step_failed_boots = 0;
                s->last_action = LADDER_ACTION_RESTORE_CONTENT_RETRY;
                s->last_action_usec = ev->now_usec;
                return;
        }
        take_next_step(p, ev, plan);
}

void ladder_skip(const Policy *p, const LadderEvidence *ev, LadderPlan *plan) {
        if (plan->verdict != LADDER_STEP)
                return;
        plan->redo = false;
        take_next_step(p, ev, plan);
}
