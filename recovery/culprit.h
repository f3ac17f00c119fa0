/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Finding the culprit of a crash loop.
 *
 * Evidence, strongest first:
 *   1. attribution: the previous boot's crash record (pstore) names a
 *      module — the faulting one (RIP … [module]) or one being loaded
 *      ("module(OE+)") — that a component lists in kernel_modules;
 *   2. recency: a component whose content differs from its newest
 *      known-good snapshot, the most recently changed (by ctime) first.
 * With recovery.require_suspect, a component is a suspect only if it is
 * attributed or changed within recovery.suspect_window before the loop
 * began; no suspect means no component is touched.
 */

#include "config/policy.h"
#include "recovery/pstore.h"

typedef struct CrashEvidence {
        bool found;         /* the previous boot left a crash record */
        CrashReport report; /* parsed records (valid when found) */
        char summary[320];  /* one line: reason, faulting module */
} CrashEvidence;

int crash_evidence_collect(int root_fd, const Policy *p, const char *pstore_dir, CrashEvidence *ret) _wur_;
void crash_evidence_done(CrashEvidence *e);

typedef struct Culprit {
        const Component *component; /* NULL: no suspect */
        bool attributed;            /* a crash record names it */
        bool changed;               /* content differs from its newest known-good snapshot */
        uint64_t changed_usec;      /* newest ctime among its changed entries */
        char why[512];              /* the evidence, for the console and the event log */
} Culprit;

int culprit_find(int root_fd, const Policy *p, const CrashEvidence *ev, uint64_t loop_started_usec,
                 Culprit *ret) _wur_;
/* The culprit an ongoing incident already chose (kept for its later steps). */
int culprit_from_name(int root_fd, const Policy *p, const char *name, const CrashEvidence *ev, Culprit *ret) _wur_;
void culprit_done(Culprit *c);
