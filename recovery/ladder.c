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
        }
        *ret = plan;
}

/* The step the ladder takes next: the one it is at, or at its end safe mode
 * (if the ladder has it: it keeps the machine usable each time the loop
 * goes on) unless safe mode is what just did not apply. */
static bool peek_next_step(const Policy *p, const LadderPlan *plan, LadderStep *ret) {
        const LadderState *s = &plan->state;
        if (s->ladder_step < p->recovery.n_ladder)
                *ret = p->recovery.ladder[s->ladder_step];
        else if (ladder_has_safe_mode(p) && !(plan->verdict == LADDER_STEP && plan->step == LADDER_SAFE_MODE))
                *ret = LADDER_SAFE_MODE;
        else
                return false;
        return true;
}

/* The failed boots STEP waits for. Restoring known-good content keeps the
 * sensor on: it needs little. Quarantine and safe mode switch it off: they
 * wait the component's max_failed_boots, less only when the crash record
 * attributes it. */
static uint32_t step_threshold(const Policy *p, const LadderEvidence *ev, LadderStep step, bool *ret_fast) {
        uint32_t t = step == LADDER_RESTORE_CONTENT ? p->recovery.restore_threshold
                                                    : policy_component_threshold(p, ev->culprit);
        bool fast = false;
        if (ev->attributed && p->recovery.attributed_crash_threshold < t) {
                t = p->recovery.attributed_crash_threshold;
                fast = true;
        }
        if (ret_fast)
                *ret_fast = fast;
        return t;
}

/* Takes the step peek_next_step() names. The intent is what the record says
 * before the step touches anything. */
static void take_next_step(const Policy *p, const LadderEvidence *ev, LadderPlan *plan) {
        LadderState *s = &plan->state;
        LadderStep step;
        if (!peek_next_step(p, plan, &step)) {
                /* The end, or the end's safe mode did not apply either. */
                plan->verdict = LADDER_EXHAUSTED;
                plan->step = _LADDER_STEP_MAX;
                return;
        }
        if (s->ladder_step < p->recovery.n_ladder)
                s->ladder_step++;
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

        if (s->ladder_step > 0 && s->culprit[0] && (!c || !streq(c->name, s->culprit))) {
                if (c) {
                        /* Another component is the suspect now: the evidence
                         * moved, and so does the ladder. Its steps start at
                         * the first, in a new incident. */
                        s->ladder_step = 0;
                        s->step_failed_boots = 0;
                        s->last_action = LADDER_ACTION_NONE;
                        s->culprit[0] = '\0';
                        plan->new_culprit = true;
                } else
                        /* Known-good content that did not end the loop, or a
                         * crash record pointing elsewhere: the incident's
                         * culprit is innocent as far as this boot shows.
                         * Its place on the ladder is kept should it become a
                         * suspect again. */
                        plan->culprit_gone = true;
        }

        /* At the end of the ladder, exhaustion is due when another step would be. */
        LadderStep next = LADDER_SAFE_MODE;
        (void) peek_next_step(p, plan, &next);
        bool fast = false;
        uint32_t threshold = c ? step_threshold(p, ev, next, &fast) : p->boot.max_failed_boots;
        plan->threshold = threshold;
        plan->fast_path = fast;
        plan->count = plan_count(s);

        /* A restore that a power cut interrupted before its swap is undone
         * at the start of the next boot, so the content is still the
         * changed one: the step never happened. Redo it at once (it was due
         * already), once, rather than wait and then escalate. */
        bool redo = c && !plan->new_culprit && s->ladder_step > 0 && s->ladder_step <= p->recovery.n_ladder &&
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
                plan->threshold = threshold;
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
        LadderStep next;
        if (peek_next_step(p, plan, &next)) {
                bool fast;
                uint32_t t = step_threshold(p, ev, next, &fast);
                if (plan->count < t) {
                        /* The skipped step counts as taken; the next one
                         * waits for its own threshold, counting on. */
                        plan->verdict = LADDER_WAIT;
                        plan->step = _LADDER_STEP_MAX;
                        plan->threshold = t;
                        plan->fast_path = fast;
                        plan->state.step_failed_boots = plan->count;
                        return;
                }
                plan->threshold = t;
                plan->fast_path = fast;
        }
        take_next_step(p, ev, plan);
}
