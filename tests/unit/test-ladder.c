/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ladder as a table: a record state, what the boot flow found out about
 * the previous boot, and the plan the ladder must make (counted or not,
 * threshold, fast path, which step, redo after a power cut, the next step
 * after a skip, exhaustion). No I/O: recovery/ladder.c is arithmetic.
 */
#include "unit.h"

#include "recovery/ladder.h"

#define NOW 1700000000000000ULL
#define EARLIER 1600000000000000ULL

typedef enum LadderShape {
        FULL,         /* restore-content, quarantine, safe-mode (the default) */
        NO_SAFE,      /* restore-content, quarantine */
        RESTORE_ONLY, /* restore-content */
} LadderShape;

typedef struct Case {
        const char *name;
        /* the policy */
        LadderShape shape;
        bool no_unknown;           /* boot.count_unknown_failures: false */
        bool safe_without_suspect; /* recovery.safe_mode_without_suspect: true */
        /* the record before this boot */
        uint32_t failed, step_failed, ladder_step, incident;
        LadderAction last_action;
        /* the evidence */
        bool ok;     /* the previous boot was confirmed (otherwise: it failed) */
        bool crash;  /* it left a crash record */
        int suspect; /* 0 none, 1 "sensor" (threshold 3), 5 "slow" (its own threshold 5) */
        bool attributed, changed, safe_requested;
        bool other_culprit; /* the ongoing incident blames "other", not the suspect */
        unsigned skips;     /* steps that did not apply, in this boot */
        /* the plan */
        LadderVerdict verdict;
        uint32_t threshold, count;
        LadderStep step;
        bool fast_path, redo, new_incident;
        bool gone, switched; /* culprit_gone, new_culprit */
        /* the record it makes */
        uint32_t want_failed, want_step_failed, want_ladder_step, want_incident;
        LadderAction want_action;
} Case;

#define RESTORE LADDER_RESTORE_CONTENT
#define QUARANTINE LADDER_QUARANTINE
#define SAFE LADDER_SAFE_MODE
#define NONE _LADDER_STEP_MAX
#define A_NONE LADDER_ACTION_NONE
#define A_RESTORE LADDER_ACTION_RESTORE_CONTENT
#define A_RETRY LADDER_ACTION_RESTORE_CONTENT_RETRY
#define A_QUARANTINE LADDER_ACTION_QUARANTINE
#define A_SAFE LADDER_ACTION_SAFE_MODE

static const Case cases[] = {
        /* ---- counting ---- */
        { "a confirmed boot counts nothing", .ok = true, .suspect = 1, .verdict = LADDER_NOT_FAILED,
          .threshold = 3, .step = NONE },
        { "unknown failure, count_unknown_failures=false", .no_unknown = true, .suspect = 1,
          .verdict = LADDER_NOT_COUNTED, .threshold = 3, .step = NONE },
        { "a crash counts even then", .no_unknown = true, .crash = true, .verdict = LADDER_WAIT,
          .threshold = 3, .count = 1, .step = NONE, .want_failed = 1 },
        { "unknown failure counts by default", .failed = 1, .verdict = LADDER_WAIT, .threshold = 3,
          .count = 2, .step = NONE, .want_failed = 2 },

        /* ---- the thresholds: restore at restore_threshold, the rest later ---- */
        { "a changed suspect: restore after one failed boot, a new incident", .incident = 4, .suspect = 1,
          .changed = true, .verdict = LADDER_STEP, .threshold = 1, .count = 1, .step = RESTORE, .new_incident = true,
          .want_failed = 1, .want_ladder_step = 1, .want_incident = 5, .want_action = A_RESTORE },
        { "attributed but unchanged: restore is tried first (it will not apply)", .crash = true,
          .suspect = 1, .attributed = true, .verdict = LADDER_STEP, .threshold = 1, .count = 1,
          .step = RESTORE, .new_incident = true, .want_failed = 1, .want_ladder_step = 1, .want_incident = 1,
          .want_action = A_RESTORE },
        { "a component's own threshold for quarantine", .failed = 5, .step_failed = 3, .ladder_step = 1,
          .incident = 1, .last_action = A_RESTORE, .suspect = 5, .crash = true, .verdict = LADDER_WAIT,
          .threshold = 5, .count = 4, .step = NONE, .want_failed = 6, .want_step_failed = 4,
          .want_ladder_step = 1, .want_incident = 1, .want_action = A_RESTORE },
        { "after a step, the step's own count", .failed = 5, .step_failed = 1, .ladder_step = 1,
          .incident = 1, .last_action = A_RESTORE, .suspect = 1, .crash = true, .verdict = LADDER_WAIT,
          .threshold = 3, .count = 2, .step = NONE, .want_failed = 6, .want_step_failed = 2,
          .want_ladder_step = 1, .want_incident = 1, .want_action = A_RESTORE },
        { "the step's count reaches the threshold: next step", .failed = 6, .step_failed = 2,
          .ladder_step = 1, .incident = 1, .last_action = A_RESTORE, .suspect = 1, .verdict = LADDER_STEP,
          .threshold = 3, .count = 3, .step = QUARANTINE, .want_failed = 7, .want_ladder_step = 2,
          .want_incident = 1, .want_action = A_QUARANTINE },

        /* ---- the fast path: attribution lowers quarantine and safe mode ---- */
        { "fast path at a later step: the crash still names it", .failed = 3, .ladder_step = 1,
          .incident = 1, .last_action = A_RESTORE, .crash = true, .suspect = 1, .attributed = true,
          .verdict = LADDER_STEP, .threshold = 1, .count = 1, .step = QUARANTINE, .fast_path = true,
          .want_failed = 4, .want_ladder_step = 2, .want_incident = 1, .want_action = A_QUARANTINE },
        { "fast path lowers a component's own threshold too", .failed = 3, .ladder_step = 1, .incident = 1,
          .last_action = A_RESTORE, .crash = true, .suspect = 5, .attributed = true, .verdict = LADDER_STEP,
          .threshold = 1, .count = 1, .step = QUARANTINE, .fast_path = true, .want_failed = 4,
          .want_ladder_step = 2, .want_incident = 1, .want_action = A_QUARANTINE },

        /* ---- the evidence moves ---- */
        { "the incident's culprit is no longer a suspect: nothing touched", .failed = 4, .step_failed = 2,
          .ladder_step = 1, .incident = 1, .last_action = A_RESTORE, .verdict = LADDER_NO_SUSPECT,
          .threshold = 3, .count = 3, .step = NONE, .gone = true, .want_failed = 5, .want_step_failed = 3,
          .want_ladder_step = 1, .want_incident = 1, .want_action = A_RESTORE },
        { "no longer a suspect, below the threshold: wait", .failed = 2, .ladder_step = 1, .incident = 1,
          .last_action = A_RESTORE, .verdict = LADDER_WAIT, .threshold = 3, .count = 1, .step = NONE,
          .gone = true, .want_failed = 3, .want_step_failed = 1, .want_ladder_step = 1, .want_incident = 1,
          .want_action = A_RESTORE },
        { "another component is the suspect now: its ladder starts over", .failed = 4, .step_failed = 2,
          .ladder_step = 2, .incident = 1, .last_action = A_QUARANTINE, .other_culprit = true, .suspect = 1,
          .changed = true, .verdict = LADDER_STEP, .threshold = 1, .count = 5, .step = RESTORE,
          .switched = true, .new_incident = true, .want_failed = 5, .want_ladder_step = 1,
          .want_incident = 2, .want_action = A_RESTORE },

        /* ---- redo after a power cut ---- */
        { "a restore a power cut undid is redone at once", .failed = 3, .ladder_step = 1, .incident = 1,
          .last_action = A_RESTORE, .suspect = 1, .changed = true, .verdict = LADDER_STEP, .threshold = 3,
          .count = 1, .step = RESTORE, .redo = true, .want_failed = 4, .want_ladder_step = 1,
          .want_incident = 1, .want_action = A_RETRY },
        { "redone once only", .failed = 4, .ladder_step = 1, .incident = 1, .last_action = A_RETRY, .suspect = 1,
          .changed = true, .verdict = LADDER_WAIT, .threshold = 3, .count = 1, .step = NONE, .want_failed = 5,
          .want_step_failed = 1, .want_ladder_step = 1, .want_incident = 1, .want_action = A_RETRY },
        { "no redo when the restore took (content unchanged)", .failed = 3, .ladder_step = 1, .incident = 1,
          .last_action = A_RESTORE, .suspect = 1, .verdict = LADDER_WAIT, .threshold = 3, .count = 1,
          .step = NONE, .want_failed = 4, .want_step_failed = 1, .want_ladder_step = 1, .want_incident = 1,
          .want_action = A_RESTORE },
        { "no redo after a quarantine", .failed = 6, .ladder_step = 2, .incident = 1,
          .last_action = A_QUARANTINE, .suspect = 1, .changed = true, .verdict = LADDER_WAIT, .threshold = 3,
          .count = 1, .step = NONE, .want_failed = 7, .want_step_failed = 1, .want_ladder_step = 2,
          .want_incident = 1, .want_action = A_QUARANTINE },

        /* ---- requests and anti-tamper ---- */
        { "due, but safe mode was requested: the count is kept", .failed = 2, .suspect = 1, .changed = true,
          .safe_requested = true, .verdict = LADDER_DEFERRED, .threshold = 1, .count = 3, .step = NONE,
          .want_failed = 3 },
        { "due, no suspect: nothing touched", .failed = 2, .verdict = LADDER_NO_SUSPECT, .threshold = 3,
          .count = 3, .step = NONE, .want_failed = 3 },
        { "due, no suspect, safe_mode_without_suspect: safe mode", .safe_without_suspect = true, .failed = 2,
          .verdict = LADDER_NO_SUSPECT_SAFE_MODE, .threshold = 3, .count = 3, .step = SAFE, .want_failed = 3 },
        { "safe_mode_without_suspect needs safe-mode in the ladder", .shape = NO_SAFE,
          .safe_without_suspect = true, .failed = 2, .verdict = LADDER_NO_SUSPECT, .threshold = 3,
          .count = 3, .step = NONE, .want_failed = 3 },

        /* ---- a step that does not apply: the next one, when it is due ---- */
        { "restore skipped: quarantine, due", .failed = 2, .suspect = 1, .skips = 1, .verdict = LADDER_STEP,
          .threshold = 3, .count = 3, .step = QUARANTINE, .new_incident = true, .want_failed = 3,
          .want_ladder_step = 2, .want_incident = 1, .want_action = A_QUARANTINE },
        { "restore skipped: quarantine waits for its own threshold", .suspect = 1, .changed = true, .skips = 1,
          .verdict = LADDER_WAIT, .threshold = 3, .count = 1, .step = NONE, .new_incident = true, .want_failed = 1,
          .want_step_failed = 1, .want_ladder_step = 1, .want_incident = 1, .want_action = A_RESTORE },
        { "restore skipped, attributed: quarantine at once", .crash = true, .suspect = 1, .attributed = true,
          .skips = 1, .verdict = LADDER_STEP, .threshold = 1, .count = 1, .step = QUARANTINE,
          .fast_path = true, .new_incident = true, .want_failed = 1, .want_ladder_step = 2,
          .want_incident = 1, .want_action = A_QUARANTINE },
        { "restore and quarantine skipped: safe mode", .failed = 2, .suspect = 1, .skips = 2,
          .verdict = LADDER_STEP, .threshold = 3, .count = 3, .step = SAFE, .new_incident = true,
          .want_failed = 3, .want_ladder_step = 3, .want_incident = 1, .want_action = A_SAFE },
        { "a redo that does not apply: the next step waits", .failed = 3, .ladder_step = 1, .incident = 1,
          .last_action = A_RESTORE, .suspect = 1, .changed = true, .skips = 1, .verdict = LADDER_WAIT,
          .threshold = 3, .count = 1, .step = NONE, .want_failed = 4, .want_step_failed = 1,
          .want_ladder_step = 1, .want_incident = 1, .want_action = A_RETRY },

        /* ---- exhaustion ---- */
        { "exhausted, the ladder has safe mode: safe mode again", .failed = 9, .step_failed = 2, .ladder_step = 3,
          .incident = 1, .last_action = A_SAFE, .suspect = 1, .verdict = LADDER_STEP, .threshold = 3, .count = 3,
          .step = SAFE, .want_failed = 10, .want_ladder_step = 3, .want_incident = 1, .want_action = A_SAFE },
        { "exhausted, no safe mode in the ladder", .shape = NO_SAFE, .failed = 6, .step_failed = 2,
          .ladder_step = 2, .incident = 1, .last_action = A_QUARANTINE, .suspect = 1,
          .verdict = LADDER_EXHAUSTED, .threshold = 3, .count = 3, .step = NONE, .want_failed = 7,
          .want_step_failed = 3, .want_ladder_step = 2, .want_incident = 1, .want_action = A_QUARANTINE },
        { "the only step skipped: exhausted", .shape = RESTORE_ONLY, .failed = 2, .suspect = 1, .skips = 1,
          .verdict = LADDER_EXHAUSTED, .threshold = 1, .count = 3, .step = NONE, .new_incident = true,
          .want_failed = 3, .want_ladder_step = 1, .want_incident = 1, .want_action = A_RESTORE },
        { "the safe-mode fallback cannot be skipped forever", .failed = 9, .step_failed = 2,
          .ladder_step = 3, .incident = 1, .last_action = A_SAFE, .suspect = 1, .skips = 1,
          .verdict = LADDER_EXHAUSTED, .threshold = 3, .count = 3, .step = NONE, .want_failed = 10,
          .want_ladder_step = 3, .want_incident = 1, .want_action = A_SAFE },
};

static void policy_for(const Case *c, Policy *p) {
        assert_int_equal(policy_init_defaults(p), 0);
        assert_int_equal(p->boot.max_failed_boots, 3);
        assert_int_equal(p->recovery.attributed_crash_threshold, 1);
        static const LadderStep full[] = { RESTORE, QUARANTINE, SAFE };
        p->recovery.n_ladder = c->shape == FULL ? 3 : c->shape == NO_SAFE ? 2 : 1;
        memcpy(p->recovery.ladder, full, sizeof full);
        p->boot.count_unknown_failures = !c->no_unknown;
        p->recovery.safe_mode_without_suspect = c->safe_without_suspect;
}

static void run_case(const Case *c) {
        Policy p;
        policy_for(c, &p);
        Component sensor = { .name = (char *) "sensor" },
                  slow = { .name = (char *) "slow", .max_failed_boots = 5 };
        LadderState st = {
                .failed_boots = c->failed,
                .step_failed_boots = c->step_failed,
                .ladder_step = c->ladder_step,
                .incident = c->incident,
                .loop_started_usec = c->failed > 0 ? EARLIER : 0,
                .last_action = c->last_action,
                .last_action_usec = c->last_action ? EARLIER : 0,
        };
        /* An ongoing incident blames the suspect (or, without one, "sensor"). */
        if (c->ladder_step > 0)
                strcpy(st.culprit, c->other_culprit ? "other" : c->suspect == 5 ? "slow" : "sensor");
        LadderEvidence ev = {
                .previous_failed = !c->ok,
                .crash_record = c->crash,
                .safe_mode_requested = c->safe_requested,
                .now_usec = NOW,
        };

        LadderPlan plan;
        ladder_count(&p, &st, &ev, &plan);
        if (plan.verdict == LADDER_WAIT)
                assert_int_equal(plan.state.loop_started_usec, c->failed > 0 ? EARLIER : NOW);
        ev.culprit = c->suspect == 1 ? &sensor : c->suspect == 5 ? &slow : NULL;
        ev.attributed = c->attributed;
        ev.changed = c->changed;
        ladder_plan(&p, &ev, &plan);
        for (unsigned i = 0; i < c->skips; i++) {
                assert_int_equal(plan.verdict, LADDER_STEP);
                ladder_skip(&p, &ev, &plan);
        }

        assert_int_equal(plan.verdict, c->verdict);
        assert_int_equal(plan.threshold, c->threshold);
        assert_int_equal(plan.count, c->count);
        assert_int_equal(plan.step, c->step);
        assert_int_equal(plan.fast_path, c->fast_path);
        assert_int_equal(plan.redo, c->redo);
        assert_int_equal(plan.new_incident, c->new_incident);
        assert_int_equal(plan.culprit_gone, c->gone);
        assert_int_equal(plan.new_culprit, c->switched);
        const LadderState *s = &plan.state;
        assert_int_equal(s->failed_boots, c->want_failed);
        assert_int_equal(s->step_failed_boots, c->want_step_failed);
        assert_int_equal(s->ladder_step, c->want_ladder_step);
        assert_int_equal(s->incident, c->want_incident);
        assert_int_equal(s->last_action, c->want_action);
        /* A step's intent carries this boot's time; nothing else moves it. */
        assert_int_equal(s->last_action_usec,
                         plan.verdict == LADDER_STEP || (c->skips && c->want_action) ? NOW : st.last_action_usec);
        /* A new incident blames the culprit; an ongoing one keeps its own. */
        if (c->new_incident)
                assert_string_equal(s->culprit, ev.culprit->name);
        else
                assert_string_equal(s->culprit, st.culprit);
        policy_done(&p);
}

static void test_table(void **unused) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                print_message("  %s\n", cases[i].name);
                run_case(&cases[i]);
        }
}

/* Two whole crash loops, boot after boot, with what the suspect search
 * would find. A crash record that names the sensor at every boot climbs the
 * default ladder at the attributed threshold and then takes safe mode each
 * boot; a loop without crash records restores the changed content once and
 * then, the content back to its snapshot, touches nothing. */
static void test_crash_loops(void **unused) {
        Policy p;
        assert_int_equal(policy_init_defaults(&p), 0);
        Component sensor = { .name = (char *) "sensor" };
        for (int attributed = 1; attributed >= 0; attributed--) {
                LadderState st = {};
                LadderVerdict verdicts[12];
                LadderStep seen[12];
                size_t n = 0;
                for (unsigned boot = 1; boot <= 12; boot++) {
                        LadderEvidence ev = { .previous_failed = true,
                                              .crash_record = attributed,
                                              .now_usec = NOW + boot };
                        LadderPlan plan;
                        ladder_count(&p, &st, &ev, &plan);
                        bool restored = plan.state.ladder_step > 0;
                        ev.culprit = attributed || !restored ? &sensor : NULL;
                        ev.attributed = attributed;
                        ev.changed = !restored;
                        ladder_plan(&p, &ev, &plan);
                        verdicts[boot - 1] = plan.verdict;
                        if (plan.verdict == LADDER_STEP)
                                seen[n++] = plan.step;
                        st = plan.state;
                }
                if (attributed) {
                        /* restore, quarantine, then safe mode at every boot */
                        assert_int_equal(n, 12);
                        assert_int_equal(seen[0], RESTORE);
                        assert_int_equal(seen[1], QUARANTINE);
                        for (size_t i = 2; i < n; i++)
                                assert_int_equal(seen[i], SAFE);
                        assert_int_equal(st.ladder_step, 3);
                } else {
                        /* one restore; then every third boot "no suspect" */
                        assert_int_equal(n, 1);
                        assert_int_equal(seen[0], RESTORE);
                        assert_int_equal(verdicts[1], LADDER_WAIT);
                        assert_int_equal(verdicts[3], LADDER_NO_SUSPECT);
                        for (size_t i = 1; i < 12; i++)
                                assert_true(verdicts[i] == LADDER_WAIT || verdicts[i] == LADDER_NO_SUSPECT);
                        assert_int_equal(st.ladder_step, 1);
                }
                assert_int_equal(st.failed_boots, 12);
                assert_int_equal(st.incident, 1);
                assert_string_equal(st.culprit, "sensor");
        }
        policy_done(&p);
}

static void test_has_safe_mode(void **unused) {
        Policy p;
        assert_int_equal(policy_init_defaults(&p), 0);
        assert_true(ladder_has_safe_mode(&p));
        p.recovery.n_ladder = 2;
        assert_false(ladder_has_safe_mode(&p));
        policy_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_crash_loops),
                cmocka_unit_test(test_has_safe_mode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
