/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The suspect search (recovery/culprit.c), as a table: which components
 * changed since their known-good snapshot (and in which order), which crash
 * record the previous boot left (the real pstore fixtures), which component
 * is quarantined, which one the incident prefers; and who is a suspect, on
 * what evidence. A record pointing elsewhere clears every component it does
 * not name: recency never blames.
 *
 * Three components in a temporary root, each with a known-good snapshot:
 * "sensor" (kernel module fakesensor, the module the sensor-* fixtures
 * crash in), "agent" and "other". "Changed" rewrites a component's content
 * after its snapshot; when two change, the later one is made to have a
 * strictly newer ctime, so the order is deterministic.
 */
#include "unit.h"

#include <sys/stat.h>
#include <time.h>

#include "lib/rootfs.h"
#include "recovery/culprit.h"
#include "recovery/quarantine.h"
#include "recovery/snapshot.h"

#define PSTORE_FIXTURES "tests/fixtures/pstore"

enum { SENSOR, AGENT, OTHER, N_COMPONENTS, NONE = -1 };
static const char *const names[N_COMPONENTS] = { "sensor", "agent", "other" };
static const char *const content_dirs[N_COMPONENTS] = { "etc/sensor", "opt/agent", "etc/other" };

typedef struct Fixture {
        char *dir;
        int root_fd;
        Policy p;
        Component c[N_COMPONENTS];
        char *content[N_COMPONENTS][2];
        char *modules[N_COMPONENTS][2];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->dir = unit_mkdtemp();
        unit_sh("cd '%s' && mkdir -p etc/sensor opt/agent etc/other var/lib etc/modprobe.d etc/systemd/system"
                " && echo rules-v1 > etc/sensor/rules.bin && echo agent-v1 > opt/agent/agent.conf"
                " && echo other-v1 > etc/other/other.conf",
                f->dir);
        assert_int_equal(root_open(f->dir, &f->root_fd), 0);
        assert_int_equal(policy_init_defaults(&f->p), 0);
        static const char *const mods[N_COMPONENTS] = { "fakesensor", "agentmod", NULL };
        for (int i = 0; i < N_COMPONENTS; i++) {
                char path[64];
                snprintf(path, sizeof path, "/%s", content_dirs[i]);
                f->content[i][0] = strdup(path);
                f->modules[i][0] = mods[i] ? strdup(mods[i]) : NULL;
                f->c[i] = (Component) {
                        .name = (char *) names[i],
                        .content = f->content[i],
                        .kernel_modules = f->modules[i],
                };
        }
        f->p.components = f->c;
        f->p.n_components = N_COMPONENTS;
        for (int i = 0; i < N_COMPONENTS; i++) {
                char *id = NULL;
                assert_int_equal(snapshot_create(f->root_fd, &f->p, &f->c[i], &id), 0);
                free(id);
        }
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        for (int i = 0; i < N_COMPONENTS; i++) {
                free(f->content[i][0]);
                free(f->modules[i][0]);
        }
        f->p.components = NULL;
        f->p.n_components = 0;
        policy_done(&f->p);
        close(f->root_fd);
        unit_rmdir(f->dir);
        free(f);
        return 0;
}

static uint64_t ctime_usec(const Fixture *f, int comp) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/new.conf", f->dir, content_dirs[comp]);
        assert_int_equal(stat(path, &st), 0);
        return (uint64_t) st.st_ctim.tv_sec * USEC_PER_SEC + (uint64_t) st.st_ctim.tv_nsec / 1000;
}

/* Content of COMP differs from its snapshot from now on; its ctime is
 * strictly newer than AFTER's (when AFTER is a changed component). */
static void change(const Fixture *f, int comp, int after) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s/new.conf", f->dir, content_dirs[comp]);
        for (int tries = 0;; tries++) {
                FILE *fp = fopen(path, "we");
                assert_non_null(fp);
                fprintf(fp, "changed %d\n", tries);
                assert_int_equal(fclose(fp), 0);
                if (after == NONE || ctime_usec(f, comp) > ctime_usec(f, after))
                        return;
                assert_true(tries < 1000); /* 5 s: the clock did not move */
                nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
        }
}

static void quarantine(const Fixture *f, int comp) {
        /* Only its module: the content stays where it is (and changed). */
        Component c = f->c[comp];
        c.content = NULL;
        assert_int_equal(quarantine_apply(f->root_fd, &c, 1, "unit test", NULL), 0);
        assert_int_equal(quarantine_is_active(f->root_fd, names[comp]), 1);
}

typedef struct Case {
        const char *name;
        int changed[2];     /* in this order (NONE: no more) */
        const char *pstore; /* fixture directory, or NULL: no crash record */
        int quarantined;    /* NONE, or the component */
        int preferred;      /* the incident's culprit, or NONE */
        bool require_suspect;
        /* expected */
        int culprit;
        SuspectReason reason;
        bool is_changed;
        const char *why; /* a piece of Culprit.why */
} Case;

/* One case a line pair, laid out as a table. */
/* clang-format off */
static const Case cases[] = {
        { "nothing changed, no crash", { NONE, NONE }, NULL, NONE, NONE, true,
          NONE, SUSPECT_NONE, false, "sensor: unchanged since the last confirmed boot; agent: unchanged" },
        { "one changed, no crash record", { AGENT, NONE }, NULL, NONE, NONE, true,
          AGENT, SUSPECT_CHANGED, true, "agent: changed since the last confirmed boot: 1 file" },
        { "the newer change of two", { AGENT, OTHER }, NULL, NONE, NONE, true,
          OTHER, SUSPECT_CHANGED, true, "other: changed since the last confirmed boot: 1 file" },
        { "the newer change of two, the other order", { OTHER, AGENT }, NULL, NONE, NONE, true,
          AGENT, SUSPECT_CHANGED, true, "; no crash record" },
        { "the incident's culprit first among changes", { AGENT, OTHER }, NULL, NONE, AGENT, true,
          AGENT, SUSPECT_CHANGED, true, "agent: changed" },
        { "attribution outranks a change", { AGENT, NONE }, "sensor-module", NONE, NONE, true,
          SENSOR, SUSPECT_ATTRIBUTED, false, "sensor: attributed: RIP in fakesensor (strong)" },
        { "attribution outranks the incident's culprit", { AGENT, NONE }, "sensor-module", NONE, AGENT, true,
          SENSOR, SUSPECT_ATTRIBUTED, false, "agent: cleared: the crash was in fakesensor" },
        { "attributed and changed", { AGENT, SENSOR }, "sensor-content", NONE, NONE, true,
          SENSOR, SUSPECT_ATTRIBUTED, true, "sensor: attributed: RIP in fakesensor (strong)" },
        { "a crash elsewhere clears a changed component", { OTHER, NONE }, "sysrq", NONE, NONE, true,
          NONE, SUSPECT_NONE, false, "other: cleared: the crash was in the core kernel (init); changed since" },
        { "require_suspect false: a change stays a suspect", { OTHER, NONE }, "sysrq", NONE, NONE, false,
          OTHER, SUSPECT_CHANGED, true, "a suspect anyway (recovery.require_suspect is false)" },
        { "taint alone is not evidence", { NONE, NONE }, "sysrq-sensor-loaded", NONE, NONE, true,
          NONE, SUSPECT_NONE, false, "sensor: cleared: the crash was in the core kernel" },
        { "quarantined and attributed: its quarantine did not hold", { AGENT, NONE }, "sensor-module", SENSOR,
          NONE, true, SENSOR, SUSPECT_ATTRIBUTED, false, "sensor: attributed: RIP in fakesensor (strong)" },
        { "quarantined: never a suspect by change", { AGENT, SENSOR }, NULL, SENSOR, SENSOR, true,
          AGENT, SUSPECT_CHANGED, true, "sensor: quarantined, not a suspect unless a crash record names it" },
};
/* clang-format on */

static void collect(const char *dir, CrashEvidence *ev) {
        assert_int_equal(crash_evidence_collect(dir, ev), 0);
        assert_true(ev->found);
}

static void run_case(const Case *t) {
        Fixture *f;
        assert_int_equal(setup((void **) &f), 0);
        print_message("  case: %s\n", t->name);

        for (size_t i = 0; i < ELEMENTSOF(t->changed) && t->changed[i] != NONE; i++)
                change(f, t->changed[i], i > 0 ? t->changed[i - 1] : NONE);
        if (t->quarantined != NONE)
                quarantine(f, t->quarantined);
        f->p.recovery.require_suspect = t->require_suspect;

        CrashEvidence ev = {};
        if (t->pstore) {
                char dir[256];
                snprintf(dir, sizeof dir, "%s/%s", PSTORE_FIXTURES, t->pstore);
                collect(dir, &ev);
        }

        Culprit c;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev,
                                      t->preferred == NONE ? NULL : names[t->preferred], &c),
                         0);
        assert_int_equal(c.n_components, N_COMPONENTS);
        if (t->culprit == NONE) {
                if (c.component)
                        fail_msg("%s: blamed %s (%s)", t->name, c.component->name, c.why);
                assert_int_equal(c.reason, SUSPECT_NONE);
        } else {
                if (!c.component || !streq(c.component->name, names[t->culprit]))
                        fail_msg("%s: expected %s, got %s (%s)", t->name, names[t->culprit],
                                 c.component ? c.component->name : "none", c.why);
                assert_int_equal(c.reason, t->reason);
                assert_int_equal(c.attributed, t->reason == SUSPECT_ATTRIBUTED);
                assert_int_equal(c.changed, t->is_changed);
                assert_string_equal(c.evidence, c.components[t->culprit].words);
        }
        if (!strstr(c.why, t->why))
                fail_msg("%s: why lacks \"%s\": %s", t->name, t->why, c.why);
        culprit_done(&c);
        crash_evidence_done(&ev);
        teardown((void **) &f);
}

static void test_culprit_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                run_case(&cases[i]);
}

/* A registry that cannot be read is not "nothing quarantined": no
 * component is blamed by change on it, and the why says so. */
static void test_unreadable_registry(void **state) {
        Fixture *f;
        assert_int_equal(setup((void **) &f), 0);
        change(f, AGENT, NONE);
        quarantine(f, SENSOR);
        unit_sh("printf 'not a registry\\n\\001\\002' > '%s/var/lib/lastgood/quarantine/registry'", f->dir);
        assert_true(quarantine_is_active(f->root_fd, "agent") < 0);

        CrashEvidence ev = {};
        Culprit c;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, NULL, &c), 0);
        if (c.component)
                fail_msg("blamed %s on an unreadable registry (%s)", c.component->name, c.why);
        assert_non_null(strstr(c.why, "quarantine state unknown"));
        culprit_done(&c);
        teardown((void **) &f);
}

/* Restored content is no longer a change: once a component's content is
 * back to its snapshot, a loop without a crash record blames nobody. And
 * a component without a known-good snapshot has no baseline: not changed. */
static void test_restored_content_is_not_a_change(void **state) {
        Fixture *f;
        assert_int_equal(setup((void **) &f), 0);
        change(f, AGENT, NONE);
        CrashEvidence ev = {};
        Culprit c;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, "agent", &c), 0);
        assert_non_null(c.component);
        culprit_done(&c);

        char *id = NULL;
        assert_int_equal(snapshot_restore(f->root_fd, &f->p, &f->c[AGENT], NULL, 0, "/var/lib/keep", &id), 0);
        free(id);
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, "agent", &c), 0);
        if (c.component)
                fail_msg("blamed %s after its restore (%s)", c.component->name, c.why);
        assert_non_null(strstr(c.why, "agent: unchanged since the last confirmed boot"));
        culprit_done(&c);

        unit_sh("cd '%s' && rm -rf var/lib/lastgood/snapshots/other && echo new > etc/other/new.conf", f->dir);
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, NULL, &c), 0);
        if (c.component)
                fail_msg("blamed %s without a baseline (%s)", c.component->name, c.why);
        assert_non_null(strstr(c.why, "other: no known-good snapshot to compare with"));
        culprit_done(&c);
        teardown((void **) &f);
}

/* Strength and words: only strong or medium evidence attributes, and a
 * record whose fatal block names a component at most weakly clears it,
 * changed or not. */
static void test_evidence_strength(void **state) {
        static const struct {
                const char *pstore; /* under tests/fixtures */
                int changed;
                int culprit;
                bool sensor_cleared;
                CrashStrength strength; /* of the sensor */
                const char *why;
        } evc[] = {
                { "pstore/sensor-content", NONE, SENSOR, false, CRASH_STRENGTH_STRONG,
                  "sensor: attributed: RIP in fakesensor (strong)" },
                { "pstore-synthetic/panic-loading", NONE, SENSOR, false, CRASH_STRENGTH_MEDIUM,
                  "sensor: attributed: call trace through fakesensor (medium)" },
                /* '+' alone is weak: the record clears the changed sensor */
                { "pstore-synthetic/loading-only", SENSOR, NONE, true, CRASH_STRENGTH_WEAK,
                  "sensor: cleared: the crash was in the core kernel (kworker/0:2); fakesensor was being loaded (weak)" },
                { "pstore-synthetic/loading-only", NONE, NONE, true, CRASH_STRENGTH_WEAK,
                  "cleared: the crash was in the core kernel (kworker/0:2)" },
                /* the injection names nobody; the same line in the fatal block does */
                { "pstore-synthetic/injected-segfault", SENSOR, NONE, true, CRASH_STRENGTH_NONE,
                  "sensor: cleared: the crash was in the core kernel (sh)" },
                { "pstore-synthetic/injected-inside", AGENT, SENSOR, false, CRASH_STRENGTH_STRONG,
                  "sensor: attributed: RIP in fakesensor (strong)" },
                { "pstore/sysrq", OTHER, NONE, true, CRASH_STRENGTH_NONE,
                  "other: cleared: the crash was in the core kernel (init)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(evc); i++) {
                Fixture *f;
                assert_int_equal(setup((void **) &f), 0);
                if (evc[i].changed != NONE)
                        change(f, evc[i].changed, NONE);
                char dir[256];
                snprintf(dir, sizeof dir, "tests/fixtures/%s", evc[i].pstore);
                CrashEvidence ev = {};
                collect(dir, &ev);
                assert_true(ev.fatal);
                Culprit c;
                assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, NULL, &c), 0);
                if (evc[i].culprit == NONE ? c.component != NULL
                                           : !c.component || !streq(c.component->name, names[evc[i].culprit]))
                        fail_msg("case %zu: culprit %s (%s)", i, c.component ? c.component->name : "none", c.why);
                if (c.component)
                        assert_int_equal(c.strength, evc[i].strength);
                assert_int_equal(c.components[SENSOR].verdict.cleared, evc[i].sensor_cleared);
                assert_int_equal(c.components[SENSOR].verdict.strength, evc[i].strength);
                if (!strstr(c.why, evc[i].why))
                        fail_msg("case %zu: why lacks \"%s\": %s", i, evc[i].why, c.why);

                /* every component's verdict, for the steps that use it */
                CrashVerdict v;
                crash_evidence_weigh(&ev, &f->c[AGENT], &v);
                assert_int_equal(v.strength, CRASH_STRENGTH_NONE);
                assert_true(v.cleared);
                culprit_done(&c);
                crash_evidence_done(&ev);
                teardown((void **) &f);
        }
        /* no crash record: no verdict */
        CrashEvidence none = {};
        CrashVerdict v;
        Component c = { .name = (char *) "x" };
        crash_evidence_weigh(&none, &c, &v);
        assert_false(v.cleared);
        assert_int_equal(v.strength, CRASH_STRENGTH_NONE);
}

/* The identity keys reach the weighing: processes (Comm:, cut at 15),
 * bpf_programs and kernel_modules globs; a component without the key that
 * matches is not named (the negative controls). */
static void test_identity_keys(void **state) {
        static char *procs[] = { (char *) "falcon-sensor*", NULL };
        static char *progs[] = { (char *) "falcon_*", NULL };
        static char *mod_glob[] = { (char *) "falcon_lsm_pinned_*", NULL };
        static char *mod_plain[] = { (char *) "falcon_lsm_serviceable", NULL };
        static const struct {
                const char *pstore; /* under tests/fixtures/pstore-synthetic */
                Component c;
                CrashStrength strength;
                const char *why;
        } idc[] = {
                { "falcon-comm", { .processes = procs }, CRASH_STRENGTH_STRONG, "crashing task falcon-sensor-b (strong)" },
                { "falcon-comm",
                  { .bpf_programs = progs, .kernel_modules = mod_glob },
                  CRASH_STRENGTH_NONE,
                  "cleared: the crash was in the core kernel (falcon-sensor-b)" },
                { "bpf-comm",
                  { .bpf_programs = progs },
                  CRASH_STRENGTH_MEDIUM,
                  "call trace through BPF program falcon_x (medium)" },
                { "bpf-comm", { .kernel_modules = mod_glob }, CRASH_STRENGTH_NONE, "cleared: " },
                { "falcon-module",
                  { .kernel_modules = mod_glob },
                  CRASH_STRENGTH_STRONG,
                  "RIP in falcon_lsm_pinned_16306 (strong)" },
                { "falcon-module",
                  { .kernel_modules = mod_plain, .processes = procs, .bpf_programs = progs },
                  CRASH_STRENGTH_NONE,
                  "cleared: the crash was in falcon_lsm_pinned_16306 (falcond)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(idc); i++) {
                char dir[256];
                snprintf(dir, sizeof dir, "tests/fixtures/pstore-synthetic/%s", idc[i].pstore);
                CrashEvidence ev = {};
                assert_int_equal(crash_evidence_collect(dir, &ev), 0);
                assert_true(ev.fatal);
                Component c = idc[i].c;
                c.name = (char *) "falcon";
                CrashVerdict v;
                crash_evidence_weigh(&ev, &c, &v);
                if (v.strength != idc[i].strength || !strstr(v.why, idc[i].why))
                        fail_msg("case %zu (%s): %s, \"%s\"; expected %s, \"%s\"", i, idc[i].pstore,
                                 crash_strength_to_string(v.strength), v.why,
                                 crash_strength_to_string(idc[i].strength), idc[i].why);
                crash_evidence_done(&ev);
        }

        /* and culprit_find() blames by them: the comm names agent, not the changed other */
        Fixture *f;
        assert_int_equal(setup((void **) &f), 0);
        change(f, OTHER, NONE);
        f->c[AGENT].processes = procs;
        CrashEvidence ev = {};
        collect("tests/fixtures/pstore-synthetic/falcon-comm", &ev);
        Culprit cu;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, NULL, &cu), 0);
        if (!cu.component || !streq(cu.component->name, "agent") || !cu.attributed)
                fail_msg("culprit %s (%s)", cu.component ? cu.component->name : "none", cu.why);
        culprit_done(&cu);
        f->c[AGENT].processes = NULL;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, NULL, &cu), 0);
        if (cu.component && cu.attributed)
                fail_msg("attributed %s without processes (%s)", cu.component->name, cu.why);
        culprit_done(&cu);
        crash_evidence_done(&ev);
        teardown((void **) &f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_culprit_table),
                cmocka_unit_test(test_unreadable_registry),
                cmocka_unit_test(test_restored_content_is_not_a_change),
                cmocka_unit_test(test_evidence_strength),
                cmocka_unit_test(test_identity_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
