/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/report.h"

#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "config/policy.h"
#include "lib/rootfs.h"

static void put_label_value(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) (s ?: ""); *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p == '"')
                        fputs("\\\"", f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p < 0x20 || *p >= 0x7f)
                        fputc('?', f); /* keep the file valid UTF-8 whatever the policy held */
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_seconds(FILE *f, uint64_t usec) {
        fprintf(f, "%" PRIu64 ".%06" PRIu64 "\n", usec / USEC_PER_SEC, usec % USEC_PER_SEC);
}

static void sample1(FILE *f, const char *name, const char *label, const char *value) {
        fputs(name, f);
        fprintf(f, "{%s=", label);
        put_label_value(f, value);
        fputs("} ", f);
}

static void sample3(FILE *f, const char *name, const char *component, const char *action, const char *digest) {
        fprintf(f, "%s{component=", name);
        put_label_value(f, component);
        fputs(",action=", f);
        put_label_value(f, action);
        fputs(",content_digest=", f);
        put_label_value(f, digest);
        fputs("} ", f);
}

/* The first recovery of (COMPONENT, ACTION) and, unless DIGEST is NULL, that digest. */
static const ReportRecovery *find_recovery(const ReportData *d, const char *component, const char *action,
                                           const char *digest) {
        for (size_t i = 0; i < d->n_recoveries; i++)
                if (streq(d->recoveries[i].component ?: "", component) &&
                    streq(d->recoveries[i].action ?: "", action) &&
                    (!digest || streq(d->recoveries[i].content_digest ?: "", digest)))
                        return &d->recoveries[i];
        return NULL;
}

/* The first of its series: R's (component, action, digest) not seen before. */
static bool first_of_series(const ReportData *d, const ReportRecovery *r) {
        return find_recovery(d, r->component ?: "", r->action ?: "", r->content_digest ?: "") == r;
}

/* True when names[0..i) already holds names[i] (no duplicate series). */
static bool seen_before(char *const *names, size_t i) {
        for (size_t j = 0; j < i; j++)
                if (streq(names[j], names[i]))
                        return true;
        return false;
}

static void write_metrics(FILE *f, const ReportData *d) {
        header(f, "lastgood_failed_boots", "gauge", "Consecutive boots that were not confirmed good.");
        fprintf(f, "lastgood_failed_boots %" PRIu32 "\n", d->failed_boots);

        header(f, "lastgood_failed_boots_threshold", "gauge",
               "Failed boots that start recovery (boot.max_failed_boots).");
        fprintf(f, "lastgood_failed_boots_threshold %" PRIu32 "\n", d->threshold);

        header(f, "lastgood_boot_mode", "gauge", "The mode of the current boot: 1 for the active mode.");
        static const char *const modes[] = { "normal", "recovery", "safe" };
        const char *mode = d->boot_mode ?: "normal";
        bool known = false;
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                sample1(f, "lastgood_boot_mode", "mode", modes[i]);
                fprintf(f, "%d\n", streq(mode, modes[i]));
                known = known || streq(mode, modes[i]);
        }
        if (!known) {
                sample1(f, "lastgood_boot_mode", "mode", mode);
                fputs("1\n", f);
        }

        header(f, "lastgood_safe_mode", "gauge",
               "1 when this boot runs in safe mode (security components kept off).");
        fprintf(f, "lastgood_safe_mode %d\n", d->safe_mode);

        header(f, "lastgood_last_confirmed_boot_timestamp_seconds", "gauge",
               "When a boot was last confirmed good (Unix time; 0 = never).");
        fputs("lastgood_last_confirmed_boot_timestamp_seconds ", f);
        put_seconds(f, d->last_confirmed_usec);

        header(f, "lastgood_policy_errors", "gauge",
               "Problems found in the policy (defaults used in their place).");
        fprintf(f, "lastgood_policy_errors %" PRIu32 "\n", d->policy_errors);

        /* One series, always present: alert on lastgood_policy_fallback > 0. */
        bool fb = d->policy_fallback && !streq(d->policy_fallback, "none");
        header(f, "lastgood_policy_fallback", "gauge",
               "1 when the policy failed validation and was replaced (kind: last-good copy or strict settings).");
        fputs("lastgood_policy_fallback{kind=", f);
        put_label_value(f, fb ? d->policy_fallback : "none");
        if (fb) {
                fputs(",reason=", f);
                put_label_value(f, d->policy_fallback_reason);
        }
        fprintf(f, "} %d\n", fb);

        header(f, "lastgood_build_info", "gauge", "The lastgood version that wrote this file (always 1).");
        sample1(f, "lastgood_build_info", "version", d->version ?: "unknown");
        fputs("1\n", f);

        header(f, "lastgood_internal_errors_total", "counter", "Internal errors recorded by the agent.");
        fprintf(f, "lastgood_internal_errors_total %" PRIu32 "\n", d->internal_errors);

        header(f, "lastgood_recoveries_total", "counter",
               "Recovery actions taken, by component, ladder action and culprit content digest.");
        for (size_t i = 0; i < d->n_recoveries; i++) {
                const ReportRecovery *r = &d->recoveries[i];
                if (!first_of_series(d, r))
                        continue;
                sample3(f, "lastgood_recoveries_total", r->component, r->action, r->content_digest);
                fprintf(f, "%" PRIu64 "\n", r->count);
        }
        for (size_t c = 0; d->components && d->components[c]; c++) {
                if (seen_before(d->components, c))
                        continue;
                for (int a = 0; a < _LADDER_STEP_MAX; a++) {
                        const char *action = ladder_step_to_string((LadderStep) a);
                        if (find_recovery(d, d->components[c], action, NULL))
                                continue;
                        sample3(f, "lastgood_recoveries_total", d->components[c], action, "");
                        fputs("0\n", f);
                }
        }

        header(f, "lastgood_last_recovery_timestamp_seconds", "gauge",
               "When the latest recovery action of this kind was taken (Unix time).");
        for (size_t i = 0; i < d->n_recoveries; i++) {
                const ReportRecovery *r = &d->recoveries[i];
                if (r->last_usec == 0 || !first_of_series(d, r))
                        continue;
                sample3(f, "lastgood_last_recovery_timestamp_seconds", r->component, r->action, r->content_digest);
                put_seconds(f, r->last_usec);
        }

        header(f, "lastgood_quarantined", "gauge", "1 when the component is quarantined (disabled persistently).");
        for (size_t c = 0; d->components && d->components[c]; c++) {
                if (seen_before(d->components, c))
                        continue;
                sample1(f, "lastgood_quarantined", "component", d->components[c]);
                fprintf(f, "%d\n", d->quarantined && strv_contains(d->quarantined, d->components[c]));
        }
        for (size_t q = 0; d->quarantined && d->quarantined[q]; q++) {
                /* Quarantined but no longer in the policy: still reported. */
                if ((d->components && strv_contains(d->components, d->quarantined[q])) ||
                    seen_before(d->quarantined, q))
                        continue;
                sample1(f, "lastgood_quarantined", "component", d->quarantined[q]);
                fputs("1\n", f);
        }

        header(f, "lastgood_known_good_snapshot_timestamp_seconds", "gauge",
               "When the newest known-good content snapshot of the component was taken (Unix time).");
        for (size_t i = 0; i < d->n_snapshots; i++) {
                bool dup = false;
                for (size_t j = 0; j < i; j++)
                        dup = dup || streq(d->snapshots[j].component, d->snapshots[i].component);
                if (dup)
                        continue;
                sample1(f, "lastgood_known_good_snapshot_timestamp_seconds", "component",
                        d->snapshots[i].component);
                put_seconds(f, d->snapshots[i].time_usec);
        }
}

int report_format_prometheus(const ReportData *d, char **ret, size_t *ret_len) {
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        if (!f)
                return -ENOMEM;
        write_metrics(f, d);
        return memstream_finalize(&m, ret, ret_len);
}

/* NAME in dir_fd holds BUF already, as written (ours, 0644): a healthy boot
 * reports what the confirm before it did, and a rename that changes nothing
 * is a file created and one freed. Damage after a power cut (the file is
 * not fsynced), another mode or owner: rewritten. */
static bool textfile_unchanged(int dir_fd, const char *name, const char *buf, size_t len) {
        struct stat st;
        _cleanup_close_ int fd = openat_regular(dir_fd, name, &st);
        if (fd < 0 || st.st_uid != geteuid() || (st.st_mode & 07777) != 0644 || (uint64_t) st.st_size != len)
                return false;
        _cleanup_free_ char *old = malloc(len + 1);
        return old && loop_read(fd, old, len + 1) == (ssize_t) len && memcmp(old, buf, len) == 0;
}

int report_write_prometheus(int root_fd, const char *path, const ReportData *d) {
        if (!path || !*path)
                return 0;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = report_format_prometheus(d, &buf, &len);
        if (r < 0)
                return r;
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        /* Written as root into node_exporter's directory: a symlink on the
         * way (placed by whoever owns a directory there) would redirect it. */
        r = root_open_parent_nofollow(root_fd, path, &dir_fd, &name);
        if (r < 0)
                return r;
        if (textfile_unchanged(dir_fd, name, buf, len))
                return 0;
        /* The collector reads only *.prom: the temp file (".#name.XXXX")
         * is never picked up half-written. */
        r = write_atomic_at_full(dir_fd, name, buf, len,
                                 &(const WriteAtomicOptions) { .flags = WRITE_ATOMIC_NO_SYNC, .mode = 0644 });
        return r < 0 ? r : 1;
}
