/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The escalation ladder: what `boot` does when the machine is in a crash
 * loop. Each step (recovery.ladder: restore-content, quarantine, safe-mode)
 * gets its own run of failed boots; a confirmed boot ends the incident.
 *
 * The culprit is chosen once per incident: a component a crash record
 * attributes outranks the most recently changed one; with
 * recovery.require_suspect only a component that changed within
 * recovery.suspect_window before the loop began, or that a crash record
 * names, is ever touched (anti-tamper: crashing a machine must not switch
 * off its security product).
 */

#include "config/policy.h"
#include "agent/state.h"
#include "agent/state-store.h"

typedef struct LadderInput {
        int root_fd;
        int runtime_fd; /* where /run is: the root, or the initramfs's own (--runtime-root) */
        const Policy *policy;
        const char *pstore_dir; /* host path of the crash records */
        const char *boot_id;
        uint64_t now_usec;
        bool previous_failed;    /* the previous boot never confirmed */
        bool safe_mode_requested; /* a helpdesk/cmdline/ESP request is honoured this boot */
} LadderInput;

typedef struct LadderOutcome {
        BootMode mode;
        bool counted;           /* the previous failure counted */
        bool crash_record;      /* the previous boot left a crash record */
        uint32_t threshold;     /* the threshold that applied */
        char step[32];          /* ladder step performed, or "" */
        char culprit[64];
        char summary[512];      /* one line for the console: what and why */
} LadderOutcome;

/*
 * Counts the previous boot (crash / unknown), decides whether a ladder step
 * is due and performs it, updating *st. The intent is written to the state
 * stores before a step acts, so a power cut mid-step is resumed or undone at
 * the next boot. Errors in a step are logged and recorded, never fatal.
 */
int ladder_boot(const LadderInput *in, StateStores *stores, BootState *st, LadderOutcome *ret) _wur_;

/* Finishes or undoes steps a power cut interrupted (every boot, cheap). */
void ladder_recover_interrupted(int root_fd, const Policy *p);
