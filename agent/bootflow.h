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

typedef struct BootReport {
        BootMode mode;
        char step[32]; /* the ladder step performed, or "" */
        char summary[512];
        uint32_t failed_boots;
        uint32_t threshold;
        uint64_t total_boots;
} BootReport;

/* Context stops here: the flow below takes only what it needs from it. */
int bootflow_run(Context *ctx, BootReport *ret) _wur_;
