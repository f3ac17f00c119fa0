/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The boot flow owns each boot's record: how often it writes it, in which
 * order with the step it protects, and what happens when a write fails.
 *
 * Each boot runs in a child process, as the real `lastgood boot` does, with
 * a temporary root, no efivarfs, its own boot id and the fault-injection
 * points of the test build: LASTGOOD_FAULT_TRACE lists the durable steps it
 * took, LASTGOOD_FAULT_AT cuts (or fails) one of them. The parent never
 * reaches a fault point itself, so every child counts them from 1.
 */
#include "unit.h"

#include <sys/wait.h>

#include "agent/bootflow.h"
#include "agent/eventlog.h"
#include "agent/state-store.h"
#include "lib/rootfs.h"

#define POLICY                           \
        "version: 1\n"                   \
        "boot:\n"                        \
        "  max_failed_boots: %u\n"       \
        "  state: %s\n"                  \
        "components:\n"                  \
        "  - name: sensor\n"             \
        "    content: [/etc/sensor]\n"   \
        "    kernel_modules: [sensor]\n" \
        "%s"

typedef struct Fixture {
        char *dir;
        char root[256], pstore[256], esp[256], trace[256], efi[256];
        int root_fd;
} Fixture;

static void mkdirs(const char *base, const char *rel) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", base, rel);
        assert_int_equal(system(cmd), 0);
}

static void write_policy(Fixture *f, unsigned max_failed_boots, const char *backend, const char *extra) {
        char path[400], buf[1024];
        snprintf(buf, sizeof buf, POLICY, max_failed_boots, backend, extra);
        unit_write(f->root, "etc/lastgood/policy.yaml", buf);
        snprintf(path, sizeof path, "%s/etc/lastgood/policy.yaml", f->root);
        assert_int_equal(chmod(path, 0644), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->dir = unit_mkdtemp();
        snprintf(f->root, sizeof f->root, "%s/root", f->dir);
        snprintf(f->pstore, sizeof f->pstore, "%s/pstore", f->dir);
        snprintf(f->esp, sizeof f->esp, "%s/esp", f->dir);
        snprintf(f->trace, sizeof f->trace, "%s/trace", f->dir);
        /* No efivarfs: the state stays in the root, never in this host's NVRAM. */
        snprintf(f->efi, sizeof f->efi, "%s/no-efivarfs/", f->dir);
        mkdirs(f->dir, "root/etc/lastgood");
        mkdirs(f->dir, "root/etc/sensor");
        mkdirs(f->dir, "root/var/lib");
        mkdirs(f->dir, "pstore");
        mkdirs(f->dir, "esp");
        unit_write(f->root, "etc/sensor/rules.bin", "good\n");
        write_policy(f, 1, "file", "");
        assert_int_equal(root_open(f->root, &f->root_fd), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        close(f->root_fd);
        unit_rmdir(f->dir);
        free(f);
        return 0;
}

typedef struct Run {
        const char *fault_at;    /* LASTGOOD_FAULT_AT, or NULL */
        const char *fault_errno; /* LASTGOOD_FAULT_ERRNO, or NULL (then the point kills) */
} Run;

/* Runs `boot` (or `confirm`) as boot BOOT_ID in a child. Returns its exit
 * status, or 128 + the signal that killed it; *ret_rep is what `boot`
 * reported (when it returned). The trace file is replaced. */
static int run(Fixture *f, const char *verb, const char *boot_id, const Run *how, BootReport *ret_rep) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        unlink(f->trace);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(pfd[0]);
                char uid[16];
                snprintf(uid, sizeof uid, "%u", (unsigned) getuid());
                setenv("LASTGOOD_TRUST_UID", uid, 1);
                setenv("LASTGOOD_BOOT_ID", boot_id, 1);
                setenv("EFIVARFS_PATH", f->efi, 1);
                setenv("LASTGOOD_FAULT_TRACE", f->trace, 1);
                if (how && how->fault_at)
                        setenv("LASTGOOD_FAULT_AT", how->fault_at, 1);
                if (how && how->fault_errno)
                        setenv("LASTGOOD_FAULT_ERRNO", how->fault_errno, 1);
                char err[400];
                snprintf(err, sizeof err, "%s/stderr", f->dir);
                if (!freopen("/dev/null", "w", stdout) || !freopen(err, "ae", stderr))
                        _exit(99);
                Context ctx = {
                        .root_dir = f->root,
                        .root_fd = f->root_fd,
                        .runtime_root = f->root,
                        .runtime_fd = f->root_fd,
                        .pstore_dir = f->pstore,
                        .cmdline = "quiet",
                        .esp_dir = f->esp,
                };
                int r;
                if (streq(verb, "confirm"))
                        r = verb_confirm(&ctx, 1, (char *[]) { (char *) "confirm", NULL });
                else {
                        BootReport rep = {};
                        r = bootflow_run(&ctx, &rep);
                        if (write(pfd[1], &rep, sizeof rep) != (ssize_t) sizeof rep)
                                _exit(98);
                }
                _exit(r == 0 ? 0 : r < 0 ? 1 : r);
        }
        close(pfd[1]);
        BootReport rep = {};
        ssize_t n = read(pfd[0], &rep, sizeof rep);
        close(pfd[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (ret_rep && n == (ssize_t) sizeof rep)
                *ret_rep = rep;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int boot(Fixture *f, const char *boot_id, BootReport *ret_rep) {
        return run(f, "boot", boot_id, NULL, ret_rep);
}

/* How often the last run reached the fault point NAME; *ret_first is the
 * number of the first one (0 if none). */
static unsigned trace_count(const Fixture *f, const char *name, unsigned *ret_first) {
        FILE *fp = fopen(f->trace, "re");
        unsigned count = 0, first = 0, n;
        char point[64];
        while (fp && fscanf(fp, "%u %63s", &n, point) == 2)
                if (streq(point, name)) {
                        if (count++ == 0)
                                first = n;
                }
        if (fp)
                fclose(fp);
        if (ret_first)
                *ret_first = first;
        return count;
}

static size_t trace_lines(const Fixture *f) {
        FILE *fp = fopen(f->trace, "re");
        char line[128];
        size_t n = 0;
        while (fp && fgets(line, sizeof line, fp))
                n++;
        if (fp)
                fclose(fp);
        return n;
}

static BootState read_state(const Fixture *f) {
        Policy p;
        assert_int_equal(policy_init_defaults(&p), 0);
        p.boot.state = STATE_BACKEND_FILE;
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &p, false, &s), 0);
        BootState st = {};
        assert_int_equal(state_stores_read(&s, &st), 1);
        state_stores_done(&s);
        policy_done(&p);
        return st;
}

/* The events of type T in the log (the log must verify). */
static size_t count_events(const Fixture *f, EventType t) {
        size_t lines = 0;
        char *problem = NULL;
        assert_int_equal(eventlog_verify(f->root_fd, &lines, &problem), 0);
        assert_null(problem);
        EventRecord *recs = NULL;
        size_t n = 0, k = 0;
        assert_int_equal(eventlog_read(f->root_fd, &recs, &n), 0);
        for (size_t i = 0; i < n; i++)
                k += recs[i].valid && recs[i].type == t;
        event_records_free(recs, n);
        return k;
}

static bool file_exists(const Fixture *f, const char *rel) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", f->root, rel);
        return access(p, F_OK) == 0;
}

static char *file_content(const Fixture *f, const char *rel) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", f->root, rel);
        FILE *fp = fopen(p, "re");
        assert_non_null(fp);
        static char buf[256];
        size_t n = fread(buf, 1, sizeof buf - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        return buf;
}

static void test_healthy_boot_writes_the_record_once(void **state) {
        Fixture *f = *state;
        BootReport rep = {};
        assert_int_equal(boot(f, "b1", &rep), 0);
        assert_int_equal(trace_count(f, "state-write", NULL), 1);
        assert_int_equal(read_state(f).generation, 1);
        assert_int_equal(run(f, "confirm", "b1", NULL, NULL), 0);
        uint64_t gen = read_state(f).generation;
        /* confirm may log (no metrics directory here: report-dir-missing);
         * what follows is about the boot. */
        unit_sh("rm -f %s/var/lib/lastgood/events.jsonl", f->root);

        assert_int_equal(boot(f, "b2", &rep), 0);
        assert_int_equal(rep.mode, BOOT_MODE_NORMAL);
        assert_int_equal(rep.total_boots, 2);
        /* one durable step in all: the record, once (an atomic replace) */
        assert_int_equal(trace_count(f, "state-write", NULL), 1);
        assert_int_equal(trace_count(f, "write-temp", NULL), 1);
        assert_int_equal(trace_count(f, "rename", NULL), 1);
        assert_int_equal(trace_lines(f), 3);
        BootState st = read_state(f);
        assert_int_equal(st.generation, gen + 1);
        assert_int_equal(st.in_boot, 1);
        assert_string_equal(st.boot_id, "b2");
        /* and no trace in the event log */
        assert_false(file_exists(f, "var/lib/lastgood/events.jsonl"));
}

static void test_second_run_in_the_same_boot_writes_nothing(void **state) {
        Fixture *f = *state;
        BootReport rep = {};
        assert_int_equal(boot(f, "b1", &rep), 0);
        uint64_t gen = read_state(f).generation;
        assert_int_equal(boot(f, "b1", &rep), 0);
        assert_int_equal(trace_count(f, "state-write", NULL), 0);
        assert_int_equal(read_state(f).generation, gen);
        assert_string_equal(rep.summary, "already counted in this boot");
        assert_int_equal(rep.total_boots, 1);
}

/* A confirmed boot with a known-good snapshot, then changed content and a
 * boot that never confirms: the next boot restores (max_failed_boots: 1). */
static void prepare_due_restore(Fixture *f) {
        assert_int_equal(boot(f, "b1", NULL), 0);
        assert_int_equal(run(f, "confirm", "b1", NULL, NULL), 0);
        unit_write(f->root, "etc/sensor/rules.bin", "bad\n");
        assert_int_equal(boot(f, "b2", NULL), 0);
}

/* cp -a of the root to ROOT<SUFFIX>, or (back) from there. */
static void root_copy(Fixture *f, const char *suffix, bool back) {
        char cmd[1024];
        if (back) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s' && mv '%s%s' '%s'", f->root, f->root, suffix, f->root);
                close(f->root_fd);
        } else
                snprintf(cmd, sizeof cmd, "cp -a '%s' '%s%s'", f->root, f->root, suffix);
        assert_int_equal(system(cmd), 0);
        if (back)
                assert_int_equal(root_open(f->root, &f->root_fd), 0);
}

static void test_due_step_writes_intent_before_acting(void **state) {
        Fixture *f = *state;
        prepare_due_restore(f);
        uint64_t gen = read_state(f).generation;

        /* Where the restore's first durable step comes, in this flow. */
        root_copy(f, ".saved", false);
        BootReport rep = {};
        assert_int_equal(boot(f, "b3", &rep), 0);
        assert_int_equal(rep.mode, BOOT_MODE_RECOVERY);
        assert_string_equal(rep.step, "restore-content");
        /* the evidence `boot --json` shows (rep.evidence did not cross the pipe) */
        assert_string_equal(rep.culprit, "sensor");
        assert_string_equal(rep.suspect, "changed");
        assert_non_null(strstr(rep.culprit_evidence, "changed since the last confirmed boot"));
        assert_non_null(strstr(rep.why, "sensor: changed"));
        assert_string_equal(rep.crash_record, "");
        assert_string_equal(file_content(f, "etc/sensor/rules.bin"), "good\n");
        unsigned first_write, first_stage;
        /* the intent and the final record; no crash record, so no early write */
        assert_int_equal(trace_count(f, "state-write", &first_write), 2);
        assert_true(trace_count(f, "restore-stage", &first_stage) >= 1);
        assert_true(first_write < first_stage);
        assert_int_equal(read_state(f).generation, gen + 2);
        assert_int_equal(count_events(f, EVENT_RECOVERY_RESTORE), 1);

        /* A power cut at the restore's first step: the record already says
         * the step was taken. */
        root_copy(f, ".saved", true);
        char at[16];
        snprintf(at, sizeof at, "%u", first_stage);
        assert_int_equal(run(f, "boot", "b3", &(Run) { .fault_at = at }, NULL), 128 + SIGKILL);
        BootState st = read_state(f);
        assert_int_equal(st.generation, gen + 1);
        assert_int_equal(st.ladder_step, 1);
        assert_int_equal(st.incident, 1);
        assert_int_equal(st.last_action, LADDER_ACTION_RESTORE_CONTENT);
        assert_string_equal(st.culprit, "sensor");
        assert_string_equal(file_content(f, "etc/sensor/rules.bin"), "bad\n");
}

static void test_failed_intent_write_is_recorded_not_fatal(void **state) {
        Fixture *f = *state;
        prepare_due_restore(f);
        uint64_t gen = read_state(f).generation;
        /* The same flow as above: its first state-write is the intent. */
        root_copy(f, ".probe", false);
        Fixture probe = *f;
        snprintf(probe.root, sizeof probe.root, "%.240s.probe", f->root);
        assert_int_equal(root_open(probe.root, &probe.root_fd), 0);
        assert_int_equal(boot(&probe, "b3", NULL), 0);
        unsigned intent;
        assert_int_equal(trace_count(&probe, "state-write", &intent), 2);
        close(probe.root_fd);

        char at[16];
        snprintf(at, sizeof at, "%u", intent);
        BootReport rep = {};
        assert_int_equal(run(f, "boot", "b3", &(Run) { .fault_at = at, .fault_errno = "ENOSPC" }, &rep), 0);
        /* the step ran anyway, and the boot went on */
        assert_int_equal(rep.mode, BOOT_MODE_RECOVERY);
        assert_string_equal(file_content(f, "etc/sensor/rules.bin"), "good\n");
        /* the failure is in the final record and in the event log */
        BootState st = read_state(f);
        assert_int_equal(st.generation, gen + 2); /* the failed write used one up */
        assert_int_equal(st.internal_errors, 1);
        assert_true(strneq(st.last_error, "could not record the recovery intent", 20));
        assert_int_equal(st.ladder_step, 1);
        assert_int_equal(count_events(f, EVENT_INTERNAL_ERROR), 1);
        assert_int_equal(count_events(f, EVENT_RECOVERY_RESTORE), 1);
}

static void test_failed_final_write_is_not_fatal(void **state) {
        Fixture *f = *state;
        assert_int_equal(boot(f, "b1", NULL), 0);
        assert_int_equal(run(f, "confirm", "b1", NULL, NULL), 0);
        uint64_t gen = read_state(f).generation;
        BootReport rep = {};
        assert_int_equal(run(f, "boot", "b2", &(Run) { .fault_at = "1", .fault_errno = "EIO" }, &rep), 0);
        assert_int_equal(rep.mode, BOOT_MODE_NORMAL);
        assert_int_equal(read_state(f).generation, gen);
        assert_int_equal(count_events(f, EVENT_INTERNAL_ERROR), 1);
}

static void test_corrupt_record_is_an_event(void **state) {
        Fixture *f = *state;
        write_policy(f, 3, "file", "");
        assert_int_equal(boot(f, "b1", NULL), 0);
        char junk[STATE_RECORD_SIZE + 1];
        memset(junk, 'x', STATE_RECORD_SIZE);
        junk[STATE_RECORD_SIZE] = '\0';
        unit_write(f->root, "var/lib/lastgood/state", junk);
        BootReport rep = {};
        assert_int_equal(boot(f, "b2", &rep), 0);
        assert_int_equal(count_events(f, EVENT_STATE_CORRUPT), 1);
        BootState st = read_state(f);
        assert_int_equal(st.failed_boots, 1); /* counted conservatively */
        assert_string_equal(st.boot_id, "b2");
}

static void test_policy_errors_are_an_event(void **state) {
        Fixture *f = *state;
        write_policy(f, 3, "file", "no_such_setting: 1\n");
        assert_int_equal(boot(f, "b1", NULL), 0);
        assert_int_equal(count_events(f, EVENT_POLICY_ERROR), 1);
        assert_int_equal(count_events(f, EVENT_INTERNAL_ERROR), 0);
        BootState st = read_state(f);
        assert_int_equal(st.internal_errors, 1);
}

/* state: efivar on a machine without efivarfs: the record falls through to
 * the root, which is said once, when it moves there. */
static void test_fallthrough_is_an_event_once(void **state) {
        Fixture *f = *state;
        write_policy(f, 3, "efivar", "");
        assert_int_equal(boot(f, "b1", NULL), 0);
        assert_int_equal(count_events(f, EVENT_STATE_FALLTHROUGH), 1);
        assert_int_equal(run(f, "confirm", "b1", NULL, NULL), 0);
        assert_int_equal(boot(f, "b2", NULL), 0);
        assert_int_equal(count_events(f, EVENT_STATE_FALLTHROUGH), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_healthy_boot_writes_the_record_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_second_run_in_the_same_boot_writes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_due_step_writes_intent_before_acting, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_intent_write_is_recorded_not_fatal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_final_write_is_not_fatal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_record_is_an_event, setup, teardown),
                cmocka_unit_test_setup_teardown(test_policy_errors_are_an_event, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fallthrough_is_an_event_once, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
