/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The `boot` flow, step by step:
 *   1. load the policy (errors → defaults, recorded);
 *   2. finish or undo whatever a power cut interrupted (restore, quarantine);
 *   3. read the state record (corrupt → counting restarts conservatively);
 *   4. a second run in the same boot (initramfs, then the service) only
 *      reports what the first one decided;
 *   5. safe-mode requests: pending --next-boot, lastgood.safemode= on the
 *      command line, EFI/lastgood/safemode on the ESP;
 *   6. the ladder (recovery/ladder.c): count the previous boot, act if due;
 *   7. one durable state write, then events and the metrics textfile.
 */

#include "agent/context.h"
#include "agent/state.h"

typedef struct BootReport {
        char mode[16];
        char step[32];
        char summary[512];
        uint32_t failed_boots;
        uint32_t threshold;
        uint64_t total_boots;
} BootReport;

int bootflow_run(Context *ctx, BootReport *ret) _wur_;
