/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <dirent.h>
#include <zlib.h>

#include "agent/eventlog.h"
#include "agent/record.h"
#include "lib/paths.h"
#include "lib/rootfs.h"
#include "recovery/crash-archive.h"
#include "recovery/pstore.h"

/* Fixtures are found from the source tree: LASTGOOD_TOP, else the directory
 * this file was compiled from (make runs from the top, as run-all.sh does). */
static const char *top(void) {
        static char buf[512];
        const char *e = getenv("LASTGOOD_TOP");
        if (e)
                return e;
        snprintf(buf, sizeof buf, "%s", __FILE__);
        char *p = strstr(buf, "tests/unit/");
        if (p)
                *p = '\0';
        if (buf[0] == '\0' || p == NULL)
                strcpy(buf, ".");
        size_t n = strlen(buf);
        if (n > 1 && buf[n - 1] == '/')
                buf[n - 1] = '\0';
        return buf;
}

static char *fixture(const char *rel) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/tests/fixtures/%s", top(), rel) > 0);
        return p;
}

static void read_dir(const char *dir, CrashReport *r) {
        int k = pstore_read(dir, r);
        if (k < 0)
                fail_msg("pstore_read(%s): %s", dir, strerror(-k));
}

static void read_synthetic(const char *name, CrashReport *r) {
        char *d = fixture("pstore-synthetic/");
        char *p = NULL;
        assert_true(asprintf(&p, "%s%s", d, name) > 0);
        read_dir(p, r);
        assert_true(r->found);
        free(p);
        free(d);
}

/* How strongly R names a component with the one kernel module MODULE. */
static CrashStrength weigh(const CrashReport *r, const char *module, CrashVerdict *ret) {
        char *l[] = { (char *) module, NULL };
        CrashIdentity id = { .kernel_modules = l };
        CrashVerdict v;
        pstore_weigh(r, &id, &v);
        if (ret)
                *ret = v;
        return v.strength;
}

/* Attributed: strong or medium. */
static bool attributes(const CrashReport *r, const char *module, CrashVerdict *ret) {
        return weigh(r, module, ret) >= CRASH_STRENGTH_MEDIUM;
}

/* ---- real records from Debian's 6.1 kernel (tests/fixtures/pstore/) ---- */

/* What each real scenario must parse to (tests/fixtures/pstore/README.md);
 * NULL module: the record must attribute no module at all. A scenario not in
 * this table needs an "expected-module" file (one line, empty for none). */
static const struct {
        const char *dir;
        const char *module;
        const char *reason;
} real_expect[] = {
        { "sensor-content", "fakesensor", "Kernel panic - not syncing: Fatal exception" },
        { "sensor-module", "fakesensor", "Kernel panic - not syncing: Fatal exception" },
        { "sysrq", NULL, "Kernel panic - not syncing: sysrq triggered crash" },
        { "sysrq-sensor-loaded", NULL, "Kernel panic - not syncing: sysrq triggered crash" },
        { "injected-segfault", NULL, "Kernel panic - not syncing: sysrq triggered crash" },
        { "audit-panic", NULL, "Kernel panic - not syncing: audit: backlog limit exceeded" },
};

static bool dir_has_records(const char *path) {
        DIR *d = opendir(path);
        if (!d)
                return false;
        bool found = false;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, "dmesg-", 6) == 0)
                        found = true;
        closedir(d);
        return found;
}

static void check_real_scenario(const char *path, const char *name) {
        const char *module = NULL, *reason = NULL;
        bool known = false;
        for (size_t i = 0; i < ELEMENTSOF(real_expect); i++)
                if (strcmp(real_expect[i].dir, name) == 0) {
                        module = real_expect[i].module;
                        reason = real_expect[i].reason;
                        known = true;
                }
        char buf[128] = "";
        if (!known) {
                char ep[700];
                snprintf(ep, sizeof ep, "%s/expected-module", path);
                FILE *f = fopen(ep, "re");
                if (!f)
                        fail_msg("real pstore fixture %s has no expectation: add %s (the faulting module, or an "
                                 "empty line when none must be attributed)",
                                 path, ep);
                if (fgets(buf, sizeof buf, f))
                        buf[strcspn(buf, "\n")] = '\0';
                fclose(f);
                module = buf[0] ? buf : NULL;
        }

        CrashReport r;
        read_dir(path, &r);
        assert_true(r.found);
        assert_true(r.n_events >= 1);
        const CrashEvent *ev = &r.events[0];
        assert_non_null(ev->kind); /* the "Panic#N PartM" header was understood */
        assert_false(ev->incomplete);
        if (reason)
                assert_string_equal(ev->reason, reason);
        assert_non_null(ev->kernel_release);
        assert_true(strncmp(ev->kernel_release, "6.1.", 4) == 0);

        assert_true(ev->fatal_block);
        CrashVerdict v;
        if (module) {
                assert_non_null(ev->fault_module);
                assert_string_equal(ev->fault_module, module);
                assert_non_null(ev->rip);
                assert_int_equal(weigh(&r, module, &v), CRASH_STRENGTH_STRONG);
                assert_false(v.cleared);
                char want[160];
                snprintf(want, sizeof want, "RIP in %s (strong)", module);
                assert_non_null(strstr(v.why, want));
                /* a component with other modules is not blamed, and is cleared */
                char *other[] = { "efi_pstore_not", "xfs", NULL };
                CrashIdentity id = { .kernel_modules = other };
                pstore_weigh(&r, &id, &v);
                assert_int_equal(v.strength, CRASH_STRENGTH_NONE);
                assert_true(v.cleared);
                assert_true(strncmp(v.why, "cleared: the crash was in ", 26) == 0);
        } else {
                for (size_t i = 0; i < r.n_events; i++)
                        assert_null(r.events[i].fault_module);
                /* taint and a loaded module are not evidence: cleared */
                assert_true(weigh(&r, "fakesensor", &v) < CRASH_STRENGTH_MEDIUM);
                assert_true(v.cleared);
                assert_true(strncmp(v.why, "cleared: the crash was in the core kernel (", 43) == 0);
        }
        crash_report_done(&r);
}

static void test_real_fixtures(void **state) {
        char *base = fixture("pstore");
        size_t checked = 0;
        if (dir_has_records(base)) {
                check_real_scenario(base, "pstore");
                checked++;
        }
        DIR *d = opendir(base);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char p[300];
                        snprintf(p, sizeof p, "%s/%s", base, de->d_name);
                        if (!dir_has_records(p))
                                continue;
                        check_real_scenario(p, de->d_name);
                        checked++;
                }
                closedir(d);
        }
        free(base);
        if (checked == 0)
                skip(); /* no real records yet (tests/vm/make-pstore-fixtures.sh makes them) */
}

/* Reads the real records tests/fixtures/pstore/NAME; skips when there are none. */
static void read_real(const char *name, CrashReport *r) {
        char *d = fixture("pstore/");
        char *p = NULL;
        assert_true(asprintf(&p, "%s%s", d, name) > 0);
        free(d);
        if (!dir_has_records(p)) {
                free(p);
                skip();
        }
        read_dir(p, r);
        free(p);
}

/* The sensor-content crash in detail: the two dumps of one oops=panic crash. */
static void test_real_sensor_content_details(void **state) {
        CrashReport r;
        read_real("sensor-content", &r);
        assert_int_equal(r.n_events, 2);
        const CrashEvent *panic = &r.events[0], *oops = &r.events[1];
        assert_string_equal(panic->kind, "Panic");
        assert_int_equal(panic->count, 2);
        assert_string_equal(oops->kind, "Oops");
        assert_int_equal(oops->count, 1);
        assert_int_equal(panic->n_parts, 14);
        assert_string_equal(panic->files[0], "dmesg-efi-179560510301002"); /* Part1 first */
        assert_string_equal(panic->rip, "fs_parse_rules+0x2d/0xf40");
        assert_string_equal(panic->oops, "BUG: kernel NULL pointer dereference, address: 0000000000000004");
        assert_string_equal(panic->comm, "insmod");
        assert_true(panic->has_pid);
        assert_int_equal(panic->pid, 89);
        assert_string_equal(panic->taint, "GOE");
        assert_true(panic->modules_listed);
        assert_int_equal(panic->n_modules, 3);
        assert_string_equal(panic->modules[0].name, "fakesensor");
        assert_string_equal(panic->modules[0].flags, "OE+");
        assert_true(panic->modules[0].loading);
        assert_false(panic->modules[1].loading);
        assert_null(oops->reason); /* the Oops dump precedes the panic */
        char buf[512];
        crash_report_summary(&r, buf, sizeof buf);
        assert_non_null(strstr(buf, "Panic#2: Kernel panic - not syncing: Fatal exception"));
        assert_non_null(strstr(buf, "RIP fs_parse_rules+0x2d/0xf40 [fakesensor]"));
        assert_non_null(strstr(buf, "loading fakesensor"));
        crash_report_done(&r);
}

/* ---- synthetic records ---- */

static void test_oops_with_module(void **state) {
        CrashReport r;
        read_synthetic("oops-module", &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->kind, "Oops");
        assert_null(ev->reason);
        assert_string_equal(ev->oops, "BUG: unable to handle page fault for address: ffffffffc0400000");
        assert_string_equal(ev->rip, "fs_scan_file+0x85/0x1000");
        assert_string_equal(ev->fault_module, "fakesensor");
        assert_string_equal(ev->comm, "fs-worker");
        assert_int_equal(ev->pid, 4242);
        assert_string_equal(ev->taint, "GOE");
        assert_string_equal(ev->kernel_release, "6.1.0-18-amd64");
        assert_string_equal(ev->last_unloaded, "oldsensor");
        assert_false(ev->modules[0].loading);
        assert_int_equal(ev->time_sec, 1700000000);
        CrashVerdict v;
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_STRONG);
        /* the trace through fakesensor too, but a module is named once, by its strongest piece */
        assert_string_equal(v.why, "RIP in fakesensor (strong)");
        assert_false(v.cleared);
        assert_string_equal(v.points_at, "fakesensor (fs-worker)");
        crash_report_done(&r);
}

static void test_panic_while_loading(void **state) {
        CrashReport r;
        read_synthetic("panic-loading", &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->reason, "Kernel panic - not syncing: Fatal exception");
        assert_non_null(strstr(ev->oops, "general protection fault"));
        assert_string_equal(ev->rip, "kmem_cache_alloc+0x10f/0x300");
        assert_null(ev->fault_module); /* core kernel code faulted… */
        CrashVerdict v;
        /* …called from fakesensor's init: a reliable frame, medium */
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_MEDIUM);
        assert_string_equal(v.why, "call trace through fakesensor (medium)");
        assert_false(v.cleared);
        /* listed but not loading: weak, and the record clears it */
        assert_int_equal(weigh(&r, "efivarfs", &v), CRASH_STRENGTH_WEAK);
        assert_true(v.cleared);
        assert_string_equal(v.why,
                            "cleared: the crash was in the core kernel (modprobe); efivarfs was loaded (weak)");
        crash_report_done(&r);
}

static void test_core_kernel_panic(void **state) {
        CrashReport r;
        read_synthetic("core-panic", &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->reason,
                            "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)");
        assert_null(ev->rip);
        assert_null(ev->fault_module);
        assert_false(ev->modules_listed);
        assert_string_equal(ev->taint, ""); /* "Not tainted" */
        assert_string_equal(ev->comm, "swapper/0");
        assert_true(ev->fatal_block); /* a panic without an oops is a report of its own */
        assert_null(ev->oops);
        CrashVerdict v;
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_true(v.cleared);
        assert_string_equal(v.why, "cleared: the crash was in the core kernel (swapper/0)");
        crash_report_done(&r);
}

static void test_other_module_not_attributed(void **state) {
        CrashReport r;
        read_synthetic("other-module", &r);
        assert_string_equal(r.events[0].fault_module, "other_driver");
        CrashVerdict v;
        /* fake_sensor is in the trace (medium) and the module list, not at the RIP */
        assert_int_equal(weigh(&r, "fake_sensor", &v), CRASH_STRENGTH_MEDIUM);
        assert_string_equal(v.why, "call trace through fake_sensor (medium)");
        assert_int_equal(weigh(&r, "fake-sensor", &v), CRASH_STRENGTH_MEDIUM);
        /* '-' and '_' are one and the same in module names */
        assert_int_equal(weigh(&r, "other-driver", &v), CRASH_STRENGTH_STRONG);
        assert_string_equal(v.why, "RIP in other_driver (strong)");
        assert_int_equal(weigh(&r, "other*", &v), CRASH_STRENGTH_STRONG); /* a glob */
        /* no kernel_modules, or an empty list, names nothing: cleared */
        pstore_weigh(&r, NULL, &v);
        assert_int_equal(v.strength, CRASH_STRENGTH_NONE);
        assert_string_equal(v.why, "cleared: the crash was in other_driver (kworker/3:1)");
        char *none[] = { NULL };
        CrashIdentity id = { .kernel_modules = none };
        pstore_weigh(&r, &id, &v);
        assert_int_equal(v.strength, CRASH_STRENGTH_NONE);
        assert_true(v.cleared);
        crash_report_done(&r);
}

static void test_multipart_and_boots(void **state) {
        CrashReport r;
        read_synthetic("multipart", &r);
        assert_int_equal(r.n_records, 4);
        assert_int_equal(r.n_events, 2);
        const CrashEvent *ev = &r.events[0]; /* newest first */
        assert_int_equal(ev->n_parts, 3);
        assert_false(ev->incomplete);
        assert_string_equal(ev->files[0], "dmesg-efi-170000400001001");
        assert_string_equal(ev->files[2], "dmesg-efi-170000400103001");
        assert_int_equal(ev->time_sec, 1700004000);
        assert_string_equal(ev->reason, "Kernel panic - not syncing: Fatal exception");
        assert_string_equal(ev->oops, "BUG: kernel NULL pointer dereference, address: 0000000000000004");
        /* Part3 → Part2 → Part1: the first kernel RIP, not the repeated one */
        assert_string_equal(ev->rip, "fs_parse_rules+0x2d/0xf40");
        assert_string_equal(ev->fault_module, "fakesensor");
        assert_string_equal(ev->comm, "insmod");
        assert_true(ev->modules[0].loading);
        assert_int_equal(ev->n_ignored, 1); /* the executive summary's RIP after the end marker */
        const CrashEvent *old = &r.events[1];
        assert_int_equal(old->time_sec, 1690000000);
        assert_string_equal(old->fault_module, "older_module");
        /* an older dump is not the crash that killed the machine */
        CrashVerdict v;
        assert_int_equal(weigh(&r, "older_module", &v), CRASH_STRENGTH_NONE);
        assert_true(v.cleared);
        assert_int_equal(weigh(&r, "notthisone", &v), CRASH_STRENGTH_NONE);
        crash_report_done(&r);
}

static void test_ramoops_arm64(void **state) {
        CrashReport r;
        read_synthetic("ramoops", &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->kind, "Oops");
        assert_int_equal(ev->time_sec, 1700000500); /* from the ==== header */
        assert_string_equal(ev->rip, "fs_scan_file+0x24/0x80");
        assert_string_equal(ev->fault_module, "fakesensor");
        assert_string_equal(ev->kernel_release, "6.1.0-18-arm64");
        crash_report_done(&r);
}

static void test_last_oops_counts(void **state) {
        CrashReport r;
        read_synthetic("two-oopses", &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->fault_module, "fakesensor");
        assert_string_equal(ev->comm, "fs-worker");
        assert_string_equal(ev->taint, "GWOE");
        assert_int_equal(ev->n_reports, 2);
        assert_string_equal(ev->oops, "BUG: kernel NULL pointer dereference, address: 0000000000000004");
        assert_string_equal(ev->reason, "Kernel panic - not syncing: Fatal exception");
        /* the warning's RIP, CPU line and module list are another report's */
        CrashVerdict v;
        assert_int_equal(weigh(&r, "other_driver", &v), CRASH_STRENGTH_WEAK);
        assert_true(v.cleared);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_STRONG);
        crash_report_done(&r);
}

/* ---- hostile and broken records, in memory ---- */

/* The head of a minimal oops report in an unprefixed record: a field line
 * counts only inside a report, the RIP only after the CPU line. */
#define OOPS_HEAD "BUG: x\nCPU: 0 PID: 1 Comm: t Not tainted 6.1.0 #1\n"
#define CPU_LINE "CPU: 0 PID: 1 Comm: t Not tainted 6.1.0 #1\n"
/* the same with the kernel's "<level>[time]" prefixes */
#define OOPS_HEAD_K "<1>[ 0.9] BUG: x\n<4>[ 0.9] " CPU_LINE
#define REC(n, text) \
        { .name = (n), .data = (text), .len = sizeof(text) - 1 }

static void parse_one(const char *name, const char *data, size_t len, CrashReport *r) {
        PstoreRecord rec = { .name = name, .data = data, .len = len };
        assert_int_equal(pstore_parse_records(&rec, 1, r), 0);
}

/* ---- the fatal block: only the crash that killed the machine is evidence ---- */

/* The FACTS.md injection: a segfaulting binary whose name holds newlines and
 * oops lines, then an unrelated panic. */
static void test_injected_segfault(void **state) {
        CrashReport r;
        read_synthetic("injected-segfault", &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->reason, "Kernel panic - not syncing: sysrq triggered crash");
        assert_null(ev->rip);
        assert_null(ev->fault_module);
        assert_false(ev->modules_listed);
        assert_int_equal(ev->n_ignored, 3);
        CrashVerdict v;
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_true(v.cleared);
        assert_string_equal(v.why, "cleared: the crash was in the core kernel (sh)");
        crash_report_done(&r);

        /* the negative control: the same line where the kernel prints the RIP */
        read_synthetic("injected-inside", &r);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_STRONG);
        assert_string_equal(v.why, "RIP in fakesensor (strong)"); /* named once, by its strongest piece */
        crash_report_done(&r);
}

/* The real record's text, its parts in log order ("Panic#1 PartN" headers
 * dropped), as one part: for editing in the tests below. */
static char *real_text(const char *name) {
        char *d = fixture("pstore/");
        char *dir = NULL;
        assert_true(asprintf(&dir, "%s%s", d, name) > 0);
        free(d);
        struct dirent **ents = NULL;
        int n = scandir(dir, &ents, NULL, alphasort);
        assert_true(n > 0);
        char *text = strdup("Panic#1 Part1\n");
        assert_non_null(text);
        /* the file names differ only in the part number: highest (oldest) first */
        for (int i = n - 1; i >= 0; i--) {
                if (strncmp(ents[i]->d_name, "dmesg-", 6) == 0) {
                        char *path = NULL, *data = NULL;
                        size_t len = 0;
                        assert_true(asprintf(&path, "%s/%s", dir, ents[i]->d_name) > 0);
                        FILE *f = fopen(path, "re");
                        assert_non_null(f);
                        assert_true(getdelim(&data, &len, '\0', f) > 0);
                        fclose(f);
                        const char *body = strchr(data, '\n');
                        assert_non_null(body);
                        char *t = NULL;
                        assert_true(asprintf(&t, "%s%s", text, body + 1) > 0);
                        free(text);
                        text = t;
                        free(data);
                        free(path);
                }
                free(ents[i]);
        }
        free(ents);
        free(dir);
        return text;
}

/* TEXT with the first FROM replaced by TO. */
static char *replaced(const char *text, const char *from, const char *to) {
        const char *at = strstr(text, from);
        assert_non_null(at);
        char *t = NULL;
        assert_true(asprintf(&t, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from)) > 0);
        return t;
}

/* The injection on the real kernel (tests/vm/make-pstore-fixtures.sh
 * injected-segfault): Debian's 6.1 printed the file name's lines as lines of
 * their own, each with the segfault message's "<6>[time]" prefix; then the
 * unrelated sysrq panic. The planted lines are outside the fatal block and
 * below its level: nobody is named, fakesensor is cleared. */
#define INJ_T "<6>[    1.999930] "
#define INJECTED                                                                                      \
        INJ_T "x\n" INJ_T "RIP: 0010:fs_[94]: segfault at 0 ip 0000000000401002 sp 00007ffd1387f5a0 " \
              "error 4 in x\n" INJ_T "RIP: 0010:fs_init+0x85 [fakesensor]\n" INJ_T                    \
              "Modules linked in: fakesensor(OE+)\n"
/* the fatal block's line before its RIP would be (a direct panic prints none) */
#define INJ_HW \
        "<4>[    2.031872] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 0.0.0 02/06/2015\n"
/* panic_messages: the audit subsystem's panic (auditd's rules with -f 2)
 * names the component whose globs match its message — only the fatal
 * block's own panic line, never one planted before it. */
static CrashStrength weigh_panic(const CrashReport *r, const char *glob, CrashVerdict *ret) {
        char *l[] = { (char *) glob, NULL };
        CrashIdentity id = { .panic_messages = l };
        pstore_weigh(r, &id, ret);
        return ret->strength;
}

static void test_real_audit_panic(void **state) {
        CrashReport r;
        CrashVerdict v;
        read_real("audit-panic", &r);
        assert_string_equal(r.events[0].reason, "Kernel panic - not syncing: audit: backlog limit exceeded");
        assert_int_equal(weigh_panic(&r, "audit: *", &v), CRASH_STRENGTH_STRONG);
        assert_false(v.cleared);
        assert_string_equal(v.why, "panic \"audit: backlog limit exceeded\" (strong)");
        /* Another message names nobody. */
        assert_int_equal(weigh_panic(&r, "oom: *", &v), CRASH_STRENGTH_NONE);
        assert_true(v.cleared);
        crash_report_done(&r);
        /* The sysrq panic is not the audit's. */
        read_real("sysrq", &r);
        assert_int_equal(weigh_panic(&r, "audit: *", &v), CRASH_STRENGTH_NONE);
        crash_report_done(&r);

        /* Planted before the real panic, at the segfault's level: nobody. */
        char *text = real_text("injected-segfault");
        char *planted = replaced(text, INJECTED, INJECTED INJ_T "Kernel panic - not syncing: audit: planted\n");
        parse_one("dmesg-efi-179614335901001", planted, strlen(planted), &r);
        assert_string_equal(r.events[0].reason, "Kernel panic - not syncing: sysrq triggered crash");
        assert_int_equal(weigh_panic(&r, "audit: *", &v), CRASH_STRENGTH_NONE);
        crash_report_done(&r);
        free(planted);
        free(text);
}

static void test_real_injected_segfault(void **state) {
        CrashReport r;
        read_real("injected-segfault", &r);
        assert_int_equal(r.n_events, 1); /* sysrq: a direct panic, one dump */
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->reason, "Kernel panic - not syncing: sysrq triggered crash");
        assert_true(ev->fatal_block);
        assert_int_equal(ev->n_reports, 1);
        assert_string_equal(ev->comm, "init");
        assert_int_equal(ev->pid, 1);
        assert_string_equal(ev->taint, "GOE");
        assert_null(ev->oops);
        assert_null(ev->rip);
        assert_null(ev->fault_module);
        assert_false(ev->modules_listed);
        assert_int_equal(ev->n_modules, 0);
        for (size_t i = 0; i < ev->n_frames; i++)
                assert_null(ev->frames[i].module);
        CrashVerdict v;
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_true(v.cleared);
        assert_string_equal(v.why, "cleared: the crash was in the core kernel (init)");
        crash_report_done(&r);

        /* The record is what it claims: the planted lines, as the kernel
         * printed them, right before the panic. */
        char *text = real_text("injected-segfault");
        assert_non_null(strstr(text, INJECTED INJ_T "y[401000+1000]"));
        assert_true(strstr(text, INJECTED) < strstr(text, "Kernel panic - not syncing"));

        /* Outside the block, even at an oops level: still nobody. */
        char *loud = replaced(text, INJECTED,
                              "<4>[    1.999930] RIP: 0010:fs_init+0x85 [fakesensor]\n"
                              "<4>[    1.999930] Modules linked in: fakesensor(OE+)\n");
        parse_one("dmesg-efi-179614335901001", loud, strlen(loud), &r);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_true(v.cleared);
        crash_report_done(&r);

        /* Inside the block at the segfault's level <6>: not a kernel oops line. */
        char *inside = replaced(text, INJ_HW, INJ_HW INJ_T "RIP: 0010:fs_init+0x85 [fakesensor]\n");
        parse_one("dmesg-efi-179614335901001", inside, strlen(inside), &r);
        assert_null(r.events[0].rip);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        crash_report_done(&r);

        /* The negative control: the same line inside the block at the oops's
         * level is the RIP, strong (so the cases above would catch a parser
         * that read the planted lines). */
        char *control = replaced(text, INJ_HW, INJ_HW "<4>[    2.031872] RIP: 0010:fs_init+0x85 [fakesensor]\n");
        parse_one("dmesg-efi-179614335901001", control, strlen(control), &r);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_STRONG);
        crash_report_done(&r);
        free(control);
        free(inside);
        free(loud);
        free(text);
}
#undef INJ_HW
#undef INJECTED
#undef INJ_T

/* Lines planted at an oops level (a message that prints a user's string at
 * KERN_WARNING) before the fatal header: not part of the block. */
static void test_injected_before_header(void **state) {
        static const char data[] =
                "Panic#1 Part1\n"
                "<4>[ 10.000000] x\n"
                "<4>[ 10.000000] RIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n"
                "<4>[ 10.000000] Call Trace:\n"
                "<4>[ 10.000000]  fs_init+0x85/0x1000 [fakesensor]\n"
                "<4>[ 10.000000] Modules linked in: fakesensor(OE+)\n"
                "<1>[ 20.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
                "<4>[ 20.000100] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-56-amd64 #1\n"
                "<4>[ 20.000200] RIP: 0010:other_poll+0x21/0x80 [other_driver]\n"
                "<4>[ 20.000300] Modules linked in: other_driver\n"
                "<0>[ 20.000400] Kernel panic - not syncing: Fatal exception\n";
        CrashReport r;
        parse_one("dmesg-efi-170000000001001", data, sizeof data - 1, &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->fault_module, "other_driver");
        assert_int_equal(ev->n_modules, 1);
        assert_int_equal(ev->n_frames, 0);
        assert_int_equal(ev->n_ignored, 2);
        CrashVerdict v;
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_string_equal(v.why, "cleared: the crash was in other_driver (swapper/0)");
        crash_report_done(&r);
}

/* A whole report planted and left open does not capture a later panic:
 * not one that comes long after it, nor one after some other kernel line. */
static void test_planted_open_report(void **state) {
#define PLANTED                                                                                        \
        "Panic#1 Part1\n"                                                                              \
        "<1>[ 10.000000] BUG: kernel NULL pointer dereference, address: 0000000000000004\n"            \
        "<4>[ 10.000000] CPU: 0 PID: 89 Comm: insmod Tainted: G           OE      6.1.0-56-amd64 #1\n" \
        "<4>[ 10.000000] RIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n"                                 \
        "<4>[ 10.000000] Call Trace:\n"                                                                \
        "<4>[ 10.000000]  fs_init+0x85/0x1000 [fakesensor]\n"
        static const char late[] =
                PLANTED "<6>[ 40.000000] sysrq: Trigger a crash\n"
                        "<0>[ 40.000100] Kernel panic - not syncing: sysrq triggered crash\n"
                        "<4>[ 40.000200] CPU: 0 PID: 301 Comm: sh Not tainted 6.1.0-56-amd64 #1\n";
        static const char other[] =
                PLANTED "<3>[ 10.500000] ata1: SATA link down (SStatus 0 SControl 300)\n"
                        "<0>[ 11.000000] Kernel panic - not syncing: sysrq triggered crash\n"
                        "<4>[ 11.000100] CPU: 0 PID: 301 Comm: sh Not tainted 6.1.0-56-amd64 #1\n";
        static const char soon[] = PLANTED "<0>[ 11.000000] Kernel panic - not syncing: softlockup: hung tasks\n";
#undef PLANTED
        CrashReport r;
        CrashVerdict v;
        parse_one("dmesg-efi-170000000001001", late, sizeof late - 1, &r);
        assert_int_equal(r.events[0].n_reports, 2);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_string_equal(v.why, "cleared: the crash was in the core kernel (sh)");
        crash_report_done(&r);

        parse_one("dmesg-efi-170000000001001", other, sizeof other - 1, &r);
        assert_int_equal(r.events[0].n_reports, 2);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        crash_report_done(&r);

        /* the control: a panic right after a report that is still being
         * printed is that report's (panic_on_warn, a soft lockup) */
        parse_one("dmesg-efi-170000000001001", soon, sizeof soon - 1, &r);
        assert_int_equal(r.events[0].n_reports, 1);
        assert_string_equal(r.events[0].reason, "Kernel panic - not syncing: softlockup: hung tasks");
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_STRONG);
        crash_report_done(&r);
}

/* Inside the block: a line that is no kernel oops line — a user-space level
 * (a segfault message from another CPU), no prefix — is not structure. */
static void test_foreign_lines_inside_block(void **state) {
#define HEAD                                                                                \
        "Panic#1 Part1\n"                                                                   \
        "<1>[ 20.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000\n" \
        "<4>[ 20.000100] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-56-amd64 #1\n"
#define TAIL                                                       \
        "<4>[ 20.000200] RIP: 0010:kmem_cache_alloc+0x10f/0x300\n" \
        "<4>[ 20.000300] Call Trace:\n"                            \
        "<4>[ 20.000400]  do_one_initcall+0x59/0x220\n"            \
        "<4>[ 20.000500] Modules linked in: fakesensor(OE)\n"      \
        "<0>[ 20.000600] Kernel panic - not syncing: Fatal exception\n"
        static const char info[] = HEAD "<6>[ 20.000150] RIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n" TAIL;
        static const char user[] = HEAD "<12>[ 20.000150] RIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n" TAIL;
        static const char bare[] = HEAD "RIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n" TAIL;
        static const char frame[] = HEAD "<4>[ 20.000200] RIP: 0010:kmem_cache_alloc+0x10f/0x300\n"
                                         "<4>[ 20.000300] Call Trace:\n"
                                         "<6>[ 20.000350]  fs_init+0x85/0x1000 [fakesensor]\n"
                                         "<4>[ 20.000400]  do_one_initcall+0x59/0x220\n"
                                         "<0>[ 20.000600] Kernel panic - not syncing: Fatal exception\n";
        static const char kernel[] = HEAD "<4>[ 20.000150] RIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n" TAIL;
#undef HEAD
#undef TAIL
        const struct {
                const char *data;
                size_t len;
                CrashStrength want;
        } cases[] = {
                { info, sizeof info - 1, CRASH_STRENGTH_WEAK },
                { user, sizeof user - 1, CRASH_STRENGTH_WEAK },
                { bare, sizeof bare - 1, CRASH_STRENGTH_WEAK },
                { frame, sizeof frame - 1, CRASH_STRENGTH_NONE },
                /* the control: the same line as a kernel line */
                { kernel, sizeof kernel - 1, CRASH_STRENGTH_STRONG },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CrashReport r;
                parse_one("dmesg-efi-170000000001001", cases[i].data, cases[i].len, &r);
                CrashVerdict v;
                if (weigh(&r, "fakesensor", &v) != cases[i].want)
                        fail_msg("case %zu: %s (%s)", i, crash_strength_to_string(v.strength), v.why);
                if (cases[i].want != CRASH_STRENGTH_STRONG)
                        assert_string_equal(r.events[0].rip, "kmem_cache_alloc+0x10f/0x300");
                crash_report_done(&r);
        }
}

/* A field line out of its place in the report is not the report's: a RIP
 * before the CPU line (a header that prints a comm with a '\n'), a module
 * list after the end marker. */
static void test_fields_out_of_place(void **state) {
        static const char early_rip[] =
                "Panic#1 Part1\n"
                "<3>[ 20.000000] BUG: sleeping function called from invalid context at mm/slab.h:1, pid: 5, name: a\n"
                "<3>[ 20.000000] RIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n"
                "<4>[ 20.000100] CPU: 0 PID: 5 Comm: a Not tainted 6.1.0-56-amd64 #1\n"
                "<4>[ 20.000200] RIP: 0010:kmem_cache_alloc+0x10f/0x300\n"
                "<0>[ 20.000600] Kernel panic - not syncing: Fatal exception\n";
        static const char late_modules[] =
                "Panic#1 Part1\n"
                "<1>[ 20.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
                "<4>[ 20.000100] CPU: 0 PID: 5 Comm: a Not tainted 6.1.0-56-amd64 #1\n"
                "<4>[ 20.000200] RIP: 0010:kmem_cache_alloc+0x10f/0x300\n"
                "<4>[ 20.000300] ---[ end trace 0000000000000000 ]---\n"
                "<4>[ 20.000400] Modules linked in: fakesensor(OE+)\n"
                "<0>[ 20.000600] Kernel panic - not syncing: Fatal exception\n";
        CrashReport r;
        CrashVerdict v;
        parse_one("dmesg-efi-170000000001001", early_rip, sizeof early_rip - 1, &r);
        assert_string_equal(r.events[0].rip, "kmem_cache_alloc+0x10f/0x300");
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_int_equal(r.events[0].n_ignored, 1);
        crash_report_done(&r);

        parse_one("dmesg-efi-170000000001001", late_modules, sizeof late_modules - 1, &r);
        assert_false(r.events[0].modules_listed);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        crash_report_done(&r);
}

/* A comm holding '\n' splits the CPU line: the rest, up to the taint and
 * within the comm's 15 bytes, is comm, never a RIP line. */
static void test_comm_with_newline(void **state) {
#define HEAD              \
        "Panic#1 Part1\n" \
        "<1>[ 20.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
#define TAIL                                                       \
        "<4>[ 20.000200] RIP: 0010:kmem_cache_alloc+0x10f/0x300\n" \
        "<0>[ 20.000600] Kernel panic - not syncing: Fatal exception\n"
        /* comm "a\nRIP: x [edr]" and "\nRIP: x+0/1 [e]" */
        static const char split[] =
                HEAD "<4>[ 20.000100] CPU: 0 PID: 7 Comm: a\n"
                     "<4>[ 20.000100] RIP: x [edr] Tainted: G           OE      6.1.0-56-amd64 #1\n" TAIL;
        static const char lead[] = HEAD "<4>[ 20.000100] CPU: 0 PID: 7 Comm: \n"
                                        "<4>[ 20.000100] RIP: x+0/1 [e] Not tainted 6.1.0-56-amd64 #1\n" TAIL;
        /* "a\n Tainted: \nX": a planted taint marker leaves no room for a line */
        static const char fake[] =
                HEAD "<4>[ 20.000100] CPU: 0 PID: 7 Comm: a\n"
                     "<4>[ 20.000100]  Tainted: \n"
                     "<4>[ 20.000100] X Tainted: G           OE      6.1.0-56-amd64 #1\n" TAIL;
#undef HEAD
#undef TAIL
        CrashReport r;
        parse_one("dmesg-efi-170000000001001", split, sizeof split - 1, &r);
        assert_string_equal(r.events[0].rip, "kmem_cache_alloc+0x10f/0x300");
        assert_null(r.events[0].fault_module);
        assert_string_equal(r.events[0].comm, "a?RIP: x [edr]");
        assert_string_equal(r.events[0].taint, "GOE");
        assert_string_equal(r.events[0].kernel_release, "6.1.0-56-amd64");
        crash_report_done(&r);

        parse_one("dmesg-efi-170000000001001", lead, sizeof lead - 1, &r);
        assert_string_equal(r.events[0].rip, "kmem_cache_alloc+0x10f/0x300");
        assert_string_equal(r.events[0].comm, "?RIP: x+0/1 [e]");
        assert_string_equal(r.events[0].taint, "");
        crash_report_done(&r);

        parse_one("dmesg-efi-170000000001001", fake, sizeof fake - 1, &r);
        assert_string_equal(r.events[0].rip, "kmem_cache_alloc+0x10f/0x300");
        assert_string_equal(r.events[0].comm, "a? Tainted:?X"); /* the whole comm, marker and all */
        crash_report_done(&r);
}

/* A non-fatal oops (panic_on_oops=0) and, later in the same dump, an
 * unrelated panic: the oops is not what killed the machine. */
static void test_oops_then_unrelated_panic(void **state) {
        CrashReport r;
        read_synthetic("oops-then-panic", &r);
        const CrashEvent *ev = &r.events[0];
        assert_int_equal(ev->n_reports, 2);
        assert_string_equal(ev->reason, "Kernel panic - not syncing: sysrq triggered crash");
        assert_null(ev->oops);
        assert_null(ev->fault_module);
        CrashVerdict v;
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_string_equal(v.why, "cleared: the crash was in the core kernel (sh)");
        crash_report_done(&r);
}

/* A user-mode sensor: Comm cut at 15, its BPF program in the trace, a '?'
 * frame of another program and of a module. */
static void test_bpf_and_comm(void **state) {
        CrashReport r;
        read_synthetic("bpf-comm", &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->comm, "falcon-sensor-b");
        assert_null(ev->fault_module);
        assert_null(ev->fault_bpf);
        assert_int_equal(ev->n_frames, 3);
        assert_string_equal(ev->frames[0].bpf_prog, "falcon_x");
        assert_true(ev->frames[0].reliable);
        assert_string_equal(ev->frames[1].bpf_prog, "other_prog");
        assert_false(ev->frames[1].reliable);

        char *procs[] = { "falcon-sensor-bpf", NULL }, *glob[] = { "falcon-sensor*", NULL };
        char *short_name[] = { "falcon-sensor", NULL }, *other_cut[] = { "falcon-sensor-xyz", NULL };
        char *progs[] = { "falcon_*", NULL }, *other_prog[] = { "other_prog", NULL };
        char *mods[] = { "fakesensor", NULL };
        const struct {
                CrashIdentity id;
                CrashStrength want;
                const char *why;
        } cases[] = {
                { { .processes = procs }, CRASH_STRENGTH_STRONG, "crashing task falcon-sensor-b (strong)" },
                { { .processes = glob }, CRASH_STRENGTH_STRONG, "crashing task falcon-sensor-b (strong)" },
                { { .processes = short_name }, CRASH_STRENGTH_NONE, NULL },
                { { .processes = other_cut }, CRASH_STRENGTH_NONE, NULL },
                { { .bpf_programs = progs }, CRASH_STRENGTH_MEDIUM, "call trace through BPF program falcon_x (medium)" },
                { { .bpf_programs = other_prog }, CRASH_STRENGTH_NONE, NULL }, /* '?' frame */
                { { .kernel_modules = mods }, CRASH_STRENGTH_WEAK, "fakesensor was loaded (weak)" }, /* '?' frame */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CrashVerdict v;
                pstore_weigh(&r, &cases[i].id, &v);
                if (v.strength != cases[i].want || (cases[i].why && !strstr(v.why, cases[i].why)))
                        fail_msg("case %zu: %s (%s)", i, crash_strength_to_string(v.strength), v.why);
                assert_int_equal(v.cleared, cases[i].want < CRASH_STRENGTH_MEDIUM);
        }
        char at[128];
        assert_true(pstore_points_at(&r, at, sizeof at));
        assert_string_equal(at, "the core kernel (falcon-sensor-b)");
        crash_report_done(&r);

        /* a RIP in a BPF program is strong */
        static const char data[] =
                "Panic#1 Part1\n" OOPS_HEAD "RIP: 0010:bpf_prog_6deef7357e7b4530_falcon_x+0x4d/0x1000\n";
        parse_one("dmesg-efi-170000000001001", data, sizeof data - 1, &r);
        assert_string_equal(r.events[0].fault_bpf, "falcon_x");
        CrashIdentity id = { .bpf_programs = progs };
        CrashVerdict v;
        pstore_weigh(&r, &id, &v);
        assert_int_equal(v.strength, CRASH_STRENGTH_STRONG);
        assert_string_equal(v.why, "RIP in BPF program falcon_x (strong)");
        assert_true(pstore_points_at(&r, at, sizeof at));
        assert_string_equal(at, "BPF program falcon_x (t)");
        crash_report_done(&r);
}

/* A '?' frame is a stale address on the stack: never evidence. */
static void test_unreliable_frame(void **state) {
        CrashReport r;
        read_synthetic("stale-frame", &r);
        assert_int_equal(r.events[0].n_frames, 1);
        assert_false(r.events[0].frames[0].reliable);
        CrashVerdict v;
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_WEAK);
        assert_true(v.cleared);
        assert_string_equal(v.why,
                            "cleared: the crash was in the core kernel (kworker/0:1); fakesensor was loaded (weak)");
        crash_report_done(&r);

        /* no fatal block at all: no verdict either way */
        static const char none[] = "Panic#1 Part1\n<4>[ 1.0] RIP: 0010:f+0x1/0x2 [fakesensor]\n";
        parse_one("dmesg-efi-170000000001001", none, sizeof none - 1, &r);
        assert_false(r.events[0].fatal_block);
        assert_int_equal(weigh(&r, "fakesensor", &v), CRASH_STRENGTH_NONE);
        assert_false(v.cleared);
        assert_string_equal(v.why, "");
        char at[16] = "x";
        assert_false(pstore_points_at(&r, at, sizeof at));
        assert_string_equal(at, "");
        crash_report_done(&r);
        CrashReport empty = {};
        pstore_weigh(&empty, NULL, &v);
        assert_false(v.cleared);
}

static void test_no_newline_and_nuls(void **state) {
        static const char data[] = "Oops#1 Part1\n<4>[ 1.0] garbage\0\0\0here\n"
                                   "<1>[ 1.0] BUG: unable to handle page fault\n"
                                   "<4>[ 1.2] CPU: 0 PID: 5 Comm: a\0b Tainted: G  OE 6.1.0 #1\n"
                                   "<4>[ 1.1] RIP: 0010:x+0x1/0x2 [fake\0sensor]\n"
                                   "<4>[ 1.3] Modules linked in: fakesensor(OE+)";
        CrashReport r;
        parse_one("dmesg-efi-170000000001001", data, sizeof data - 1, &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->rip, "x+0x1/0x2");
        assert_null(ev->fault_module); /* "fake sensor" is no module name */
        assert_string_equal(ev->comm, "a b");
        assert_int_equal(ev->n_modules, 1); /* the last line had no newline */
        assert_true(ev->modules[0].loading);
        crash_report_done(&r);
}

static void test_truncated_record(void **state) {
        /* cut in the middle of the module name: "fakesen" must not be taken */
        static const char data[] =
                "Panic#1 Part1\n" OOPS_HEAD_K "<4>[ 1.0] RIP: 0010:fs_init+0x85/0x1000 [fakesen";
        CrashReport r;
        parse_one("dmesg-efi-170000000001001", data, sizeof data - 1, &r);
        assert_string_equal(r.events[0].rip, "fs_init+0x85/0x1000");
        assert_null(r.events[0].fault_module);
        assert_false(attributes(&r, "fakesen", NULL));
        crash_report_done(&r);

        static const char data2[] = "Panic#1 Pa";
        parse_one("dmesg-efi-170000000001001", data2, sizeof data2 - 1, &r);
        assert_true(r.found);
        assert_null(r.events[0].kind);
        crash_report_done(&r);
}

static void test_hostile_tokens(void **state) {
        static const char data[] = "Oops#1 Part1\n" OOPS_HEAD "RIP: 0010:a+0x1/0x2 [../../etc]\n"
                                   "Modules linked in: good(OE+) bad$name(O+) low(oe+) open(OE+ x(OE+)y "
                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa(+) ok\n"
                                   "RIP: 0033:0x47fbe9\n";
        CrashReport r;
        parse_one("dmesg-efi-170000000001001", data, sizeof data - 1, &r);
        const CrashEvent *ev = &r.events[0];
        assert_string_equal(ev->rip, "a+0x1/0x2");
        assert_null(ev->fault_module);
        assert_int_equal(ev->n_modules, 2);
        assert_string_equal(ev->modules[0].name, "good");
        assert_true(ev->modules[0].loading);
        assert_string_equal(ev->modules[1].name, "ok");
        assert_int_equal(weigh(&r, "bad$name", NULL), CRASH_STRENGTH_NONE);
        assert_int_equal(weigh(&r, "low", NULL), CRASH_STRENGTH_NONE);
        assert_int_equal(weigh(&r, "good", NULL), CRASH_STRENGTH_WEAK);
        crash_report_done(&r);

        /* only user-space registers: no kernel RIP at all */
        static const char user[] = "Panic#1 Part1\n" OOPS_HEAD "<4>[ 2.0] RIP: 0033:0x47b7a0 [fakesensor]\n";
        parse_one("dmesg-efi-170000000001001", user, sizeof user - 1, &r);
        assert_null(r.events[0].rip);
        assert_null(r.events[0].fault_module);
        crash_report_done(&r);
}

static void test_huge_line(void **state) {
        size_t n = 600 * 1024;
        char *data = malloc(n + 200);
        assert_non_null(data);
        strcpy(data, "Oops#1 Part1\n" OOPS_HEAD_K "<4>[ 1.0] Code: "); /* a line the report prints */
        size_t o = strlen(data);
        memset(data + o, 'A', n);
        o += n;
        o += (size_t) sprintf(data + o, "\n<4>[ 1.1] RIP: 0010:f+0x1/0x2 [fakesensor]\n");
        CrashReport r;
        parse_one("dmesg-efi-170000000001001", data, o, &r);
        assert_string_equal(r.events[0].fault_module, "fakesensor");
        crash_report_done(&r);

        /* a huge "Modules linked in:" line keeps at most PSTORE_MODULES_MAX */
        o = (size_t) sprintf(data, "Oops#1 Part1\nBUG: x\nModules linked in:");
        while (o < n)
                o += (size_t) sprintf(data + o, " m%zu(OE)", o);
        data[o++] = '\n';
        parse_one("dmesg-efi-170000000001001", data, o, &r);
        assert_true(r.events[0].n_modules > 0);
        assert_true(r.events[0].n_modules <= PSTORE_MODULES_MAX);
        crash_report_done(&r);
        free(data);
}

static void test_binary_garbage(void **state) {
        size_t n = 256 * 1024;
        unsigned char *data = malloc(n);
        assert_non_null(data);
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                data[i] = (unsigned char) x;
        }
        CrashReport r;
        parse_one("dmesg-efi-999999999999999999999999", (const char *) data, n, &r);
        assert_true(r.found);
        assert_int_equal(r.n_events, 1);
        assert_null(r.events[0].fault_module);
        assert_int_equal(r.events[0].time_sec, 0); /* the overlong id is no time */
        crash_report_done(&r);
        free(data);
}

static void test_parts_grouping_robust(void **state) {
        /* two dumps "Panic#1" a minute apart whose times overlap the gap, and
         * a missing part: grouped by part numbers starting over */
        PstoreRecord recs[] = {
                REC("dmesg-efi-170000000001001", "Panic#1 Part1\n" CPU_LINE "RIP: 0010:a+1/2 [mod_a]\n"),
                REC("dmesg-efi-170000000002001", "Panic#1 Part2\nBUG: a\n"),
                REC("dmesg-efi-170000006001001", "Panic#1 Part1\n" CPU_LINE "RIP: 0010:b+1/2 [mod_b]\n"),
                REC("dmesg-efi-170000006003001", "Panic#1 Part3\nBUG: b\n"),
        };
        CrashReport r;
        assert_int_equal(pstore_parse_records(recs, ELEMENTSOF(recs), &r), 0);
        assert_int_equal(r.n_events, 2);
        assert_string_equal(r.events[0].fault_module, "mod_b");
        assert_true(r.events[0].incomplete); /* Part2 is missing */
        assert_string_equal(r.events[0].oops, "BUG: b");
        assert_string_equal(r.events[1].fault_module, "mod_a");
        assert_false(r.events[1].incomplete);
        crash_report_done(&r);

        /* the same count in two boots, an hour apart, parts not repeating
         * (boot B's Part1 was lost): still two dumps, told apart by time */
        PstoreRecord recs2[] = {
                REC("dmesg-efi-170000000001001", "Panic#1 Part1\n" OOPS_HEAD "RIP: 0010:a+1/2 [mod_a]\n"),
                REC("dmesg-efi-170000360002001", "Panic#1 Part2\n" OOPS_HEAD "RIP: 0010:b+1/2 [mod_b]\n"),
        };
        assert_int_equal(pstore_parse_records(recs2, ELEMENTSOF(recs2), &r), 0);
        assert_int_equal(r.n_events, 2);
        assert_string_equal(r.events[0].fault_module, "mod_b");
        assert_string_equal(r.events[1].fault_module, "mod_a");
        crash_report_done(&r);
}

static void test_compressed_record(void **state) {
        static const char text[] = "Oops#1 Part1\n" OOPS_HEAD "RIP: 0010:z+0x1/0x2 [fakesensor]\n";
        unsigned char out[512];
        z_stream z = {};
        assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (Bytef *) text;
        z.avail_in = sizeof text - 1;
        z.next_out = out;
        z.avail_out = sizeof out;
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        size_t len = sizeof out - z.avail_out;
        deflateEnd(&z);
        CrashReport r;
        parse_one("dmesg-efi-170000000001001.enc.z", (const char *) out, len, &r);
        assert_string_equal(r.events[0].fault_module, "fakesensor");
        crash_report_done(&r);
        /* not deflate data after all: parsed as is, no crash */
        parse_one("dmesg-efi-170000000001001.enc.z", text, sizeof text - 1, &r);
        assert_string_equal(r.events[0].fault_module, "fakesensor");
        crash_report_done(&r);
}

static void test_summary_and_evidence(void **state) {
        CrashReport r;
        read_synthetic("oops-module", &r);
        char buf[512];
        assert_string_equal(crash_report_summary(&r, buf, sizeof buf),
                            "Oops#1: BUG: unable to handle page fault for address: ffffffffc0400000; RIP "
                            "fs_scan_file+0x85/0x1000 [fakesensor]; fs-worker[4242]; taint GOE");
        char small[16];
        crash_report_summary(&r, small, sizeof small); /* cut, terminated */
        assert_int_equal(strlen(small), sizeof small - 1);
        Event e = { .type = EVENT_CRASH_RECORD, .message = "crash" };
        CrashVerdict v;
        weigh(&r, "fakesensor", &v);
        record_add_crash_evidence(&e, &r, &v);
        static const char *const want[][2] = {
                { "crash_module", "fakesensor" },
                { "crash_points_at", "fakesensor (fs-worker)" },
                { "crash_strength", "strong" },
                { "crash_evidence", "RIP in fakesensor (strong)" },
        };
        for (size_t k = 0; k < ELEMENTSOF(want); k++) {
                bool seen = false;
                for (size_t i = 0; i < e.n_evidence; i++)
                        if (strcmp(e.evidence[i].key, want[k][0]) == 0) {
                                assert_string_equal(e.evidence[i].value, want[k][1]);
                                seen = true;
                        }
                if (!seen)
                        fail_msg("no %s evidence", want[k][0]);
        }
        assert_int_equal(e.n_dropped, 0);
        crash_report_done(&r);
        CrashReport empty = {};
        assert_string_equal(crash_report_summary(&empty, buf, sizeof buf), "no crash record");
}

/* ---- the directory ---- */

typedef struct Dirs {
        char *tmp;
        char pstore[200];
        char root[200];
        int root_fd;
} Dirs;

static int dirs_setup(void **state) {
        Dirs *d = calloc(1, sizeof *d);
        assert_non_null(d);
        d->tmp = unit_mkdtemp();
        snprintf(d->pstore, sizeof d->pstore, "%s/pstore", d->tmp);
        snprintf(d->root, sizeof d->root, "%s/root", d->tmp);
        assert_int_equal(mkdir(d->pstore, 0755), 0);
        assert_int_equal(mkdir(d->root, 0755), 0);
        assert_int_equal(root_open(d->root, &d->root_fd), 0);
        *state = d;
        return 0;
}

static int dirs_teardown(void **state) {
        Dirs *d = *state;
        close(d->root_fd);
        unit_rmdir(d->tmp);
        free(d);
        return 0;
}

static void copy_synthetic(const Dirs *d, const char *name) {
        char *src = fixture("pstore-synthetic/");
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cp '%s%s'/dmesg-* '%s'/", src, name, d->pstore);
        assert_int_equal(system(cmd), 0);
        free(src);
}

static size_t count_entries(const char *dir, const char *prefix) {
        DIR *dd = opendir(dir);
        if (!dd)
                return 0;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(dd)))
                if (de->d_name[0] != '.' && strncmp(de->d_name, prefix, strlen(prefix)) == 0)
                        n++;
        closedir(dd);
        return n;
}

static void test_read_missing_and_empty(void **state) {
        Dirs *d = *state;
        char p[300];
        snprintf(p, sizeof p, "%s/nonexistent", d->tmp);
        CrashReport r = { .found = true };
        assert_int_equal(pstore_read(p, &r), 0);
        assert_false(r.found);
        assert_int_equal(pstore_read(d->pstore, &r), 0);
        assert_false(r.found);
        assert_int_equal(r.n_events, 0);
        unit_write(d->tmp, "afile", "x");
        snprintf(p, sizeof p, "%s/afile", d->tmp);
        assert_int_equal(pstore_read(p, &r), -ENOTDIR);
}

static void test_read_skips_links_and_specials(void **state) {
        Dirs *d = *state;
        /* a symlink to a file that looks like a crash naming fakesensor, a
         * FIFO (would block a plain open), a directory */
        unit_write(d->tmp, "bait", "Oops#1 Part1\n" OOPS_HEAD "RIP: 0010:a+1/2 [fakesensor]\n");
        char p[300], t[700];
        snprintf(t, sizeof t, "%s/bait", d->tmp);
        snprintf(p, sizeof p, "%s/dmesg-efi-170000000001001", d->pstore);
        assert_int_equal(symlink(t, p), 0);
        snprintf(p, sizeof p, "%s/dmesg-ramoops-7", d->pstore);
        assert_int_equal(mkfifo(p, 0600), 0);
        snprintf(p, sizeof p, "%s/dmesg-ramoops-8", d->pstore);
        assert_int_equal(mkdir(p, 0700), 0);
        CrashReport r;
        assert_int_equal(pstore_read(d->pstore, &r), 0);
        assert_false(r.found);
        assert_int_equal(r.n_skipped, 3);
        crash_report_done(&r);

        /* and archive-and-clear leaves them alone, copying nothing */
        char *name = (char *) "unset";
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, &name), 0);
        assert_null(name);
        assert_int_equal(count_entries(d->pstore, "dmesg-"), 3);

        /* a name the kernel never makes (no archive name is built from it) */
        unit_write(d->pstore, "dmesg-efi-1 \x1b[2J", "Oops#1 Part1\n");
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, &name), 0);
        assert_null(name);
        assert_int_equal(count_entries(d->pstore, "dmesg-"), 4);
        char a[300];
        snprintf(a, sizeof a, "%s%s", d->root, LASTGOOD_CRASH_DIR);
        assert_int_equal(count_entries(a, ""), 0);
}

static void test_read_caps(void **state) {
        Dirs *d = *state;
        /* more records than PSTORE_RECORDS_MAX: the newest are read */
        for (int i = 0; i < PSTORE_RECORDS_MAX + 6; i++) {
                char name[64], body[256];
                snprintf(name, sizeof name, "dmesg-efi-%llu",
                         (1700000000ULL + (unsigned long long) i * 1000) * 100000ULL + 1001);
                snprintf(body, sizeof body, "Panic#1 Part1\n" OOPS_HEAD "RIP: 0010:f+1/2 [mod%d]\n", i);
                unit_write(d->pstore, name, body);
        }
        CrashReport r;
        assert_int_equal(pstore_read(d->pstore, &r), 0);
        assert_int_equal(r.n_records, PSTORE_RECORDS_MAX);
        assert_int_equal(r.n_skipped, 6);
        char want[16];
        snprintf(want, sizeof want, "mod%d", PSTORE_RECORDS_MAX + 5);
        assert_string_equal(r.events[0].fault_module, want);
        crash_report_done(&r);
}

static void test_read_record_cap(void **state) {
        Dirs *d = *state;
        size_t n = PSTORE_RECORD_MAX + 4096;
        char *big = malloc(n + 1);
        assert_non_null(big);
        int o = sprintf(big, "Oops#1 Part1\n" OOPS_HEAD "RIP: 0010:f+1/2 [fakesensor]\n");
        memset(big + o, 'x', n - (size_t) o);
        big[n] = '\0';
        unit_write(d->pstore, "dmesg-efi-170000000001001", big);
        free(big);
        CrashReport r;
        assert_int_equal(pstore_read(d->pstore, &r), 0);
        assert_true(r.events[0].incomplete);
        assert_string_equal(r.events[0].fault_module, "fakesensor");
        crash_report_done(&r);
}

static void test_archive_and_clear(void **state) {
        Dirs *d = *state;
        copy_synthetic(d, "multipart");
        unit_write(d->pstore, "console-ramoops-0", "not a dmesg record\n");
        char *name = NULL;
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, &name), 4);
        assert_non_null(name);
        /* the newest record, named by its dump time */
        assert_string_equal(name, "20231114T232001Z-dmesg-efi-170000400103001");
        free(name);
        assert_int_equal(count_entries(d->pstore, "dmesg-"), 0); /* NVRAM freed */
        assert_int_equal(count_entries(d->pstore, "console-"), 1);

        char a[300];
        snprintf(a, sizeof a, "%s%s", d->root, LASTGOOD_CRASH_DIR);
        assert_int_equal(count_entries(a, ""), 4);
        struct stat st;
        assert_int_equal(stat(a, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);

        /* byte for byte */
        char *src = fixture("pstore-synthetic/multipart/dmesg-efi-169000000001001");
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s/20230722T042640Z-dmesg-efi-169000000001001'", src, a);
        assert_int_equal(system(cmd), 0);
        free(src);
        /* and the archive still parses as crash records */
        CrashReport r;
        assert_int_equal(pstore_read(d->pstore, &r), 0);
        assert_false(r.found);

        /* nothing left: nothing to do */
        name = (char *) "unset";
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, &name), 0);
        assert_null(name);
        snprintf(cmd, sizeof cmd, "%s/nonexistent", d->tmp);
        assert_int_equal(pstore_archive_and_clear(cmd, d->root_fd, LASTGOOD_CRASH_DIR, NULL), 0);
}

static void test_archive_rerun_after_power_cut(void **state) {
        Dirs *d = *state;
        copy_synthetic(d, "oops-module");
        /* a previous run copied the record, then lost power before unlinking */
        char a[300];
        snprintf(a, sizeof a, "%s%s", d->root, LASTGOOD_CRASH_DIR);
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s' && cp '%s/dmesg-efi-170000000001001' '%s/20231114T221320Z-dmesg-efi-170000000001001'",
                 a, d->pstore, a);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, NULL), 1);
        assert_int_equal(count_entries(a, ""), 1); /* the same name, not a second copy */
        assert_int_equal(count_entries(d->pstore, "dmesg-"), 0);
}

static void test_archive_prunes_oldest(void **state) {
        Dirs *d = *state;
        char a[300];
        snprintf(a, sizeof a, "%s%s", d->root, LASTGOOD_CRASH_DIR);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", a);
        assert_int_equal(system(cmd), 0);
        for (int i = 0; i < 55; i++) {
                char name[64];
                snprintf(name, sizeof name, "20200101T0000%02dZ-dmesg-efi-%d", i, i);
                unit_write(a, name, "old\n");
        }
        unit_write(a, "notes.txt", "the admin's, not ours\n");
        copy_synthetic(d, "multipart");
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, NULL), 4);
        assert_int_equal(count_entries(a, "2"), PSTORE_ARCHIVE_KEEP);
        assert_int_equal(count_entries(a, "20200101T000000Z"), 0); /* the oldest went first */
        assert_int_equal(count_entries(a, "20200101T000054Z"), 1);
        assert_int_equal(count_entries(a, "20231114T232001Z"), 1); /* the new ones stay */
        assert_int_equal(count_entries(a, "notes.txt"), 1);
}

static void test_archive_leaves_foreign_names(void **state) {
        Dirs *d = *state;
        copy_synthetic(d, "core-panic");
        /* Names pstore never makes: not copied (they would become archive
         * file names) and not deleted (not ours). */
        unit_write(d->pstore, "dmesg-efi-1 2", "x\n");
        unit_write(d->pstore, "dmesg-efi-1\n2", "x\n");
        unit_write(d->pstore, "dmesg-efi-\x1b[2J", "x\n");
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, NULL), 1);
        assert_int_equal(count_entries(d->pstore, "dmesg-"), 3);
        char a[300];
        snprintf(a, sizeof a, "%s%s", d->root, LASTGOOD_CRASH_DIR);
        assert_int_equal(count_entries(a, ""), 1);
}

static void test_archive_beneath_root(void **state) {
        Dirs *d = *state;
        /* /var/lib/lastgood is an absolute symlink: it resolves inside the
         * root, not on the host */
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s/var/lib' '%s/elsewhere/crashes' && ln -s /elsewhere '%s/var/lib/lastgood'",
                 d->root, d->root, d->root);
        assert_int_equal(system(cmd), 0);
        copy_synthetic(d, "core-panic");
        assert_int_equal(pstore_archive_and_clear(d->pstore, d->root_fd, LASTGOOD_CRASH_DIR, NULL), 1);
        char p[300];
        snprintf(p, sizeof p, "%s/elsewhere/crashes", d->root);
        assert_int_equal(count_entries(p, "2023"), 1);
        assert_int_equal(access("/elsewhere/crashes", F_OK), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_fixtures),
                cmocka_unit_test(test_real_sensor_content_details),
                cmocka_unit_test(test_oops_with_module),
                cmocka_unit_test(test_panic_while_loading),
                cmocka_unit_test(test_core_kernel_panic),
                cmocka_unit_test(test_other_module_not_attributed),
                cmocka_unit_test(test_multipart_and_boots),
                cmocka_unit_test(test_ramoops_arm64),
                cmocka_unit_test(test_last_oops_counts),
                cmocka_unit_test(test_injected_segfault),
                cmocka_unit_test(test_real_injected_segfault),
                cmocka_unit_test(test_real_audit_panic),
                cmocka_unit_test(test_injected_before_header),
                cmocka_unit_test(test_planted_open_report),
                cmocka_unit_test(test_foreign_lines_inside_block),
                cmocka_unit_test(test_fields_out_of_place),
                cmocka_unit_test(test_comm_with_newline),
                cmocka_unit_test(test_oops_then_unrelated_panic),
                cmocka_unit_test(test_bpf_and_comm),
                cmocka_unit_test(test_unreliable_frame),
                cmocka_unit_test(test_no_newline_and_nuls),
                cmocka_unit_test(test_truncated_record),
                cmocka_unit_test(test_hostile_tokens),
                cmocka_unit_test(test_huge_line),
                cmocka_unit_test(test_binary_garbage),
                cmocka_unit_test(test_parts_grouping_robust),
                cmocka_unit_test(test_compressed_record),
                cmocka_unit_test(test_summary_and_evidence),
                cmocka_unit_test_setup_teardown(test_read_missing_and_empty, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_read_skips_links_and_specials, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_read_caps, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_read_record_cap, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_archive_and_clear, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_archive_rerun_after_power_cut, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_archive_prunes_oldest, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_archive_leaves_foreign_names, dirs_setup, dirs_teardown),
                cmocka_unit_test_setup_teardown(test_archive_beneath_root, dirs_setup, dirs_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
