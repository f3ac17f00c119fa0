/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The escalation ladder, as arithmetic: what `boot` does when the machine is
 * in a crash loop. Each step (recovery.ladder: restore-content, quarantine,
 * safe-mode) gets its own run of failed boots; a confirmed boot ends the
 * incident.
 *
 * No I/O here: the boot flow (agent/bootflow.c) reads the record, gathers
 * the evidence (crash records, the suspect: recovery/culprit.h), asks the
 * ladder, writes the record and runs the step (recovery/steps.h). A plan is
 * made in two calls because the suspect search prefers the incident's
 * culprit, which the counted state names:
 *
 *   ladder_count(p, &state, &ev, &plan);      counted or not
 *   … find the suspect (preferring plan.state.culprit) …
 *   ladder_plan(p, &ev, &plan);               threshold, due, which step
 *   … run plan.step; if it did not apply: ladder_skip(p, &ev, &plan) …
 *
 * Each step acts only on a current suspect (culprit.h: attributed by the
 * crash record, or changed with no crash record); the suspect is found
 * again at every failed boot. When the incident's culprit is no longer a
 * suspect (its restored content did not end the loop, a crash record now
 * points elsewhere) nothing is touched; when another component is, its own
 * ladder starts. Thresholds per step:
 *   restore-content   recovery.restore_threshold (default 1): low impact,
 *                     protection stays on;
 *   quarantine,       the component's max_failed_boots (boot.max_failed_boots),
 *   safe-mode         or recovery.attributed_crash_threshold when a crash
 *                     record attributes it (the fast path).
 */

#include <errno.h>

#include "config/policy.h"

/* What the ladder did last in the current incident. The values are stored in
 * the state record: append only, never renumber. */
typedef enum LadderAction {
        LADDER_ACTION_NONE = 0,
        LADDER_ACTION_RESTORE_CONTENT = 1,
        LADDER_ACTION_QUARANTINE = 2,
        LADDER_ACTION_SAFE_MODE = 3,
        LADDER_ACTION_RESTORE_CONTENT_RETRY = 4, /* a restore redone after a power cut undid it */
        _LADDER_ACTION_MAX,
        _LADDER_ACTION_INVALID = -EINVAL,
} LadderAction;

/* "restore-content", …, "restore-content-retry"; NULL for NONE or invalid. */
const char *ladder_action_to_string(LadderAction a);
/* The inverse; "" is NONE; _LADDER_ACTION_INVALID for anything else. */
LadderAction ladder_action_from_string(const char *s);

/* Whether recovery.ladder has safe-mode (then it is also what an exhausted
 * ladder falls back to). */
bool ladder_has_safe_mode(const Policy *p);

/* The ladder's part of the boot record. */
typedef struct LadderState {
        uint32_t failed_boots;      /* consecutive failed boots that counted */
        uint32_t step_failed_boots; /* failed boots since the last step */
        uint32_t ladder_step;       /* steps taken in the current incident */
        uint32_t incident;          /* incident number; 0 = none yet */
        uint64_t loop_started_usec; /* first failed boot of the current run */
        LadderAction last_action;
        uint64_t last_action_usec;
        char culprit[64]; /* the component the current incident blames, or "" */
} LadderState;

/* What the boot flow found out about the previous boot. */
typedef struct LadderEvidence {
        bool previous_failed;     /* it never confirmed (or its record was corrupt) */
        bool crash_record;        /* it left a crash record */
        const Component *culprit; /* the current suspect (ladder_plan only), or NULL */
        bool attributed;          /* the crash record names it (strong or medium) */
        bool changed;             /* its content differs from its newest known-good snapshot */
        bool safe_mode_requested; /* a safe-mode request is honoured this boot */
        uint64_t now_usec;
} LadderEvidence;

typedef enum LadderVerdict {
        LADDER_NOT_FAILED,           /* the previous boot did not fail: nothing to do */
        LADDER_NOT_COUNTED,          /* failed without a crash record; boot.count_unknown_failures=false */
        LADDER_WAIT,                 /* counted, below the threshold */
        LADDER_DEFERRED,             /* due, but safe mode was requested: the count is kept */
        LADDER_NO_SUSPECT,           /* due, no suspect: no component is touched */
        LADDER_NO_SUSPECT_SAFE_MODE, /* due, no suspect: safe mode (recovery.safe_mode_without_suspect) */
        LADDER_STEP,                 /* plan.step is due for the culprit */
        LADDER_EXHAUSTED,            /* every step was taken and the ladder has no safe mode */
        _LADDER_VERDICT_MAX,
} LadderVerdict;

typedef struct LadderPlan {
        LadderVerdict verdict;
        uint32_t threshold; /* the failed boots that make a step due */
        uint32_t count;     /* failed boots toward it (the incident's, or the current step's) */
        bool fast_path;     /* a crash record naming the culprit lowered the threshold */
        bool culprit_gone;  /* the incident's culprit is no longer a suspect */
        bool new_culprit;   /* another component is the suspect now: its ladder starts over */
        bool redo;          /* LADDER_STEP: a restore that a power cut undid, redone at once */
        bool new_incident;  /* LADDER_STEP: this step opens incident state.incident */
        LadderStep step;    /* LADDER_STEP, LADDER_NO_SUSPECT_SAFE_MODE: the step to take */
        LadderState state;  /* the record: counted; for LADDER_STEP the intent, written before acting */
} LadderPlan;

/* Does the previous boot count? Sets *ret from ST: verdict LADDER_NOT_FAILED,
 * LADDER_NOT_COUNTED, or LADDER_WAIT with the failure counted in ret->state. */
void ladder_count(const Policy *p, const LadderState *st, const LadderEvidence *ev, LadderPlan *ret);

/* Completes a counted plan (verdict LADDER_WAIT) with the culprit evidence:
 * the threshold, and whether a step is due and which. Other verdicts are
 * left as they are. */
void ladder_plan(const Policy *p, const LadderEvidence *ev, LadderPlan *plan);

/* The step of a LADDER_STEP plan did not apply (nothing to restore,
 * quarantine: never): the next step, in this same boot if its threshold is
 * met (else LADDER_WAIT at that step), or the end of the ladder. */
void ladder_skip(const Policy *p, const LadderEvidence *ev, LadderPlan *plan);
