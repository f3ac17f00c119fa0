/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The ladder's steps: restore-content (snapshot.c), quarantine
 * (quarantine.c), safe-mode (safemode.c). A step acts on the system and
 * returns what it did; it never writes the boot record or the event log —
 * the boot flow (agent/bootflow.c) records the result.
 */

#include "recovery/culprit.h"

#define STEP_EVIDENCE_MAX 4

typedef struct StepEvidence {
        const char *key; /* static: [a-z0-9_] */
        char value[256];
} StepEvidence;

typedef struct StepResult {
        LadderStep step;
        char action[48];   /* "restore-content", "quarantine:skipped", "safe-mode:failed", … */
        char message[512]; /* what was done and why, one line */
        StepEvidence evidence[STEP_EVIDENCE_MAX]; /* what the step adds to the event */
        size_t n_evidence;
} StepResult;

/* The evidence key of the culprit content's digest ("sha256:<64 hex>",
 * manifest_content_digest()), which restore-content and quarantine take
 * before they replace or move the content. */
#define STEP_EVIDENCE_CONTENT_DIGEST "content_digest"
/* The value of evidence KEY in RES, or NULL. */
const char *step_result_evidence(const StepResult *res, const char *key);

/*
 * Performs STEP for culprit C (C->component may be NULL for safe mode: a
 * loop without a suspect). root_fd is the installed system, runtime_fd where
 * its /run is. Returns 0 when done; -EALREADY when the step does not apply
 * (nothing to restore: the content is already its known-good state); -EPERM
 * when the policy forbids it (quarantine: never); other negative errno on
 * failure. *ret is filled in every case.
 */
int steps_run(int root_fd, int runtime_fd, const Policy *p, LadderStep step, const Culprit *c,
              uint32_t incident, StepResult *ret) _wur_;

/* Finishes or undoes what a power cut interrupted (every boot, cheap).
 * Failures are logged and ignored: the boot goes on. */
void steps_recover_interrupted(int root_fd, const Policy *p);
