/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The `boot` flow, step by step. It is the only owner of a boot's state
 * record: nothing below it reads or writes the record.
 *   1. load the policy (errors → defaults, recorded);
 *   2. finish or undo whatever a power cut interrupted (restore, quarantine);
 *   3. read the state record (corrupt → counting restarts conservatively);
 *   4. a second run in the same boot (initramfs, then the service) only
 *      reports what the first one decided;
 *   5. safe-mode requests (agent/safe-request.c);
 *   6. the evidence about the previous boot (crash records, the culprit),
 *      and the ladder's plan (recovery/ladder.c: pure arithmetic);
 *   7. the intent goes to disk, then the step runs (recovery/steps.c) and
 *      its result is recorded in the event log;
 *   8. one final durable state write, then the metrics textfile.
 * A write that fails is logged and recorded (internal_errors, last_error,
 * an internal-error event), never fatal: the boot goes on.
 */

#include "agent/context.h"
#include "agent/state.h"
#include "lib/names.h"

typedef struct BootReport {
        BootMode mode;
        char step[32]; /* the ladder step performed, or "" */
        char summary[512];
        uint32_t failed_boots;
        uint32_t threshold;
        uint64_t total_boots;
        bool again; /* a second run in this boot: it only reports */
        /* What the evidence about a failed previous boot said, as the boot's
         * events record it (`boot --json`); all empty when it did not fail. */
        char culprit[NAME_COMPONENT_MAX + 1]; /* the suspect, or "" */
        char suspect[16];                     /* "attributed", "changed", or "" */
        char culprit_evidence[320];
        char crash_record[320]; /* the crash record's one-line summary, or "" */
        char why[1024];         /* every component's evidence in one line */
        char **evidence;        /* NAME, WORDS, NAME, WORDS, …, NULL (or NULL) */
} BootReport;

void boot_report_done(BootReport *r);

/* Context stops here: the flow below takes only what it needs from it. */
int bootflow_run(Context *ctx, BootReport *ret) _wur_;
