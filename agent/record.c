/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/record.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>

#include "agent/context.h"
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
                /* The digest (5th field, "-" for none) is newer: older lines lack it. */
                int k = sscanf(line, "%63s %31s %llu %llu %79s", l[n].component, l[n].action, &cnt, &last,
                               l[n].digest);
                if (k >= 3) {
                        if (k < 5 || streq(l[n].digest, "-"))
                                l[n].digest[0] = '\0';
                        l[n].count = cnt;
                        l[n].last_usec = last;
                        n++;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

void record_count_recovery(int root_fd, const char *component, const char *action, const char *digest) {
        digest = digest ?: "";
        /* One token in the counters file, a label value in the textfile. */
        if (strlen(digest) >= sizeof((RecoveryCount *) NULL)->digest || strpbrk(digest, " \t\n"))
                digest = "";
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
                if (streq(l[i].component, component) && streq(l[i].action, action) && streq(l[i].digest, digest))
                        break;
        if (i == n && n < RECOVERIES_MAX) {
                snprintf(l[n].component, sizeof l[n].component, "%s", component);
                snprintf(l[n].action, sizeof l[n].action, "%s", action);
                snprintf(l[n].digest, sizeof l[n].digest, "%s", digest);
                n++;
        }
        if (i < n) {
                l[i].count++;
                l[i].last_usec = now_realtime_usec();
        }

        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        for (size_t k = 0; f && k < n; k++)
                fprintf(f, "%s %s %" PRIu64 " %" PRIu64 " %s\n", l[k].component, l[k].action, l[k].count,
                        l[k].last_usec, l[k].digest[0] ? l[k].digest : "-");
        _cleanup_free_ char *out = NULL;
        size_t len;
        r = memstream_finalize(&m, &out, &len);
        if (r >= 0)
                r = write_atomic_root(root_fd, LASTGOOD_RECOVERIES_FILE, out, len, 0644);
        if (r < 0)
                log_warning_errno(r, "Failed to write the recovery counters, ignoring: %m");
        free(l);
}

/* The runtime marker that asks lastgood-boot.service for a second run
 * (set) or says it is no longer needed (clear). Not state: not fsynced. */
static void report_pending(int runtime_fd, bool set) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        int r = root_open_parent(runtime_fd, LASTGOOD_REPORT_PENDING_MARKER, set, &dir_fd, &name);
        if (r >= 0)
                r = set ? write_atomic_at_full(dir_fd, name, "", 0,
                                               &(const WriteAtomicOptions) { .flags = WRITE_ATOMIC_NO_SYNC,
                                                                             .mode = 0644 })
                        : (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0);
        if (r < 0 && !(r == -ENOENT && !set))
                log_debug_errno(r, "Failed to %s %s, ignoring: %m", set ? "create" : "remove",
                                LASTGOOD_REPORT_PENDING_MARKER);
}

/* The textfile's directory DIR is missing: said once (notice and event),
 * remembered until the directory exists again. */
static void report_dir_missing(int root_fd, int runtime_fd, const char *dir) {
        _cleanup_free_ char *was = NULL, *now = NULL;
        if (asprintf(&now, "%s\n", dir) < 0)
                return;
        if (read_full_root(root_fd, LASTGOOD_REPORT_DIR_MISSING_FILE, 4096, &was, NULL) >= 0 && streq(was, now))
                return; /* already said */
        int r = write_atomic_root(root_fd, LASTGOOD_REPORT_DIR_MISSING_FILE, now, strlen(now), 0644);
        if (r == -EROFS) {
                /* The initramfs: the event log cannot take it either. The
                 * second run, from the writable root, says it. */
                report_pending(runtime_fd, true);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to write %s, ignoring (the notice below may repeat): %m",
                                  LASTGOOD_REPORT_DIR_MISSING_FILE);
        char msg[PATH_MAX + 200];
        snprintf(msg, sizeof msg,
                 "the metrics textfile directory %s does not exist (no node_exporter textfile collector?): "
                 "no metrics are written; create it, or set report.prometheus_textfile to \"\"",
                 dir);
        log_notice("%s.", msg);
        record_event(root_fd, EVENT_REPORT_DIR_MISSING, NULL, NULL, msg,
                     (char *const[]) { "directory", (char *) dir, NULL });
}

/* The directory is there (again): the next time it goes missing is news. */
static void report_dir_present(int root_fd) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        if (root_open_parent(root_fd, LASTGOOD_REPORT_DIR_MISSING_FILE, false, &dir_fd, &name) < 0)
                return;
        int r = unlink_durable_at(dir_fd, name);
        if (r < 0)
                log_debug_errno(r, "Failed to remove %s, ignoring: %m", LASTGOOD_REPORT_DIR_MISSING_FILE);
}

void record_report(int root_fd, int runtime_fd, const Policy *p, const StateStores *stores,
                   const BootState *st, RecordReportFlags flags) {
        const char *path = p->report.prometheus_textfile;
        if (!path || !*path)
                return;
        /* No collector directory: said once (not by the boot path: one
         * failed openat is all it pays). */
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return;
        _cleanup_close_ int dfd = root_openat(root_fd, *dir ? dir : "/", O_PATH | O_DIRECTORY, 0);
        if (dfd == -ENOENT) {
                if (!(flags & RECORD_REPORT_BOOT))
                        report_dir_missing(root_fd, runtime_fd, *dir ? dir : "/");
                return;
        }
        if (dfd < 0) {
                log_warning_errno(dfd, "Failed to open the metrics textfile directory %s, ignoring: %m", dir);
                return;
        }

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
                                           .content_digest = rc[i].digest,
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
                .version = LASTGOOD_VERSION,
                .recoveries = rr,
                .n_recoveries = nrc,
                .components = comps,
                .quarantined = quar,
                .snapshots = snaps,
                .n_snapshots = nsnaps,
        };
        int r = report_write_prometheus(root_fd, path, &d);
        if (r == -EROFS)
                /* Every healthy boot in the initramfs: not worth a warning. */
                report_pending(runtime_fd, true);
        else if (r == -ENOENT) {
                /* Gone since the check above. */
                if (!(flags & RECORD_REPORT_BOOT))
                        report_dir_missing(root_fd, runtime_fd, *dir ? dir : "/");
        } else if (r < 0)
                log_warning_errno(r, "Failed to write the metrics textfile %s, ignoring: %m", path);
        else {
                report_pending(runtime_fd, false);
                /* Unchanged, the file was there at the last write, which
                 * cleared the marker: nothing to look at. */
                if (r > 0)
                        report_dir_present(root_fd);
        }
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
