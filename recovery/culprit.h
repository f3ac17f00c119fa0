/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Finding the culprit of a crash loop.
 *
 * Evidence, strongest first:
 *   1. attribution: the fatal block of the previous boot's crash record
 *      (pstore.h) names a component at strong or medium strength — RIP in
 *      one of its kernel_modules, or a reliable call-trace frame in one;
 *      weak evidence (a module being loaded or listed) never attributes;
 *   2. recency: a component whose content differs from its newest
 *      known-good snapshot, the most recently changed (by ctime) first.
 * With recovery.require_suspect, a component is a suspect only if it is
 * attributed or changed within recovery.suspect_window before the loop
 * began; no suspect means no component is touched.
 *
 * A record whose fatal block names a component at most weakly clears it
 * (Culprit.cleared, crash_evidence_weigh()): the crash was elsewhere.
 */

#include "config/policy.h"
#include "recovery/pstore.h"

typedef struct CrashEvidence {
        bool found;          /* the previous boot left a crash record */
        CrashReport report;  /* parsed records (valid when found) */
        char summary[320];   /* one line: reason, faulting module */
        bool fatal;          /* the newest dump has a fatal block (an oops or panic report) */
        char points_at[128]; /* what that block names: "the core kernel (swapper/0)", "fakesensor (insmod)" */
} CrashEvidence;

int crash_evidence_collect(int root_fd, const Policy *p, const char *pstore_dir, CrashEvidence *ret) _wur_;
void crash_evidence_done(CrashEvidence *e);
/* How strongly E's crash names component C (its kernel_modules), and whether
 * it clears C. No record or no fatal block: strength none, not cleared. */
void crash_evidence_weigh(const CrashEvidence *e, const Component *c, CrashVerdict *ret);

typedef struct Culprit {
        const Component *component; /* NULL: no suspect */
        bool attributed;            /* the crash record names it, strong or medium */
        CrashStrength strength;     /* how strongly the crash record names it */
        bool cleared;               /* the crash record's fatal block names it at most weakly */
        char evidence[320];         /* CrashVerdict.why: "RIP in fakesensor (strong)", "cleared: …" */
        bool changed;               /* content differs from its newest known-good snapshot */
        uint64_t changed_usec;      /* newest ctime among its changed entries */
        char why[512];              /* the evidence, for the console and the event log */
} Culprit;

int culprit_find(int root_fd, const Policy *p, const CrashEvidence *ev, uint64_t loop_started_usec,
                 Culprit *ret) _wur_;
/* The culprit an ongoing incident already chose (kept for its later steps). */
int culprit_from_name(int root_fd, const Policy *p, const char *name, const CrashEvidence *ev, Culprit *ret) _wur_;
void culprit_done(Culprit *c);
