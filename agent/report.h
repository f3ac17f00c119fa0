/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Fleet reporting through the monitoring fleets already run: a Prometheus
 * node_exporter textfile-collector file (policy report.prometheus_textfile),
 * rewritten atomically after `boot` and `confirm`.
 *
 * Metrics (all with HELP and TYPE lines):
 *   lastgood_failed_boots                                   gauge
 *   lastgood_failed_boots_threshold                         gauge
 *   lastgood_boot_mode{mode="normal|recovery|safe"}         gauge, 1 for this boot's mode
 *   lastgood_safe_mode                                      gauge, 0|1
 *   lastgood_last_confirmed_boot_timestamp_seconds          gauge, 0 = never
 *   lastgood_policy_errors                                  gauge
 *   lastgood_policy_fallback{kind="none|last-good|strict",reason}  gauge, 1 when an invalid
 *                                                           policy was replaced (reason: its first error)
 *   lastgood_build_info{version}                            gauge, always 1
 *   lastgood_internal_errors_total                          counter
 *   lastgood_recoveries_total{component,action,content_digest}  counter
 *   lastgood_last_recovery_timestamp_seconds{component,action,content_digest}  gauge
 *   lastgood_quarantined{component}                         gauge, 0|1
 *   lastgood_known_good_snapshot_timestamp_seconds{component}  gauge
 *
 * content_digest names the culprit content a recovery replaced or moved
 * ("sha256:<64 hex>", manifest_content_digest(): the same on every machine
 * for the same vendor content); "" when there is none (safe mode) or it was
 * not known. lastgood_recoveries_total is also written as 0 for every known
 * component and every ladder action that has no recovery yet (with
 * content_digest=""): a counter series that is born at 1 is invisible to
 * increase(). A series for a new digest is born at 1 all the same; the fleet
 * rules therefore count machines by the timestamp gauge.
 */

#include <stdint.h>

#include "lib/util.h"

typedef struct ReportRecovery {
        const char *component;      /* "" for actions without a culprit (safe mode) */
        const char *action;         /* ladder step: restore-content, quarantine, safe-mode */
        const char *content_digest; /* "sha256:…" of the culprit content, NULL or "" when unknown */
        uint64_t count;             /* cumulative, never decreasing */
        uint64_t last_usec;         /* CLOCK_REALTIME of the latest one; 0 = unknown (not written) */
} ReportRecovery;

typedef struct ReportSnapshot {
        const char *component;
        uint64_t time_usec; /* newest known-good snapshot, CLOCK_REALTIME */
} ReportSnapshot;

typedef struct ReportData {
        uint32_t failed_boots;
        uint32_t threshold;
        const char *boot_mode; /* "normal", "recovery" or "safe" */
        bool safe_mode;
        uint64_t last_confirmed_usec; /* 0 = never */
        uint32_t policy_errors;
        const char *policy_fallback;        /* policy_fallback_to_string(), NULL = "none" */
        const char *policy_fallback_reason; /* NULL when none */
        uint32_t internal_errors;
        const char *version;              /* lastgood_build_info{version} */
        const ReportRecovery *recoveries; /* each (component, action, content_digest) once */
        size_t n_recoveries;
        char *const *components;  /* every policy component (NULL-terminated; may be NULL) */
        char *const *quarantined; /* the quarantined ones (NULL-terminated; may be NULL) */
        const ReportSnapshot *snapshots;
        size_t n_snapshots;
} ReportData;

/* The textfile contents; *ret is malloc()ed. Label values are escaped
 * (\\, \", \n) and non-ASCII or control bytes become '?'. */
int report_format_prometheus(const ReportData *d, char **ret, size_t *ret_len) _wur_;

/*
 * Writes the textfile atomically (mode 0644) at PATH beneath root_fd, not
 * durably (renamed into place, no fsync: it is not state). An
 * empty or NULL path means reporting is disabled: returns 0, writes nothing.
 * 1 when written, 0 when the file already said the same (or reporting is
 * off). The directory is node_exporter's to create: -ENOENT when it is missing
 * (callers may treat that as "no collector installed"); -ELOOP or -ENOTDIR
 * when a directory on the way is a symlink (never followed).
 */
int report_write_prometheus(int root_fd, const char *path, const ReportData *d) _wur_;
