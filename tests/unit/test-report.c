/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <dirent.h>

#include "agent/report.h"
#include "lib/rootfs.h"

#define TEXTFILE "/var/lib/prometheus/node-exporter/lastgood.prom"

static char *component_names[] = { "examplesensor", "edr", NULL };
static char *quarantined_names[] = { "edr", "gone-from-policy", NULL };

#define DIGEST1_TEXT "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define DIGEST2_TEXT "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static const ReportRecovery recoveries[] = {
        { .component = "examplesensor",
          .action = "restore-content",
          .content_digest = DIGEST1_TEXT,
          .count = 2,
          .last_usec = 1700000000123456ULL },
        { .component = "examplesensor",
          .action = "restore-content",
          .content_digest = DIGEST2_TEXT,
          .count = 1,
          .last_usec = 1700000900000000ULL },
        { .component = "edr", .action = "quarantine", .content_digest = DIGEST1_TEXT, .count = 1, .last_usec = 1700000500000000ULL },
        { .component = "", .action = "safe-mode", .count = 1, .last_usec = 0 },
};

static const ReportSnapshot snapshots[] = {
        { "examplesensor", 1699990000000000ULL },
        { "edr", 1699990001500000ULL },
};

static ReportData sample(void) {
        return (ReportData) {
                .failed_boots = 2,
                .threshold = 3,
                .boot_mode = "recovery",
                .safe_mode = false,
                .last_confirmed_usec = 1699999999000001ULL,
                .policy_errors = 1,
                .internal_errors = 4,
                .version = "9.8-test",
                .recoveries = recoveries,
                .n_recoveries = ELEMENTSOF(recoveries),
                .components = component_names,
                .quarantined = quarantined_names,
                .snapshots = snapshots,
                .n_snapshots = ELEMENTSOF(snapshots),
        };
}

static char *format(const ReportData *d) {
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(report_format_prometheus(d, &buf, &len), 0);
        assert_int_equal(strlen(buf), len);
        return buf;
}

static void assert_line(const char *text, const char *line) {
        char *want;
        assert_true(asprintf(&want, "\n%s\n", line) > 0);
        if (!strstr(text, want))
                fail_msg("missing line [%s] in:\n%s", line, text);
        free(want);
}

static void test_metrics(void **state) {
        ReportData d = sample();
        char *t = format(&d);
        assert_line(t, "lastgood_failed_boots 2");
        assert_line(t, "lastgood_failed_boots_threshold 3");
        assert_line(t, "lastgood_boot_mode{mode=\"recovery\"} 1");
        assert_line(t, "lastgood_boot_mode{mode=\"normal\"} 0");
        assert_line(t, "lastgood_boot_mode{mode=\"safe\"} 0");
        assert_line(t, "lastgood_safe_mode 0");
        assert_line(t, "lastgood_last_confirmed_boot_timestamp_seconds 1699999999.000001");
        assert_line(t, "lastgood_policy_errors 1");
        /* One series per culprit content digest: the fleet tells the bad
         * version from the good one. */
        assert_line(t, "lastgood_recoveries_total{component=\"examplesensor\",action=\"restore-content\","
                       "content_digest=\"" DIGEST1_TEXT "\"} 2");
        assert_line(t, "lastgood_recoveries_total{component=\"examplesensor\",action=\"restore-content\","
                       "content_digest=\"" DIGEST2_TEXT "\"} 1");
        assert_line(t, "lastgood_recoveries_total{component=\"edr\",action=\"quarantine\",content_digest=\"" DIGEST1_TEXT
                       "\"} 1");
        assert_line(t, "lastgood_recoveries_total{component=\"\",action=\"safe-mode\",content_digest=\"\"} 1");
        /* Zero series for what has not happened yet (increase() needs them). */
        assert_line(t, "lastgood_recoveries_total{component=\"examplesensor\",action=\"quarantine\",content_digest=\"\"} 0");
        assert_line(t, "lastgood_recoveries_total{component=\"edr\",action=\"restore-content\",content_digest=\"\"} 0");
        /* … but none beside a real series of the same component and action. */
        assert_null(strstr(t, "{component=\"examplesensor\",action=\"restore-content\",content_digest=\"\"}"));
        assert_line(t, "lastgood_last_recovery_timestamp_seconds{component=\"examplesensor\",action=\"restore-content\","
                       "content_digest=\"" DIGEST1_TEXT "\"} 1700000000.123456");
        assert_line(t, "lastgood_last_recovery_timestamp_seconds{component=\"examplesensor\",action=\"restore-content\","
                       "content_digest=\"" DIGEST2_TEXT "\"} 1700000900.000000");
        assert_null(strstr(t, "lastgood_last_recovery_timestamp_seconds{component=\"\""));
        assert_line(t, "lastgood_build_info{version=\"9.8-test\"} 1");
        assert_line(t, "# TYPE lastgood_build_info gauge");
        /* A counter by name and by type; the old gauge is gone. */
        assert_line(t, "lastgood_internal_errors_total 4");
        assert_line(t, "# TYPE lastgood_internal_errors_total counter");
        assert_null(strstr(t, "lastgood_internal_errors "));
        assert_null(strstr(t, "lastgood_internal_errors{"));
        assert_line(t, "lastgood_quarantined{component=\"examplesensor\"} 0");
        assert_line(t, "lastgood_quarantined{component=\"edr\"} 1");
        assert_line(t, "lastgood_quarantined{component=\"gone-from-policy\"} 1");
        assert_line(t, "lastgood_known_good_snapshot_timestamp_seconds{component=\"edr\"} 1699990001.500000");
        assert_line(t, "# TYPE lastgood_recoveries_total counter");
        assert_line(t, "# TYPE lastgood_failed_boots gauge");
        /* Every metric has HELP and TYPE. */
        static const char *const names[] = {
                "lastgood_failed_boots",
                "lastgood_boot_mode",
                "lastgood_recoveries_total",
                "lastgood_quarantined",
                "lastgood_safe_mode",
                "lastgood_last_confirmed_boot_timestamp_seconds",
                "lastgood_known_good_snapshot_timestamp_seconds",
                "lastgood_policy_errors",
                "lastgood_build_info",
                "lastgood_internal_errors_total",
                "lastgood_last_recovery_timestamp_seconds",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char h[200];
                snprintf(h, sizeof h, "# HELP %s ", names[i]);
                assert_non_null(strstr(t, h));
        }
        free(t);
}

static void test_label_escaping(void **state) {
        char *comps[] = { "a\"b\\c\nd", "caf\xc3\xa9\x01", NULL };
        ReportData d = { .boot_mode = "normal", .components = comps };
        char *t = format(&d);
        assert_line(t, "lastgood_quarantined{component=\"a\\\"b\\\\c\\nd\"} 0");
        assert_line(t, "lastgood_quarantined{component=\"caf???\"} 0");
        /* The raw newline never splits a sample line. */
        assert_null(strstr(t, "c\nd"));
        free(t);
}

/* Issue 11 finding 5: one series, 0 without a fallback, 1 with its kind and
 * reason (escaped like every label). */
static void test_policy_fallback(void **state) {
        ReportData d = { .boot_mode = "normal" };
        char *t = format(&d);
        assert_line(t, "lastgood_policy_fallback{kind=\"none\"} 0");
        assert_non_null(strstr(t, "# HELP lastgood_policy_fallback "));
        free(t);
        d.policy_fallback = "none";
        t = format(&d);
        assert_line(t, "lastgood_policy_fallback{kind=\"none\"} 0");
        free(t);
        d.policy_fallback = "last-good";
        d.policy_fallback_reason = "/etc/lastgood/policy.yaml:3:3: unknown key 'a\"b\\c'";
        t = format(&d);
        assert_line(t, "lastgood_policy_fallback{kind=\"last-good\",reason=\"/etc/lastgood/policy.yaml:3:3: unknown "
                       "key 'a\\\"b\\\\c'\"} 1");
        assert_null(strstr(t, "kind=\"none\""));
        free(t);
}

static void test_no_duplicate_series(void **state) {
        char *comps[] = { "x", "x", NULL };
        char *quar[] = { "y", "y", NULL };
        const ReportRecovery rec[] = { { .component = "x", .action = "quarantine", .count = 1, .last_usec = 5 },
                                       { .component = "x", .action = "quarantine", .count = 3, .last_usec = 6 } };
        const ReportSnapshot snaps[] = { { "x", 1 }, { "x", 2 } };
        ReportData d = { .boot_mode = "weird",
                         .components = comps,
                         .quarantined = quar,
                         .recoveries = rec,
                         .n_recoveries = 2,
                         .snapshots = snaps,
                         .n_snapshots = 2 };
        char *t = format(&d);
        const char *needles[] = {
                "lastgood_quarantined{component=\"x\"}", "lastgood_quarantined{component=\"y\"}",
                "lastgood_recoveries_total{component=\"x\",action=\"quarantine\",content_digest=\"\"}",
                "lastgood_recoveries_total{component=\"x\",action=\"safe-mode\",content_digest=\"\"}",
                "lastgood_known_good_snapshot_timestamp_seconds{component=\"x\"}"
        };
        for (size_t i = 0; i < ELEMENTSOF(needles); i++) {
                const char *p = strstr(t, needles[i]);
                assert_non_null(p);
                assert_null(strstr(p + 1, needles[i]));
        }
        assert_line(t, "lastgood_boot_mode{mode=\"weird\"} 1");
        free(t);
}

static char *textfile_path(const char *dir) {
        char *p;
        assert_true(asprintf(&p, "%s%s", dir, TEXTFILE) > 0);
        return p;
}

static void test_write_and_promtool(void **state) {
        char *dir = unit_mkdtemp();
        int root_fd;
        assert_int_equal(root_open(dir, &root_fd), 0);
        ReportData d = sample();

        /* No collector directory: nothing created. */
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), -ENOENT);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "test ! -e '%s/var/lib/prometheus'", dir);
        assert_int_equal(system(cmd), 0);

        snprintf(cmd, sizeof cmd, "mkdir -p '%s/var/lib/prometheus/node-exporter'", dir);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), 1);
        d.failed_boots = 0; /* a rewrite replaces the file */
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), 1);

        char *path = textfile_path(dir);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        char buf[16384];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        assert_non_null(strstr(buf, "\nlastgood_failed_boots 0\n"));

        /* The same report again: the file is left as it is (same inode);
         * a different one, a damaged file or another mode: replaced. */
        struct stat st2;
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), 0); /* unchanged */
        assert_int_equal(stat(path, &st2), 0);
        assert_int_equal(st2.st_ino, st.st_ino);
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), 1);
        assert_int_equal(stat(path, &st2), 0);
        assert_int_not_equal(st2.st_ino, st.st_ino);
        assert_int_equal(st2.st_mode & 07777, 0644);
        st = st2;
        assert_int_equal(truncate(path, 10), 0);
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), 1);
        assert_int_equal(stat(path, &st2), 0);
        assert_int_not_equal(st2.st_ino, st.st_ino);
        st = st2;
        d.failed_boots = 1;
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), 1);
        assert_int_equal(stat(path, &st2), 0);
        assert_int_not_equal(st2.st_ino, st.st_ino);
        d.failed_boots = 0;
        assert_int_equal(report_write_prometheus(root_fd, TEXTFILE, &d), 1);

        /* Only lastgood.prom in the directory: no temp file left behind. */
        snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s/var/lib/prometheus/node-exporter')\" = lastgood.prom", dir);
        assert_int_equal(system(cmd), 0);

        /* The format is what Prometheus's own linter accepts. */
        snprintf(cmd, sizeof cmd, "promtool check metrics <'%s'", path);
        assert_int_equal(system(cmd), 0);
        /* … and the linter is not a rubber stamp: a broken file fails. */
        snprintf(cmd, sizeof cmd, "printf 'lastgood_x{a=\"1} 2\\n' | promtool check metrics >/dev/null 2>&1");
        assert_int_not_equal(system(cmd), 0);

        /* Reporting disabled: nothing written, not an error. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(report_write_prometheus(root_fd, "", &d), 0);
        assert_int_equal(report_write_prometheus(root_fd, NULL, &d), 0);
        assert_int_not_equal(access(path, F_OK), 0);

        free(path);
        close(root_fd);
        unit_rmdir(dir);
}

/* A symlink planted at the parent cannot send the write out of the root. */
static void test_write_stays_beneath_root(void **state) {
        char *dir = unit_mkdtemp();
        char *outside = unit_mkdtemp();
        char cmd[1200];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s/var/lib/prometheus' && ln -s '%s' '%s/var/lib/prometheus/node-exporter'", dir,
                 outside, dir);
        assert_int_equal(system(cmd), 0);
        int root_fd;
        assert_int_equal(root_open(dir, &root_fd), 0);
        ReportData d = sample();
        (void) !report_write_prometheus(root_fd, TEXTFILE, &d);
        snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", outside);
        assert_int_equal(system(cmd), 0);
        close(root_fd);
        unit_rmdir(dir);
        unit_rmdir(outside);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metrics),
                cmocka_unit_test(test_label_escaping),
                cmocka_unit_test(test_policy_fallback),
                cmocka_unit_test(test_no_duplicate_series),
                cmocka_unit_test(test_write_and_promtool),
                cmocka_unit_test(test_write_stays_beneath_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
