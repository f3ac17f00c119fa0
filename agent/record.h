/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Leaving a trace of what lastgood did: the hash-chained event log and the
 * metrics textfile. Both are best effort — a full disk must not turn a
 * recovery into a failed boot — and failures are logged, not returned.
 */

#include "agent/eventlog.h"
#include "agent/state-store.h"
#include "recovery/pstore.h"

/* Appends E; a failure is logged ("…, ignoring"). */
void record_append(int root_fd, const Event *e);

/* Appends an event. EVIDENCE is NULL or a NULL-terminated list of
 * key, value, key, value, … strings. */
void record_event(int root_fd, EventType type, const char *component, const char *action,
                  const char *message, char *const *evidence);

/*
 * Rewrites the Prometheus textfile (report.prometheus_textfile) from the
 * current state: renamed into place, never fsynced (node_exporter reads it;
 * it is not state, and the next run rewrites it).
 *
 * A read-only root (the initramfs at a healthy boot) is no error: it leaves
 * LASTGOOD_REPORT_PENDING_MARKER beneath runtime_fd instead, quietly, and
 * lastgood-boot.service then runs `lastgood boot` again from the writable
 * root, which writes the file and removes the marker.
 *
 * A missing directory (node_exporter's textfile collector not installed)
 * is said once — a notice and a report-dir-missing event — and remembered
 * in LASTGOOD_REPORT_DIR_MISSING_FILE until the directory is there again;
 * with RECORD_REPORT_BOOT (`boot`, either run) it is not said at all: a
 * healthy boot writes nothing but its record, and `confirm` says it.
 */
typedef enum RecordReportFlags {
        RECORD_REPORT_BOOT = 1 << 0,
} RecordReportFlags;
void record_report(int root_fd, int runtime_fd, const Policy *p, const StateStores *stores,
                   const BootState *st, RecordReportFlags flags);

/* Counts a recovery action per component and culprit content digest
 * ("sha256:…", NULL or "" when unknown): lastgood_recoveries_total. */
void record_count_recovery(int root_fd, const char *component, const char *action, const char *digest);

typedef struct RecoveryCount {
        char component[64];
        char action[32];
        char digest[80]; /* "sha256:<64 hex>", "" when unknown */
        uint64_t count;
        uint64_t last_usec; /* the latest one, CLOCK_REALTIME */
} RecoveryCount;
/* Reads the counters; *ret is malloc'd. */
int record_read_recoveries(int root_fd, RecoveryCount **ret, size_t *ret_n);

/* Adds the fields of the newest dump's fatal block of R to E as evidence
 * ("crash_reason", "crash_module", "crash_rip", "crash_loading",
 * "crash_taint", "crash_points_at", …) and, with V (optional), how strongly it
 * names E's component ("crash_strength": "strong", "crash_evidence": "RIP in
 * fakesensor (strong)" or "cleared: the crash was in …"). The values point
 * into R and V, which must outlive the append. */
void record_add_crash_evidence(Event *e, const CrashReport *r, const CrashVerdict *v);
