/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The ladder's steps and their bookkeeping: restore-content (snapshot.c),
 * quarantine (quarantine.c), safe-mode (safemode.c); the events they leave
 * in the hash-chained log; archiving the crash records they acted on.
 */

#include "recovery/culprit.h"
#include "recovery/ladder.h"

typedef struct StepResult {
        char message[512]; /* what was done and why, one line */
} StepResult;

/*
 * Performs STEP for culprit C. Returns 0 when done; -EALREADY when the step
 * does not apply (nothing to restore: the content is already its known-good
 * state); -EPERM when the policy forbids it (quarantine: never); other
 * negative errno on failure. res->message says which, in every case.
 */
int steps_run(const LadderInput *in, LadderStep step, const Culprit *c, uint32_t incident, const CrashEvidence *ev,
              StepResult *res) _wur_;

/* Appends one event (type, component, action, message) with the evidence. */
void steps_record_event(const LadderInput *in, const char *type, const char *component, const char *action,
                        const char *message, const CrashEvidence *ev, const Culprit *c);

/* Archives the crash records to /var/lib/lastgood/crashes and clears them
 * from pstore (efi-pstore records would fill the NVRAM otherwise). */
void steps_archive_crash_records(const LadderInput *in, const CrashEvidence *ev);

/* Finishes or undoes what a power cut interrupted. */
void steps_recover_interrupted(int root_fd, const Policy *p);
