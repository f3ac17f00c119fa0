/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Who is a suspect for a failed boot, and on what evidence.
 *
 * A component is a suspect only if
 *   (a) ATTRIBUTED: the fatal block of the previous boot's crash record
 *       (pstore.h) names it at strong or medium strength — RIP in one of
 *       its kernel_modules or bpf_programs, its process crashing (Comm:),
 *       or a reliable call-trace frame in one; or
 *   (b) CHANGED: the previous boot left no crash record with a fatal block,
 *       and its content differs from its newest known-good snapshot — the
 *       content a confirmed boot ran (snapshot.h; decided from the manifest
 *       and the files' identity, never from time stamps).
 * A crash record whose fatal block names a component at most weakly CLEARS
 * it: recency never blames a component when the kernel pointed elsewhere.
 * Weak evidence (a module being loaded or listed, taint) never makes a
 * suspect.
 *
 * The search runs at every failed boot: evidence is per boot, not per
 * incident. Once restored, a component's content equals its snapshot and
 * is no longer a change, so restoring known-good content that does not end
 * the loop clears the content; only attribution or another change makes it
 * a suspect again. A quarantined component can only be attributed (its
 * quarantine did not contain it), never a suspect by change.
 *
 * recovery.require_suspect: false (not recommended) lets a changed component
 * stay a suspect when a crash record points elsewhere.
 */

#include "config/policy.h"
#include "recovery/pstore.h"
#include "recovery/snapshot.h"

typedef struct CrashEvidence {
        bool found;          /* the previous boot left a crash record */
        CrashReport report;  /* parsed records (valid when found) */
        char summary[320];   /* one line: reason, faulting module */
        bool fatal;          /* the newest dump has a fatal block (an oops or panic report) */
        char points_at[128]; /* what that block names: "the core kernel (swapper/0)", "fakesensor (insmod)" */
} CrashEvidence;

int crash_evidence_collect(const char *pstore_dir, CrashEvidence *ret) _wur_;
void crash_evidence_done(CrashEvidence *e);
/* How strongly E's crash names component C, and whether it clears C. No
 * record or no fatal block: strength none, not cleared. */
void crash_evidence_weigh(const CrashEvidence *e, const Component *c, CrashVerdict *ret);

typedef enum SuspectReason {
        SUSPECT_NONE,
        SUSPECT_ATTRIBUTED, /* (a) above */
        SUSPECT_CHANGED,    /* (b) above */
        _SUSPECT_REASON_MAX,
} SuspectReason;

/* "none", "attributed", "changed". */
const char *suspect_reason_to_string(SuspectReason r);

/* What one component's evidence is, in words and in fields. */
typedef struct ComponentEvidence {
        const Component *component;
        SuspectReason suspect;
        CrashVerdict verdict; /* what the crash record says of it */
        ContentChange change; /* its content against its newest known-good snapshot */
        bool change_known;    /* the comparison ran (not quarantined, no error) */
        int quarantined;      /* quarantine_is_active(): 1, 0, or < 0 (registry unreadable) */
        /* "attributed: RIP in fakesensor (strong)", "cleared: the crash was in
         * the core kernel (swapper/0)", "changed since the last confirmed
         * boot: 3 files", "unchanged since the last confirmed boot", … */
        char words[320];
} ComponentEvidence;

typedef struct Culprit {
        const Component *component; /* the suspect, NULL: none */
        SuspectReason reason;
        bool attributed;        /* reason == SUSPECT_ATTRIBUTED */
        CrashStrength strength; /* how strongly the crash record names it */
        bool changed;           /* its content differs from its newest known-good snapshot */
        char evidence[320];     /* the suspect's ComponentEvidence.words */
        /* Every component's evidence, "name: words; …", for the console and
         * the event log. */
        char why[1024];
        ComponentEvidence *components; /* one per policy component, in policy order */
        size_t n_components;
} Culprit;

/*
 * Weighs every component against E and chooses the suspect: the strongest
 * attribution (among equals PREFERRED — the ongoing incident's culprit, may
 * be NULL — then the first listed); without one, a changed component
 * (PREFERRED first, then the newest change: ctimes order candidates, they
 * never make one). No suspect: ret->component NULL, ret->why says why.
 */
int culprit_find(int root_fd, const Policy *p, const CrashEvidence *e, const char *preferred, Culprit *ret) _wur_;
void culprit_done(Culprit *c);
