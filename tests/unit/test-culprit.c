/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The culprit choice (recovery/culprit.c), as a table: which components
 * changed since their known-good snapshot (and in which order), which crash
 * record the previous boot left (the real pstore fixtures), which component
 * is quarantined, the suspect window; and who is blamed, on what evidence.
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
#define DAY_USEC (86400 * USEC_PER_SEC)

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
        int changed[2];      /* in this order (NONE: no more) */
        const char *pstore;  /* fixture directory, or NULL: no crash record */
        int quarantined;     /* NONE, or the component */
        bool outside_window; /* the loop began long after the changes */
        bool require_suspect;
        /* expected */
        int culprit;
        bool attributed, is_changed;
        const char *why; /* a piece of Culprit.why */
} Case;

/* One case a line pair, laid out as a table. */
/* clang-format off */
static const Case cases[] = {
        { "nothing changed, no crash", { NONE, NONE }, NULL, NONE, false, true,
          NONE, false, false, "no component's content changed since its known-good snapshot; no crash record" },
        { "one changed", { AGENT, NONE }, NULL, NONE, false, true,
          AGENT, false, true, "most recently changed component" },
        { "the most recently changed of two", { AGENT, OTHER }, NULL, NONE, false, true,
          OTHER, false, true, "most recently changed component" },
        { "the most recently changed of two, the other order", { OTHER, AGENT }, NULL, NONE, false, true,
          AGENT, false, true, "most recently changed component" },
        { "attribution outranks recency", { AGENT, NONE }, "sensor-module", NONE, false, true,
          SENSOR, true, false, "crash record: " },
        { "attributed and changed", { AGENT, SENSOR }, "sensor-content", NONE, false, true,
          SENSOR, true, true, "content changed since its known-good snapshot" },
        { "a crash naming no component: recency", { OTHER, NONE }, "sysrq", NONE, false, true,
          OTHER, false, true, "the crash record names none of the components" },
        { "taint alone is not evidence", { NONE, NONE }, "sysrq-sensor-loaded", NONE, false, true,
          NONE, false, false, "the crash record names none of the components" },
        { "quarantined: skipped though attributed", { AGENT, NONE }, "sensor-module", SENSOR, false, true,
          AGENT, false, true, "most recently changed component" },
        { "quarantined: skipped though changed", { AGENT, SENSOR }, NULL, SENSOR, false, true,
          AGENT, false, true, "most recently changed component" },
        { "changed outside the window: no suspect", { AGENT, NONE }, NULL, NONE, true, true,
          NONE, false, false, "agent changed " },
        { "outside the window, suspects not required", { AGENT, NONE }, NULL, NONE, true, false,
          AGENT, false, true, "most recently changed component" },
        { "outside the window but attributed", { SENSOR, NONE }, "sensor-module", NONE, true, true,
          SENSOR, true, true, "crash record: " },
};
/* clang-format on */

static void run_case(const Case *t) {
        Fixture *f;
        assert_int_equal(setup((void **) &f), 0);
        print_message("  case: %s\n", t->name);

        for (size_t i = 0; i < ELEMENTSOF(t->changed) && t->changed[i] != NONE; i++)
                change(f, t->changed[i], i > 0 ? t->changed[i - 1] : NONE);
        if (t->quarantined != NONE)
                quarantine(f, t->quarantined);
        f->p.recovery.require_suspect = t->require_suspect;
        f->p.recovery.suspect_window_usec = 3600 * USEC_PER_SEC;

        CrashEvidence ev = {};
        if (t->pstore) {
                char dir[256];
                snprintf(dir, sizeof dir, "%s/%s", PSTORE_FIXTURES, t->pstore);
                assert_int_equal(crash_evidence_collect(f->root_fd, &f->p, dir, &ev), 0);
                assert_true(ev.found);
        }
        /* The loop began now, or ten days after the changes. */
        uint64_t loop_started = t->outside_window ? now_realtime_usec() + 10 * DAY_USEC : 0;

        Culprit c;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, loop_started, &c), 0);
        if (t->culprit == NONE) {
                if (c.component)
                        fail_msg("%s: blamed %s (%s)", t->name, c.component->name, c.why);
        } else {
                if (!c.component || !streq(c.component->name, names[t->culprit]))
                        fail_msg("%s: expected %s, got %s (%s)", t->name, names[t->culprit],
                                 c.component ? c.component->name : "none", c.why);
                assert_int_equal(c.attributed, t->attributed);
                assert_int_equal(c.changed, t->is_changed);
                if (c.changed)
                        assert_true(c.changed_usec > 0);
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
 * component is blamed on it, and the why says so. */
static void test_unreadable_registry(void **state) {
        Fixture *f;
        assert_int_equal(setup((void **) &f), 0);
        change(f, AGENT, NONE);
        quarantine(f, SENSOR);
        unit_sh("printf 'not a registry\\n\\001\\002' > '%s/var/lib/lastgood/quarantine/registry'", f->dir);
        assert_true(quarantine_is_active(f->root_fd, "agent") < 0);

        CrashEvidence ev = {};
        Culprit c;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, 0, &c), 0);
        if (c.component)
                fail_msg("blamed %s on an unreadable registry (%s)", c.component->name, c.why);
        assert_non_null(strstr(c.why, "quarantine state unknown"));
        culprit_done(&c);
        teardown((void **) &f);
}

/* The culprit an incident already chose is kept, with its evidence
 * refreshed; a name the policy no longer has starts over. */
static void test_from_name(void **state) {
        Fixture *f;
        assert_int_equal(setup((void **) &f), 0);
        change(f, OTHER, NONE);
        CrashEvidence ev = {};
        char dir[256];
        snprintf(dir, sizeof dir, "%s/sensor-module", PSTORE_FIXTURES);
        assert_int_equal(crash_evidence_collect(f->root_fd, &f->p, dir, &ev), 0);

        Culprit c;
        assert_int_equal(culprit_from_name(f->root_fd, &f->p, "agent", &ev, &c), 0);
        assert_non_null(c.component);
        assert_string_equal(c.component->name, "agent");
        assert_false(c.attributed);
        assert_false(c.changed);
        assert_non_null(strstr(c.why, "culprit of the ongoing incident: agent"));
        culprit_done(&c);

        assert_int_equal(culprit_from_name(f->root_fd, &f->p, "gone", &ev, &c), 0);
        assert_non_null(c.component);
        assert_string_equal(c.component->name, "sensor"); /* attributed, found afresh */
        assert_true(c.attributed);
        culprit_done(&c);
        crash_evidence_done(&ev);
        teardown((void **) &f);
}

/* Strength and words: only strong or medium evidence attributes, and a
 * record whose fatal block names a component at most weakly clears it. */
static void test_evidence_strength(void **state) {
        static const struct {
                const char *pstore; /* under tests/fixtures */
                int changed;
                int culprit;
                bool attributed, cleared;
                CrashStrength strength;
                const char *why;
        } evc[] = {
                { "pstore/sensor-content", NONE, SENSOR, true, false, CRASH_STRENGTH_STRONG,
                  "crash record: RIP in fakesensor (strong); Panic#2" },
                { "pstore-synthetic/panic-loading", NONE, SENSOR, true, false, CRASH_STRENGTH_MEDIUM,
                  "crash record: call trace through fakesensor (medium)" },
                /* '+' alone is weak: recency decides, and the record clears the sensor */
                { "pstore-synthetic/loading-only", SENSOR, SENSOR, false, true, CRASH_STRENGTH_WEAK,
                  "cleared: the crash was in the core kernel (kworker/0:2); fakesensor was being loaded (weak)" },
                { "pstore-synthetic/loading-only", NONE, NONE, false, false, CRASH_STRENGTH_NONE,
                  "cleared: the crash was in the core kernel (kworker/0:2)" },
                /* the injection names nobody; the same line in the fatal block does */
                { "pstore-synthetic/injected-segfault", SENSOR, SENSOR, false, true, CRASH_STRENGTH_NONE,
                  "cleared: the crash was in the core kernel (sh)" },
                { "pstore-synthetic/injected-inside", AGENT, SENSOR, true, false, CRASH_STRENGTH_STRONG,
                  "crash record: RIP in fakesensor (strong)" },
                { "pstore/sysrq", OTHER, OTHER, false, true, CRASH_STRENGTH_NONE,
                  "cleared: the crash was in the core kernel (init)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(evc); i++) {
                Fixture *f;
                assert_int_equal(setup((void **) &f), 0);
                if (evc[i].changed != NONE)
                        change(f, evc[i].changed, NONE);
                char dir[256];
                snprintf(dir, sizeof dir, "tests/fixtures/%s", evc[i].pstore);
                CrashEvidence ev = {};
                assert_int_equal(crash_evidence_collect(f->root_fd, &f->p, dir, &ev), 0);
                assert_true(ev.fatal);
                Culprit c;
                assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, 0, &c), 0);
                if (evc[i].culprit == NONE ? c.component != NULL
                                           : !c.component || !streq(c.component->name, names[evc[i].culprit]))
                        fail_msg("case %zu: culprit %s (%s)", i, c.component ? c.component->name : "none", c.why);
                if (c.component) {
                        assert_int_equal(c.attributed, evc[i].attributed);
                        assert_int_equal(c.cleared, evc[i].cleared);
                        assert_int_equal(c.strength, evc[i].strength);
                }
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
                assert_int_equal(crash_evidence_collect(-1, NULL, dir, &ev), 0);
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
        assert_int_equal(crash_evidence_collect(f->root_fd, &f->p,
                                                "tests/fixtures/pstore-synthetic/falcon-comm", &ev),
                         0);
        Culprit cu;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, 0, &cu), 0);
        if (!cu.component || !streq(cu.component->name, "agent") || !cu.attributed)
                fail_msg("culprit %s (%s)", cu.component ? cu.component->name : "none", cu.why);
        culprit_done(&cu);
        f->c[AGENT].processes = NULL;
        assert_int_equal(culprit_find(f->root_fd, &f->p, &ev, 0, &cu), 0);
        if (cu.component && cu.attributed)
                fail_msg("attributed %s without processes (%s)", cu.component->name, cu.why);
        culprit_done(&cu);
        crash_evidence_done(&ev);
        teardown((void **) &f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_culprit_table), cmocka_unit_test(test_unreadable_registry),
                cmocka_unit_test(test_from_name),     cmocka_unit_test(test_evidence_strength),
                cmocka_unit_test(test_identity_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
