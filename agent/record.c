/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/record.h"

#include <fcntl.h>
#include <inttypes.h>

#include "agent/eventlog.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "recovery/quarantine.h"
#include "agent/report.h"
#include "lib/rootfs.h"
#include "agent/status.h"

#define RECOVERIES_MAX 256

void record_append(int root_fd, const Event *e) {
        int r = eventlog_append(root_fd, e);
        if (r < 0)
                log_warning_errno(r, "Failed to append the %s event to the event log, ignoring: %m",
                                  event_type_to_string(e->type) ?: "unknown");
}

void record_event(int root_fd, EventType type, const char *component, const char *action,
                  const char *message, char *const *evidence) {
        Event e = {
                .type = type,
                .component = component,
                .action = action,
                .message = message,
        };
        for (char *const *k = evidence; k && k[0] && k[1]; k += 2)
                event_add(&e, k[0], k[1]);
        record_append(root_fd, &e);
}

int record_read_recoveries(int root_fd, RecoveryCount **ret, size_t *ret_n) {
        _cleanup_free_ char *buf = NULL;
        int r = read_full_root(root_fd, LASTGOOD_RECOVERIES_FILE, 64 * 1024, &buf, NULL);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        RecoveryCount *l = calloc(RECOVERIES_MAX, sizeof *l);
        if (!l)
                return -ENOMEM;
        size_t n = 0;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line && n < RECOVERIES_MAX;
             line = strtok_r(NULL, "\n", &save)) {
                unsigned long long cnt, last = 0;
                if (sscanf(line, "%63s %31s %llu %llu", l[n].component, l[n].action, &cnt, &last) >= 3) {
                        l[n].count = cnt;
                        l[n].last_usec = last;
                        n++;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

void record_count_recovery(int root_fd, const char *component, const char *action) {
        RecoveryCount *l = NULL;
        size_t n = 0;
        int r = record_read_recoveries(root_fd, &l, &n);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the recovery counters, ignoring: %m");
                return;
        }
        if (!l && !(l = calloc(RECOVERIES_MAX, sizeof *l)))
                return;
        size_t i;
        for (i = 0; i < n; i++)
                if (streq(l[i].component, component) && streq(l[i].action, action))
                        break;
        if (i == n && n < RECOVERIES_MAX) {
                snprintf(l[n].component, sizeof l[n].component, "%s", component);
                snprintf(l[n].action, sizeof l[n].action, "%s", action);
                n++;
        }
        if (i < n) {
                l[i].count++;
                l[i].last_usec = now_realtime_usec();
        }

        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        for (size_t k = 0; f && k < n; k++)
                fprintf(f, "%s %s %" PRIu64 " %" PRIu64 "\n", l[k].component, l[k].action, l[k].count,
                        l[k].last_usec);
        _cleanup_free_ char *out = NULL;
        size_t len;
        r = memstream_finalize(&m, &out, &len);
        if (r >= 0)
                r = write_atomic_root(root_fd, LASTGOOD_RECOVERIES_FILE, out, len, 0644);
        if (r < 0)
                log_warning_errno(r, "Failed to write the recovery counters, ignoring: %m");
        free(l);
}

void record_report(int root_fd, const Policy *p, const StateStores *stores, const BootState *st) {
        const char *path = p->report.prometheus_textfile;
        if (!path || !*path)
                return;
        /* node_exporter not installed (no collector directory): nothing to do,
         * and nothing more to pay on the boot path. */
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return;
        _cleanup_close_ int dfd = root_openat(root_fd, *dir ? dir : "/", O_PATH | O_DIRECTORY, 0);
        if (dfd < 0)
                return;

        _cleanup_(status_data_done) StatusData s = {};
        if (status_collect_from(root_fd, p, stores, st, false, &s) < 0)
                return;
        RecoveryCount *rc = NULL;
        size_t nrc = 0;
        (void) record_read_recoveries(root_fd, &rc, &nrc);
        ReportRecovery rr[RECOVERIES_MAX];
        for (size_t i = 0; i < nrc; i++)
                rr[i] = (ReportRecovery) { .component = rc[i].component,
                                           .action = rc[i].action,
                                           .count = rc[i].count,
                                           .last_usec = rc[i].last_usec };
        _cleanup_strv_free_ char **comps = NULL, **quar = NULL;
        ReportSnapshot snaps[POLICY_MAX_COMPONENTS];
        size_t nsnaps = 0;
        for (size_t i = 0; i < s.n_components; i++) {
                (void) !strv_push(&comps, s.components[i].name);
                if (s.components[i].quarantined)
                        (void) !strv_push(&quar, s.components[i].name);
                if (s.components[i].newest_snapshot && nsnaps < ELEMENTSOF(snaps))
                        snaps[nsnaps++] = (ReportSnapshot) { .component = s.components[i].name,
                                                             .time_usec = s.components[i].newest_snapshot_usec };
        }
        ReportData d = {
                .failed_boots = st->failed_boots,
                .threshold = s.threshold,
                .boot_mode = boot_mode_to_string(st->boot_mode),
                .safe_mode = s.safe_mode_active,
                .last_confirmed_usec = st->last_confirmed_usec,
                .policy_errors = (uint32_t) strv_length(p->errors),
                .policy_fallback = policy_fallback_to_string(p->fallback),
                .policy_fallback_reason = p->fallback_reason,
                .internal_errors = st->internal_errors,
                .recoveries = rr,
                .n_recoveries = nrc,
                .components = comps,
                .quarantined = quar,
                .snapshots = snaps,
                .n_snapshots = nsnaps,
        };
        int r = report_write_prometheus(root_fd, path, &d);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to write the metrics textfile %s, ignoring: %m", path);
        free(rc);
}

void record_add_crash_evidence(Event *e, const CrashReport *r, const CrashVerdict *v) {
        if (!r || r->n_events == 0)
                return;
        const CrashEvent *ev = &r->events[0];
        if (ev->kind)
                event_addf(e, "crash_dump", "%s#%" PRIu32, ev->kind, ev->count);
        if (ev->time_sec > 0)
                event_addf(e, "crash_time", "%" PRIu64, ev->time_sec);
        event_add(e, "crash_reason", ev->reason);
        event_add(e, "crash_oops", ev->oops);
        event_add(e, "crash_rip", ev->rip);
        event_add(e, "crash_module", ev->fault_module);
        event_add(e, "crash_bpf_program", ev->fault_bpf);
        for (size_t j = 0; j < ev->n_modules; j++)
                if (ev->modules[j].loading) {
                        event_add(e, "crash_loading", ev->modules[j].name);
                        break;
                }
        event_add(e, "crash_comm", ev->comm);
        event_add(e, "crash_taint", ev->taint);
        event_add(e, "crash_kernel", ev->kernel_release);
        event_addf(e, "crash_records", "%zu", r->n_records);
        char at[128];
        if (pstore_points_at(r, at, sizeof at))
                event_addf(e, "crash_points_at", "%s", at);
        if (v && v->why[0]) {
                event_add(e, "crash_strength", crash_strength_to_string(v->strength));
                event_add(e, "crash_evidence", v->why);
        }
}
