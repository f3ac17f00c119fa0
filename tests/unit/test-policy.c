/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include "config/policy-internal.h"
#include "lib/rootfs.h"

static int parse(Policy *p, const char *yaml) {
        return policy_parse_buffer(p, "t.yaml", yaml, strlen(yaml));
}

/* A fresh default policy with YAML parsed on top; asserts the error count. */
static void load(Policy *p, const char *yaml, int want_errors) {
        assert_int_equal(policy_init_defaults(p), 0);
        int r = parse(p, yaml);
        if (r != want_errors)
                for (char **e = p->errors; e && *e; e++)
                        print_error("  %s\n", *e);
        assert_int_equal(r, want_errors);
        assert_int_equal(strv_length(p->errors), (size_t) want_errors);
}

static void test_defaults(void **state) {
        Policy p;
        assert_int_equal(policy_init_defaults(&p), 0);
        assert_int_equal(p.version, 1);
        assert_int_equal(p.boot.max_failed_boots, 3);
        assert_int_equal(p.boot.state, STATE_BACKEND_AUTO);
        assert_null(p.boot.state_device);
        assert_string_equal(p.boot.state_file, "/var/lib/lastgood/state");
        assert_true(p.boot.count_unknown_failures);
        assert_int_equal(p.confirm.n_health_checks, 0);
        assert_int_equal(p.n_components, 0);
        assert_int_equal(p.recovery.n_ladder, 3);
        assert_int_equal(p.recovery.ladder[0], LADDER_RESTORE_CONTENT);
        assert_int_equal(p.recovery.ladder[1], LADDER_QUARANTINE);
        assert_int_equal(p.recovery.ladder[2], LADDER_SAFE_MODE);
        assert_int_equal(p.recovery.attributed_crash_threshold, 1);
        assert_true(p.recovery.require_suspect);
        assert_true(p.recovery.suspect_window_usec == 72 * 3600 * USEC_PER_SEC);
        assert_false(p.recovery.safe_mode_without_suspect);
        assert_string_equal(p.snapshots.dir, "/var/lib/lastgood/snapshots");
        assert_int_equal(p.snapshots.keep, 3);
        assert_true(p.snapshots.max_bytes == 1ULL << 30);
        assert_true(p.snapshots.max_entries == 1000000);
        assert_true(p.snapshots.max_expanded_bytes == 8ULL << 30);
        assert_true(p.safe_mode.allow_cmdline);
        assert_true(p.safe_mode.require_code); /* safe as shipped */
        assert_int_equal(p.safe_mode.code_window, 10);
        assert_string_equal(p.safe_mode.secret_file, "/var/lib/lastgood/helpdesk.secret");
        assert_string_equal(p.report.prometheus_textfile, "/var/lib/prometheus/node-exporter/lastgood.prom");
        assert_null(p.errors);
        policy_done(&p);
}

static void test_parse_values(void **state) {
        Policy p;
        load(&p,
             "version: 1\n"
             "boot: {max_failed_boots: 7, state: file, state_device: UUID=0a1b-C2d3, state_file: /s/state,\n"
             "       count_unknown_failures: false}\n"
             "confirm:\n"
             "  health_checks:\n"
             "    - {name: a, command: [/bin/true, x], timeout: 2s}\n"
             "    - {name: b, command: [/bin/false]}\n"
             "components:\n"
             "  - name: s\n"
             "    content: [/etc/s]\n"
             "    kernel_modules: [s-mod, t_mod]\n"
             "    units: [s.service, s@1.socket]\n"
             "    quarantine: never\n"
             "    safe_mode: keep\n"
             "    max_failed_boots: 2\n"
             "recovery: {ladder: [safe-mode, restore-content], attributed_crash_threshold: 50,\n"
             "           require_suspect: false, suspect_window: 5min, safe_mode_without_suspect: true}\n"
             "snapshots: {dir: /x, keep: 100, max_bytes: 512M, max_entries: 1, max_expanded_bytes: 16T}\n"
             "safe_mode: {allow_cmdline: false, require_code: true, code_window: 100, secret_file: /k}\n"
             "report: {prometheus_textfile: ''}\n",
             0);
        assert_int_equal(p.boot.max_failed_boots, 7);
        assert_int_equal(p.boot.state, STATE_BACKEND_FILE);
        assert_string_equal(p.boot.state_device, "UUID=0a1b-C2d3");
        assert_string_equal(p.boot.state_file, "/s/state");
        assert_false(p.boot.count_unknown_failures);
        assert_int_equal(p.confirm.n_health_checks, 2);
        assert_string_equal(p.confirm.health_checks[0].name, "a");
        assert_string_equal(p.confirm.health_checks[0].command[1], "x");
        assert_null(p.confirm.health_checks[0].command[2]);
        assert_true(p.confirm.health_checks[0].timeout_usec == 2 * USEC_PER_SEC);
        assert_true(p.confirm.health_checks[1].timeout_usec == 90 * USEC_PER_SEC);
        assert_int_equal(p.n_components, 1);
        const Component *c = policy_find_component(&p, "s");
        assert_non_null(c);
        assert_string_equal(c->kernel_modules[0], "s_mod"); /* as lsmod spells it */
        assert_string_equal(c->kernel_modules[1], "t_mod");
        assert_string_equal(c->units[1], "s@1.socket");
        assert_int_equal(c->quarantine, QUARANTINE_NEVER);
        assert_int_equal(c->safe_mode, COMPONENT_SAFE_MODE_KEEP);
        assert_int_equal(policy_component_threshold(&p, c), 2);
        assert_int_equal(p.recovery.n_ladder, 2);
        assert_int_equal(p.recovery.ladder[0], LADDER_SAFE_MODE);
        assert_int_equal(p.recovery.attributed_crash_threshold, 50);
        assert_true(p.recovery.suspect_window_usec == 300 * USEC_PER_SEC);
        assert_true(p.recovery.safe_mode_without_suspect);
        assert_int_equal(p.snapshots.keep, 100);
        assert_true(p.snapshots.max_bytes == 512ULL << 20);
        assert_true(p.snapshots.max_expanded_bytes == 16ULL << 40);
        assert_true(p.safe_mode.require_code);
        assert_string_equal(p.safe_mode.secret_file, "/k");
        assert_string_equal(p.report.prometheus_textfile, "");
        policy_done(&p);
}

/* The identity keys of issue 10, on its Falcon example (exclude: test_exclude). */
static void test_identity_keys(void **state) {
        Policy p;
        load(&p,
             "components:\n"
             "  - name: falcon\n"
             "    content: [/opt/CrowdStrike]\n"
             "    kernel_modules: [falcon_lsm_serviceable, falcon_nf_netcontain, \"falcon_lsm_pinned_*\"]\n"
             "    processes: [\"falcon-sensor*\"]\n"
             "    bpf_programs: [\"falcon_*\"]\n"
             "    units: [falcon-sensor.service]\n",
             0);
        const Component *c = policy_find_component(&p, "falcon");
        assert_non_null(c);
        assert_int_equal(strv_length(c->kernel_modules), 3);
        assert_string_equal(c->kernel_modules[2], "falcon_lsm_pinned_*");
        assert_int_equal(strv_length(c->processes), 1);
        assert_string_equal(c->processes[0], "falcon-sensor*"); /* a comm keeps its dashes */
        assert_int_equal(strv_length(c->bpf_programs), 1);
        assert_string_equal(c->bpf_programs[0], "falcon_*");

        /* A drop-in replaces each list it sets, and only those. */
        assert_int_equal(parse(&p, "components: [{name: falcon, processes: [falcon-sensor-b, \"falcond*\"]}]\n"),
                         0);
        c = policy_find_component(&p, "falcon");
        assert_int_equal(strv_length(c->processes), 2);
        assert_string_equal(c->processes[1], "falcond*");
        assert_string_equal(c->bpf_programs[0], "falcon_*");
        assert_int_equal(strv_length(c->kernel_modules), 3);
        policy_done(&p);

        /* A dash inside brackets may be a range: only those outside fold. */
        load(&p, "components: [{name: a, kernel_modules: [\"acme-[a-z]-*\"]}]\n", 0);
        assert_string_equal(p.components[0].kernel_modules[0], "acme_[a-z]_*");
        policy_done(&p);
}

/* exclude: paths or globs strictly below the component's own content, each
 * error at its line and column. */
static void test_exclude(void **state) {
        Policy p;
        load(&p,
             "components:\n"
             "  - name: falcon\n"
             "    content: [/opt/CrowdStrike, /var/osquery]\n"
             "    exclude: [/opt/CrowdStrike/falconstore, \"/opt/CrowdStrike/*.log\", /var/osquery/osquery.db]\n",
             0);
        const Component *c = policy_find_component(&p, "falcon");
        assert_int_equal(strv_length(c->exclude), 3);
        assert_string_equal(c->exclude[1], "/opt/CrowdStrike/*.log");

        /* A drop-in may set exclude alone: checked against the content it inherits. */
        assert_int_equal(parse(&p, "components: [{name: falcon, exclude: [/var/osquery/osquery.db]}]\n"), 0);
        assert_int_equal(strv_length(policy_find_component(&p, "falcon")->exclude), 1);
        /* ...and one that moves the content from under an inherited exclude
         * is refused where it sets the content, contributing nothing. */
        assert_int_equal(parse(&p, "components:\n"
                                   "  - name: falcon\n"
                                   "    content: [/opt/CrowdStrike]\n"),
                         1);
        assert_string_equal(p.errors[0],
                            "t.yaml:3:14: components[0].content: exclude entry '/var/osquery/osquery.db' "
                            "(from an earlier file) is not below any of the component's content paths");
        assert_int_equal(strv_length(policy_find_component(&p, "falcon")->content), 2);
        policy_done(&p);

        /* Malformed entries: what name_is_exclude_pattern() refuses. */
#define COMPONENT_A "components:\n  - name: a\n    content: [/opt/a]\n    exclude:\n"
        load(&p,
             COMPONENT_A "      - opt/a/x\n"          /* 5: relative */
                         "      - /opt/a/../etc\n"    /* 6: .. */
                         "      - /opt/a/db/\n"       /* 7: trailing slash */
                         "      - \"/opt/a/[ab\"\n"   /* 8: unclosed bracket */
                         "      - \"/opt/a/x\\\\\"\n" /* 9: an escape eating the end */
                         "      - \"/opt/a/x\\n\"\n", /* 10: a control character */
             6);
        assert_string_equal(p.errors[0], "t.yaml:5:9: components[0].exclude[0]: expected a normalized absolute path or "
                                         "glob of one (* ? [...], '*' not crossing '/'), got 'opt/a/x'");
        for (int i = 1; i < 6; i++) {
                char want[96];
                snprintf(want, sizeof want, "t.yaml:%d:9: components[0].exclude[%d]: expected", 5 + i, i);
                assert_non_null(strstr(p.errors[i], want));
        }
        /* Once every entry of a component is well-formed, where each lies is checked. */
        policy_done(&p);
        load(&p,
             COMPONENT_A "      - /etc/a\n"       /* not below the content */
                         "      - /opt/a\n"       /* the content itself */
                         "      - /opt/ab/x\n"    /* a sibling with the same prefix */
                         "      - \"/opt/*/x\"\n" /* a glob over the content path */
                         "      - /opt/a/ok\n"
                         "      - \"/opt/a/\\\\*.log\"\n" /* an escaped '*' is still below */
                         "  - {name: b, exclude: [/opt/b/x]}\n",
             5);
        assert_string_equal(p.errors[0], "t.yaml:5:9: components[0].exclude[0]: '/etc/a' is not below any of the "
                                         "component's content paths");
        assert_string_equal(p.errors[1], "t.yaml:6:9: components[0].exclude[1]: '/opt/a' names a content path "
                                         "itself (remove it from content instead)");
        assert_string_equal(p.errors[2], "t.yaml:7:9: components[0].exclude[2]: '/opt/ab/x' is not below any of "
                                         "the component's content paths");
        assert_string_equal(p.errors[3], "t.yaml:8:9: components[0].exclude[3]: '/opt/*/x' is not below any of "
                                         "the component's content paths");
        assert_string_equal(p.errors[4], "t.yaml:11:25: components[1].exclude[0]: '/opt/b/x' is not below any of "
                                         "the component's content paths");
#undef COMPONENT_A
        /* Nothing of a file with errors applies. */
        assert_int_equal(p.n_components, 0);
        policy_done(&p);
}

static void test_bounds(void **state) {
        static const struct {
                const char *yaml;
                int errors;
        } cases[] = {
                { "boot: {max_failed_boots: 1}", 0 },
                { "boot: {max_failed_boots: 50}", 0 },
                { "boot: {max_failed_boots: 0}", 1 },
                { "boot: {max_failed_boots: 51}", 1 },
                { "boot: {max_failed_boots: -1}", 1 },
                { "boot: {max_failed_boots: 03}", 1 },
                { "boot: {max_failed_boots: 99999999999999999999999}", 1 },
                { "snapshots: {keep: 100}", 0 },
                { "snapshots: {keep: 101}", 1 },
                { "snapshots: {max_bytes: 1M}", 0 },
                { "snapshots: {max_bytes: 1T}", 0 },
                { "snapshots: {max_bytes: 1023K}", 1 },
                { "snapshots: {max_entries: 0}", 1 },
                { "safe_mode: {code_window: 0}", 1 },
                { "safe_mode: {code_window: 100}", 0 },
                { "recovery: {attributed_crash_threshold: 51}", 1 },
                { "recovery: {suspect_window: 0}", 0 },
                { "recovery: {suspect_window: 365d}", 0 },
                { "recovery: {suspect_window: 366d}", 1 },
                { "confirm: {health_checks: [{name: a, command: [/a], timeout: 1s}]}", 0 },
                { "confirm: {health_checks: [{name: a, command: [/a], timeout: 1h}]}", 0 },
                { "confirm: {health_checks: [{name: a, command: [/a], timeout: 500ms}]}", 1 },
                { "confirm: {health_checks: [{name: a, command: [/a], timeout: 61min}]}", 1 },
                { "components: [{name: abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123}]", 0 },
                { "components: [{name: abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234}]", 1 },
                { "components: [{name: a, max_failed_boots: 0}]", 1 },
                { "boot: {count_unknown_failures: TRUE}", 1 },
                { "boot: {state_device: LABEL=}", 1 },
                { "boot: {state_device: UUID=xyz}", 1 },
                { "boot: {state_device: PARTLABEL=lastgood-state}", 0 },
                { "boot: {state_device: ''}", 0 },
                { "boot: {state_file: /}", 0 },
                { "boot: {state_file: /a/}", 1 },
                { "boot: {state_file: /a/./b}", 1 },
                { "snapshots: {dir: /dev/shm/x}", 1 },
                { "snapshots: {dir: /device}", 0 }, /* only /dev itself and below */
                { "report: {prometheus_textfile: relative.prom}", 1 },
                { "components: [{name: a, units: [.service]}]", 1 },
                { "components: [{name: a, units: [a.unknowntype]}]", 1 },
                /* units globs, with a literal type suffix */
                { "components: [{name: a, units: [\"a*.service\"]}]", 0 },
                { "components: [{name: a, units: [\"a-[0-9].timer\", \"a?.socket\"]}]", 0 },
                { "components: [{name: a, units: [\"a*\"]}]", 1 },
                { "components: [{name: a, units: [\"a.*\"]}]", 1 },
                { "components: [{name: a, units: [\"a/*.service\"]}]", 1 },
                { "components: [{name: a, kernel_modules: [\"a[b\"]}]", 1 },
                { "components: [{name: a, kernel_modules: [\"a.*\"]}]", 1 },
                { "components: [{name: a, processes: [abcdefghijklmno]}]", 0 },
                { "components: [{name: a, processes: [abcdefghijklmnop]}]", 1 },
                { "components: [{name: a, processes: [\"abcdefghijklmnop*\"]}]", 0 },
                { "components: [{name: a, processes: [\"kworker/*\"]}]", 0 },
                { "components: [{name: a, processes: [\"a\\nb\"]}]", 1 },
                { "components: [{name: a, processes: []}]", 0 },
                { "components: [{name: a, bpf_programs: [\"a-b\"]}]", 1 },
                { "components: [{name: a, bpf_programs: [a.b_c]}]", 0 },
                { "components: [{name: a, panic_messages: [\"audit: *\"]}]", 0 },
                { "components: [{name: a, panic_messages: [\" audit: *\"]}]", 1 },
                { "components: [{name: a, panic_messages: [\"audit\\tx\"]}]", 1 },
                { "components: [{name: a, panic_messages: [\"audit: [\"]}]", 1 },
                { "components: [{name: a, panic_messages: [\"\"]}]", 1 },
                { "components: [{name: a, content: [\"/opt/a/*\"]}]", 1 },
                { "components: [{name: a, content: [\"/opt/a[1]\"]}]", 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Policy p;
                print_message("case: %s\n", cases[i].yaml);
                load(&p, cases[i].yaml, cases[i].errors);
                policy_done(&p);
        }
}

static void test_error_messages(void **state) {
        Policy p;
        load(&p,
             "boot:\n"
             "  max_failed_boots: x\n"
             "  nope: 1\n"
             "  max_failed_boots: 4\n"
             "recovery:\n"
             "  ladder: [quarantine, \"\\e[31mred\"]\n",
             4);
        assert_string_equal(p.errors[0],
                            "t.yaml:2:21: boot.max_failed_boots: expected an integer from 1 to 50, got 'x'");
        assert_string_equal(p.errors[1], "t.yaml:3:3: unknown key 'boot.nope'");
        assert_string_equal(p.errors[2], "t.yaml:4:3: duplicate key 'boot.max_failed_boots' (first at line 2)");
        /* Hostile bytes are escaped, never echoed to a terminal raw. */
        assert_string_equal(p.errors[3], "t.yaml:6:24: recovery.ladder[1]: expected one of restore-content, "
                                         "quarantine, safe-mode, got '\\x1b[31mred'");
        policy_done(&p);
}

/* A file with any error contributes nothing, not even its valid keys. */
static void test_all_or_nothing(void **state) {
        Policy p;
        load(&p, "boot: {max_failed_boots: 5}\ncomponents: [{name: a}]\n", 0);
        assert_int_equal(parse(&p, "boot: {max_failed_boots: 9, state: nvram}\ncomponents: [{name: b}]\n"), 1);
        assert_int_equal(p.boot.max_failed_boots, 5);
        assert_int_equal(p.boot.state, STATE_BACKEND_AUTO);
        assert_int_equal(p.n_components, 1);
        assert_null(policy_find_component(&p, "b"));
        policy_done(&p);
}

static void test_merge(void **state) {
        Policy p;
        load(&p,
             "boot: {max_failed_boots: 5, state: efivar}\n"
             "confirm: {health_checks: [{name: a, command: [/a]}, {name: b, command: [/b]}]}\n"
             "components:\n"
             "  - {name: x, content: [/x], units: [x.service], quarantine: never, max_failed_boots: 2}\n"
             "  - {name: y, content: [/y]}\n",
             0);
        assert_int_equal(parse(&p, "boot: {max_failed_boots: 6}\n"
                                   "confirm: {health_checks: [{name: c, command: [/c]}]}\n"
                                   "components:\n"
                                   "  - {name: x, units: [x2.service, x3.service]}\n"
                                   "  - {name: z, kernel_modules: [z]}\n"),
                         0);
        assert_int_equal(p.boot.max_failed_boots, 6);
        assert_int_equal(p.boot.state, STATE_BACKEND_EFIVAR);
        /* Lists other than components are replaced whole. */
        assert_int_equal(p.confirm.n_health_checks, 1);
        assert_string_equal(p.confirm.health_checks[0].name, "c");
        assert_int_equal(p.n_components, 3);
        const Component *x = policy_find_component(&p, "x");
        assert_non_null(x);
        assert_string_equal(x->content[0], "/x");
        assert_int_equal(strv_length(x->units), 2);
        assert_string_equal(x->units[1], "x3.service");
        assert_int_equal(x->quarantine, QUARANTINE_NEVER);
        assert_int_equal(policy_component_threshold(&p, x), 2);
        const Component *z = policy_find_component(&p, "z");
        assert_non_null(z);
        assert_int_equal(z->quarantine, QUARANTINE_ALLOW);
        assert_int_equal(z->safe_mode, COMPONENT_SAFE_MODE_DISABLE);
        assert_int_equal(policy_component_threshold(&p, z), 6);
        assert_non_null(policy_find_component(&p, "y"));
        assert_null(policy_find_component(&p, "nope"));
        policy_done(&p);
}

static void test_components_cap_across_files(void **state) {
        Policy p;
        char buf[8192];
        assert_int_equal(policy_init_defaults(&p), 0);
        for (int f = 0; f < 2; f++) {
                size_t o = (size_t) snprintf(buf, sizeof buf, "components:\n");
                for (int i = 0; i < 40; i++)
                        o += (size_t) snprintf(buf + o, sizeof buf - o, "  - name: c%d_%d\n", f, i);
                /* The second file's last 16 overflow the cap of 64... */
                assert_int_equal(parse(&p, buf), f == 0 ? 0 : 80 - POLICY_MAX_COMPONENTS);
        }
        /* ...so none of its 40 apply. */
        assert_int_equal(p.n_components, 40);
        policy_done(&p);
}

static void test_hostile_structure(void **state) {
        Policy p;
        char *deep = malloc(100001);
        assert_non_null(deep);
        memset(deep, '[', 100000);
        deep[100000] = '\0';
        load(&p, deep, 1);
        assert_string_equal(p.errors[0], "t.yaml:1:65: nesting deeper than 64 levels");
        policy_done(&p);
        free(deep);

        /* 64 levels are fine structurally (then refused as the wrong type). */
        char ok[200] = "a: ";
        memset(ok + 3, '[', 63);
        memset(ok + 66, ']', 63);
        ok[129] = '\0';
        load(&p, ok, 1);
        assert_string_equal(p.errors[0], "t.yaml:1:1: unknown key 'a'");
        policy_done(&p);

        load(&p, "components: &a [ *a ]\n", 2);
        policy_done(&p);

        /* Oversized input is refused before parsing. */
        size_t big = POLICY_MAX_FILE_SIZE + 1;
        char *b = malloc(big);
        assert_non_null(b);
        memset(b, '#', big);
        assert_int_equal(policy_init_defaults(&p), 0);
        assert_int_equal(policy_parse_buffer(&p, "t.yaml", b, big), 1);
        assert_string_equal(p.errors[0], "t.yaml:1:1: file is larger than 262144 bytes");
        policy_done(&p);
        free(b);

        /* Embedded NUL in the buffer itself. */
        assert_int_equal(policy_init_defaults(&p), 0);
        assert_int_equal(policy_parse_buffer(&p, "t.yaml", "version: 1\n\0x", 13), 1);
        assert_string_equal(p.errors[0], "t.yaml:2:1: not valid text: control characters are not allowed");
        policy_done(&p);
}

static void test_error_cap(void **state) {
        Policy p;
        char *buf = malloc(64 * 1024);
        assert_non_null(buf);
        size_t o = (size_t) sprintf(buf, "boot:\n");
        for (int i = 0; i < 150; i++)
                o += (size_t) sprintf(buf + o, "  k%d: 1\n", i);
        assert_int_equal(policy_init_defaults(&p), 0);
        assert_int_equal(parse(&p, buf), POLICY_MAX_ERRORS);
        assert_int_equal(strv_length(p.errors), POLICY_MAX_ERRORS + 1);
        assert_string_equal(p.errors[POLICY_MAX_ERRORS], "t.yaml:102:3: too many errors, giving up");
        policy_done(&p);
        free(buf);
}

static void test_strings(void **state) {
        assert_string_equal(ladder_step_to_string(LADDER_RESTORE_CONTENT), "restore-content");
        assert_string_equal(ladder_step_to_string(LADDER_QUARANTINE), "quarantine");
        assert_string_equal(ladder_step_to_string(LADDER_SAFE_MODE), "safe-mode");
        assert_string_equal(ladder_step_to_string(_LADDER_STEP_MAX), "?");
        assert_int_equal(ladder_step_from_string("safe-mode"), LADDER_SAFE_MODE);
        assert_int_equal(ladder_step_from_string("restore-content"), LADDER_RESTORE_CONTENT);
        assert_int_equal(ladder_step_from_string("Safe-Mode"), -EINVAL);
        assert_int_equal(ladder_step_from_string(NULL), -EINVAL);
        assert_string_equal(state_backend_kind_to_string(STATE_BACKEND_EFIVAR), "efivar");
        assert_string_equal(state_backend_kind_to_string((StateBackendKind) 7), "?");
        assert_string_equal(quarantine_mode_to_string(QUARANTINE_NEVER), "never");
        assert_string_equal(component_safe_mode_to_string(COMPONENT_SAFE_MODE_KEEP), "keep");
}

static void test_dump(void **state) {
        Policy p;
        load(&p, "components: [{name: \"a\", content: [\"/x\\\"y\"]}]\n", 0);
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        assert_non_null(f);
        policy_dump(&p, f, true);
        fclose(f);
        assert_non_null(strstr(s, "\"content\":[\"/x\\\"y\"]"));
        assert_non_null(strstr(s, "\"suspect_window\":\"3d\""));
        assert_non_null(strstr(s, "\"errors\":[]"));
        free(s);

        /* The human form reads back as the same policy. */
        f = open_memstream(&s, &n);
        assert_non_null(f);
        policy_dump(&p, f, false);
        fclose(f);
        Policy q;
        load(&q, s, 0);
        assert_string_equal(q.components[0].content[0], "/x\"y");
        assert_int_equal(q.boot.max_failed_boots, p.boot.max_failed_boots);
        free(s);
        policy_done(&q);
        policy_done(&p);
}

static char *dump(const Policy *p, bool json) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        assert_non_null(f);
        policy_dump(p, f, json);
        assert_int_equal(fclose(f), 0);
        return s;
}

/* The exact output of `policy check` for one policy holding every kind of
 * key, in both dialects: the one walk over the schema must print what the
 * hand-written dumpers printed, byte for byte (scripts read it). */
static const char golden_in[] = "boot: {state_device: \"LABEL=st\"}\n"
                                "confirm:\n"
                                "  health_checks:\n"
                                "    - {name: h, command: [/bin/true, \"a b\"], timeout: 2min}\n"
                                "components:\n"
                                "  - {name: a, content: [/etc/a], exclude: [/etc/a/db, \"/etc/a/*.log\"],\n"
                                "     kernel_modules: [a-mod, \"a-[a-c]-*\"], processes: [\"a d*\"],\n"
                                "     bpf_programs: [a_*], panic_messages: [\"a: *\"], units: [a.service],\n"
                                "     quarantine: never,\n"
                                "     safe_mode: keep, max_failed_boots: 2}\n"
                                "  - {name: b}\n"
                                "recovery: {ladder: [quarantine, safe-mode], suspect_window: 90min}\n"
                                "snapshots: {max_bytes: 1536M, max_entries: 7}\n"
                                "report: {prometheus_textfile: \"\"}\n";
static const char golden_yaml[] = "# The effective lastgood policy: built-in defaults\n"
                                  "version: 1\n"
                                  "boot:\n"
                                  "  max_failed_boots: 3\n"
                                  "  state: auto\n"
                                  "  state_device: \"LABEL=st\"\n"
                                  "  state_file: \"/var/lib/lastgood/state\"\n"
                                  "  count_unknown_failures: true\n"
                                  "confirm:\n"
                                  "  health_checks:\n"
                                  "    - name: \"h\"\n"
                                  "      command: [\"/bin/true\", \"a b\"]\n"
                                  "      timeout: 2min\n"
                                  "components:\n"
                                  "  - name: \"a\"\n"
                                  "    content: [\"/etc/a\"]\n"
                                  "    exclude: [\"/etc/a/db\", \"/etc/a/*.log\"]\n"
                                  "    kernel_modules: [\"a_mod\", \"a_[a-c]_*\"]\n"
                                  "    processes: [\"a d*\"]\n"
                                  "    bpf_programs: [\"a_*\"]\n"
                                  "    panic_messages: [\"a: *\"]\n"
                                  "    units: [\"a.service\"]\n"
                                  "    quarantine: never\n"
                                  "    safe_mode: keep\n"
                                  "    max_failed_boots: 2\n"
                                  "  - name: \"b\"\n"
                                  "    content: []\n"
                                  "    exclude: []\n"
                                  "    kernel_modules: []\n"
                                  "    processes: []\n"
                                  "    bpf_programs: []\n"
                                  "    panic_messages: []\n"
                                  "    units: []\n"
                                  "    quarantine: allow\n"
                                  "    safe_mode: disable\n"
                                  "    # max_failed_boots: 3 (boot.max_failed_boots)\n"
                                  "recovery:\n"
                                  "  ladder: [quarantine, safe-mode]\n"
                                  "  restore_threshold: 1\n"
                                  "  attributed_crash_threshold: 1\n"
                                  "  require_suspect: true\n"
                                  "  suspect_window: 90min\n"
                                  "  safe_mode_without_suspect: false\n"
                                  "snapshots:\n"
                                  "  dir: \"/var/lib/lastgood/snapshots\"\n"
                                  "  keep: 3\n"
                                  "  max_bytes: 1536M\n"
                                  "  max_entries: 7\n"
                                  "  max_expanded_bytes: 8G\n"
                                  "safe_mode:\n"
                                  "  allow_cmdline: true\n"
                                  "  require_code: true\n"
                                  "  code_window: 10\n"
                                  "  secret_file: \"/var/lib/lastgood/helpdesk.secret\"\n"
                                  "report:\n"
                                  "  prometheus_textfile: \"\"\n";
static const char golden_json[] =
        "{\"version\":1,\"boot\":{\"max_failed_boots\":3,\"state\":\"auto\","
        "\"state_device\":\"LABEL=st\",\"state_file\":\"/var/lib/lastgood/state\","
        "\"count_unknown_failures\":true},\"confirm\":{\"health_checks\":[{\"name\":\"h\","
        "\"command\":[\"/bin/true\",\"a b\"],\"timeout\":\"2min\"}]},"
        "\"components\":[{\"name\":\"a\",\"content\":[\"/etc/a\"],"
        "\"exclude\":[\"/etc/a/db\",\"/etc/a/*.log\"],\"kernel_modules\":[\"a_mod\",\"a_[a-c]_*\"],"
        "\"processes\":[\"a d*\"],\"bpf_programs\":[\"a_*\"],\"panic_messages\":[\"a: *\"],\"units\":[\"a.service\"],\"quarantine\":\"never\",\"safe_mode\":\"keep\","
        "\"max_failed_boots\":2},{\"name\":\"b\",\"content\":[],\"exclude\":[],\"kernel_modules\":[],\"processes\":[],"
        "\"bpf_programs\":[],\"panic_messages\":[],\"units\":[],"
        "\"quarantine\":\"allow\",\"safe_mode\":\"disable\",\"max_failed_boots\":3}],"
        "\"recovery\":{\"ladder\":[\"quarantine\",\"safe-mode\"],\"restore_threshold\":1,"
        "\"attributed_crash_threshold\":1,"
        "\"require_suspect\":true,\"suspect_window\":\"90min\","
        "\"safe_mode_without_suspect\":false},"
        "\"snapshots\":{\"dir\":\"/var/lib/lastgood/snapshots\",\"keep\":3,"
        "\"max_bytes\":1610612736,\"max_entries\":7,\"max_expanded_bytes\":8589934592},"
        "\"safe_mode\":{\"allow_cmdline\":true,\"require_code\":true,\"code_window\":10,"
        "\"secret_file\":\"/var/lib/lastgood/helpdesk.secret\"},"
        "\"report\":{\"prometheus_textfile\":\"\"},\"files\":[],\"overridden\":[],\"masked\":[],\"errors\":[],"
        "\"warnings\":[]}\n";

static void test_dump_golden(void **state) {
        Policy p;
        load(&p, golden_in, 0);
        char *y = dump(&p, false), *j = dump(&p, true);
        assert_string_equal(y, golden_yaml);
        assert_string_equal(j, golden_json);
        free(y);
        free(j);
        policy_done(&p);
}

/* Whatever the dump prints reads back as the same policy: dump, parse, dump
 * again gives the same text. */
static void test_dump_round_trip(void **state) {
        Policy p, q;
        load(&p, golden_in, 0);
        char *first = dump(&p, false);
        load(&q, first, 0);
        char *second = dump(&q, false);
        assert_string_equal(first, second);
        free(first);
        free(second);
        policy_done(&q);
        policy_done(&p);
}

/* The deep copy walks the schema: the copy prints the same and owns all of
 * its memory (ASan reports a shared pointer as a double free). */
static void test_copy_settings(void **state) {
        Policy p, q;
        load(&p, golden_in, 0);
        assert_int_equal(policy_copy_settings(&p, &q), 0);
        assert_ptr_not_equal(q.components, p.components);
        assert_ptr_not_equal(q.components[0].content, p.components[0].content);
        assert_ptr_not_equal(q.confirm.health_checks[0].command, p.confirm.health_checks[0].command);
        assert_ptr_not_equal(q.boot.state_device, p.boot.state_device);
        assert_null(q.errors);
        char *a = dump(&p, true), *b = dump(&q, true);
        assert_string_equal(a, b);
        free(a);
        free(b);
        policy_done(&p);
        /* Still whole after the original is gone. */
        assert_string_equal(q.components[0].units[0], "a.service");
        policy_done(&q);
}

/* Every default lies in its own range, and every key of the schema is
 * printed: a key added to the table without a default or a range shows here. */
static void check_fields(const Field *fields, size_t n, const char *yaml) {
        for (size_t i = 0; i < n; i++) {
                const Field *f = &fields[i];
                char k[128];
                snprintf(k, sizeof k, "%s:", f->key);
                if (!f->inherit_key)
                        assert_non_null(strstr(yaml, k));
                switch (f->type) {
                case FT_VERSION:
                case FT_U32:
                case FT_U64:
                case FT_DURATION:
                case FT_SIZE:
                        if (f->inherit_key)
                                assert_true(f->def == 0); /* 0: inherited */
                        else {
                                assert_true(f->min <= f->def);
                                assert_true(f->def <= f->max);
                        }
                        break;
                case FT_ENUM:
                        assert_true(f->def < f->n_names);
                        break;
                case FT_SECTION:
                case FT_HEALTH_CHECKS:
                case FT_COMPONENTS:
                        assert_true(f->n_sub <= POLICY_MAX_FIELDS);
                        check_fields(f->sub, f->n_sub, yaml);
                        break;
                default:
                        break;
                }
        }
}

static void test_schema(void **state) {
        Policy p;
        load(&p, golden_in, 0);
        char *y = dump(&p, false);
        check_fields(policy_top_fields, ELEMENTSOF(policy_top_fields), y);
        free(y);
        policy_done(&p);

        /* The defaults are themselves a valid policy. */
        assert_int_equal(policy_init_defaults(&p), 0);
        y = dump(&p, false);
        policy_done(&p);
        load(&p, y, 0);
        free(y);
        policy_done(&p);
}

static void write_file(const char *dir, const char *name, const char *content, mode_t mode) {
        unit_write(dir, name, content);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        assert_int_equal(chmod(path, mode), 0);
}

static void test_load(void **state) {
        char *dir = unit_mkdtemp();
        char etc[256], dropins[300];
        snprintf(etc, sizeof etc, "%s/etc/lastgood", dir);
        snprintf(dropins, sizeof dropins, "%s/policy.d", etc);
        char tmp[300];
        snprintf(tmp, sizeof tmp, "%s/etc", dir);
        assert_int_equal(mkdir(tmp, 0755), 0);
        assert_int_equal(mkdir(etc, 0755), 0);
        int root_fd;
        assert_int_equal(root_open(dir, &root_fd), 0);

        /* Nothing there: defaults, no error. */
        Policy p;
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_null(p.errors);
        assert_null(p.files);
        assert_int_equal(p.boot.max_failed_boots, 3);
        policy_done(&p);

        write_file(etc, "policy.yaml", "boot: {max_failed_boots: 4}\n", 0644);
        assert_int_equal(mkdir(dropins, 0755), 0);
        write_file(dropins, "b.yaml", "boot: {max_failed_boots: 6}\n", 0644);
        write_file(dropins, "a.yaml", "boot: {max_failed_boots: 5, state: file}\n", 0644);
        write_file(dropins, "c.yaml", "boot: {state: bogus}\n", 0644);
        write_file(dropins, "d.conf", "not yaml at all: [\n", 0644);
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_int_equal(p.boot.max_failed_boots, 6);
        assert_int_equal(p.boot.state, STATE_BACKEND_FILE);
        assert_int_equal(strv_length(p.files), 3);
        assert_string_equal(p.files[1], "/etc/lastgood/policy.d/a.yaml");
        assert_int_equal(strv_length(p.errors), 1);
        assert_string_equal(p.errors[0], "/etc/lastgood/policy.d/c.yaml:1:15: boot.state: expected one of auto, "
                                         "efivar, file, got 'bogus'");
        policy_done(&p);

        /* Trust: group-writable drop-in refused, by name, owner and mode. */
        char path[600];
        snprintf(path, sizeof path, "%s/b.yaml", dropins);
        assert_int_equal(chmod(path, 0664), 0);
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_int_equal(p.boot.max_failed_boots, 5);
        assert_int_equal(strv_length(p.errors), 2);
        assert_non_null(strstr(p.errors[0], "/etc/lastgood/policy.d/b.yaml:1:1: refusing untrusted policy file: "));
        assert_non_null(strstr(p.errors[0], "mode 0664"));
        policy_done(&p);

        /* An explicit path is read alone. */
        snprintf(path, sizeof path, "%s/policy.yaml", etc);
        assert_int_equal(policy_load(root_fd, path, &p), 0);
        assert_int_equal(p.boot.max_failed_boots, 4);
        assert_int_equal(p.boot.state, STATE_BACKEND_AUTO);
        assert_null(p.errors);
        policy_done(&p);

        /* Not root-owned (only checkable as root). */
        if (geteuid() == 0) {
                assert_int_equal(chown(path, 65534, 0), 0);
                assert_int_equal(policy_load(root_fd, path, &p), 0);
                assert_int_equal(p.boot.max_failed_boots, 3);
                assert_int_equal(strv_length(p.errors), 1);
                assert_non_null(strstr(p.errors[0], "owner uid 65534, mode 0644"));
                policy_done(&p);
        }

        close(root_fd);
        unit_rmdir(dir);
}

/* Issue 12: /usr/lib/lastgood/policy.d beside /etc's, masks, a pending
 * change, and where each list entry was written. */
static void test_layers_and_origins(void **state) {
        char *dir = unit_mkdtemp();
        char etc[300], vendor[300], tmp[300];
        const char *mk[] = { "etc",     "etc/lastgood",     "etc/lastgood/policy.d",    "usr",
                             "usr/lib", "usr/lib/lastgood", "usr/lib/lastgood/policy.d" };
        for (size_t i = 0; i < ELEMENTSOF(mk); i++) {
                snprintf(tmp, sizeof tmp, "%s/%s", dir, mk[i]);
                assert_int_equal(mkdir(tmp, 0755), 0);
        }
        snprintf(etc, sizeof etc, "%s/etc/lastgood/policy.d", dir);
        snprintf(vendor, sizeof vendor, "%s/usr/lib/lastgood/policy.d", dir);
        int root_fd;
        assert_int_equal(root_open(dir, &root_fd), 0);

        assert_true(policy_is_dropin_name("a.yaml"));
        assert_false(policy_is_dropin_name(".a.yaml"));
        assert_false(policy_is_dropin_name("a.yml"));
        assert_false(policy_is_dropin_name(".yaml"));

        write_file(vendor, "10-acme.yaml",
                   "components:\n  - name: acme\n    content: [/opt/acme]\n    units: [a.service, b.service]\n",
                   0644);
        write_file(vendor, "20-other.yaml", "boot: {max_failed_boots: 7}\n", 0644);
        write_file(etc, "15-acme.yaml", "components:\n  - name: acme\n    units:\n      - c.service\n", 0644);
        Policy p;
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_null(p.errors);
        assert_int_equal(strv_length(p.files), 3);
        assert_string_equal(p.files[1], "/etc/lastgood/policy.d/15-acme.yaml");
        assert_int_equal(p.boot.max_failed_boots, 7);
        PolicyOrigins o;
        assert_int_equal(policy_origins_load(root_fd, &p, &o), 0);
        assert_string_equal(policy_origin(&o, "acme", "content", 0),
                            "/usr/lib/lastgood/policy.d/10-acme.yaml:3:15");
        assert_string_equal(policy_origin(&o, "acme", "units", 0), "/etc/lastgood/policy.d/15-acme.yaml:4:9");
        assert_null(policy_origin(&o, "acme", "units", 1)); /* replaced with the list */
        assert_null(policy_origin(&o, "nosuch", "units", 0));
        policy_origins_done(&o);
        policy_done(&p);

        /* A mask hides the vendor's file; a pending change is loaded as if made. */
        int efd = open(etc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(efd >= 0);
        assert_int_equal(symlinkat("/dev/null", efd, "20-other.yaml"), 0);
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_int_equal(p.boot.max_failed_boots, 3);
        assert_int_equal(strv_length(p.masked), 1);
        assert_string_equal(p.masked[0], "/usr/lib/lastgood/policy.d/20-other.yaml");
        policy_done(&p);
        PolicyDropinChange unmask = { .name = "20-other.yaml" };
        assert_int_equal(policy_load_with_change(root_fd, &unmask, &p), 0);
        assert_int_equal(p.boot.max_failed_boots, 7);
        assert_null(p.masked);
        policy_done(&p);
        PolicyDropinChange link = { .name = "30-x.yaml",
                                    .link_target = "/usr/lib/lastgood/policy.d/20-other.yaml" };
        assert_int_equal(policy_load_with_change(root_fd, &link, &p), 0);
        assert_null(p.errors);
        assert_int_equal(p.boot.max_failed_boots, 7);
        policy_done(&p);
        link.link_target = "/nonexistent/x.yaml";
        assert_int_equal(policy_load_with_change(root_fd, &link, &p), 0);
        assert_int_equal(strv_length(p.errors), 1);
        assert_string_equal(p.errors[0], "/etc/lastgood/policy.d/30-x.yaml:1:1: symlink to '/nonexistent/x.yaml': "
                                         "cannot open: No such file or directory");
        policy_done(&p);
        close(efd);
        close(root_fd);
        unit_rmdir(dir);
}

/* Issue 11 finding 5: an invalid policy is replaced by the last one that
 * validated, or made strict; never by the built-in defaults. */
static void test_last_good(void **state) {
        char *dir = unit_mkdtemp();
        char etc[256], lib[256], tmp[300];
        snprintf(tmp, sizeof tmp, "%s/etc", dir);
        assert_int_equal(mkdir(tmp, 0755), 0);
        snprintf(etc, sizeof etc, "%s/etc/lastgood", dir);
        assert_int_equal(mkdir(etc, 0755), 0);
        snprintf(lib, sizeof lib, "%s" LASTGOOD_STATE_DIR, dir);
        int root_fd;
        assert_int_equal(root_open(dir, &root_fd), 0);
        const char *good = "boot: {state: file}\nsafe_mode: {require_code: false, allow_cmdline: true}\n"
                           "components:\n  - name: edr\n    content: [/opt/edr]\n    quarantine: never\n";

        /* No policy at all: the built-in defaults are not stored. */
        Policy p;
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_int_equal(policy_save_last_good(root_fd, &p), 0);
        policy_done(&p);

        /* Valid: stored once (0600), then unchanged. */
        write_file(etc, "policy.yaml", good, 0644);
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_null(p.errors);
        assert_int_equal(p.fallback, POLICY_FALLBACK_NONE);
        assert_int_equal(policy_save_last_good(root_fd, &p), 1);
        assert_int_equal(policy_save_last_good(root_fd, &p), 0);
        policy_done(&p);
        struct stat st;
        snprintf(tmp, sizeof tmp, "%s/policy.last-good", lib);
        assert_int_equal(stat(tmp, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* A typo: the copy stands in, whole; the errors stay visible. */
        write_file(etc, "policy.yaml", "boot: {stat: file}\n", 0644);
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_int_equal(p.fallback, POLICY_FALLBACK_LAST_GOOD);
        assert_string_equal(p.fallback_reason, "/etc/lastgood/policy.yaml:1:8: unknown key 'boot.stat'");
        assert_int_equal(strv_length(p.errors), 1);
        assert_int_equal(p.boot.state, STATE_BACKEND_FILE);
        assert_int_equal(p.n_components, 1);
        assert_int_equal(p.components[0].quarantine, QUARANTINE_NEVER);
        assert_string_equal(p.files[0], LASTGOOD_POLICY_LAST_GOOD_FILE);
        /* Never stored: a fallback is not a policy that validated. */
        assert_int_equal(policy_save_last_good(root_fd, &p), 0);
        Policy copy;
        assert_int_equal(policy_copy_settings(&p, &copy), 0);
        assert_null(copy.fallback_reason);
        policy_done(&copy);
        policy_done(&p);

        /* No copy: what validated, at its strictest. */
        assert_int_equal(unlink(tmp), 0);
        write_file(etc, "policy.yaml", good, 0644);
        snprintf(tmp, sizeof tmp, "%s/policy.d", etc);
        assert_int_equal(mkdir(tmp, 0755), 0);
        write_file(tmp, "10-new.yaml", "safe_mode: {require_two_codes: true}\n", 0644);
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_int_equal(p.fallback, POLICY_FALLBACK_STRICT);
        assert_true(p.safe_mode.require_code);
        assert_false(p.safe_mode.allow_cmdline);
        assert_int_equal(p.boot.state, STATE_BACKEND_FILE);
        assert_int_equal(p.components[0].safe_mode, COMPONENT_SAFE_MODE_KEEP);
        assert_int_equal(policy_save_last_good(root_fd, &p), 0);
        policy_done(&p);

        /* An explicit file is what `policy check FILE` checks: never replaced. */
        snprintf(tmp, sizeof tmp, "%s/etc/lastgood/policy.d/10-new.yaml", dir);
        assert_int_equal(policy_load(root_fd, tmp, &p), 0);
        assert_int_equal(p.fallback, POLICY_FALLBACK_NONE);
        assert_true(p.safe_mode.allow_cmdline);
        policy_done(&p);

        /* A group-writable /etc/lastgood refuses everything in it. */
        assert_int_equal(chmod(etc, 0775), 0);
        assert_int_equal(policy_load(root_fd, NULL, &p), 0);
        assert_int_equal(p.fallback, POLICY_FALLBACK_STRICT);
        assert_int_equal(p.n_components, 0);
        assert_non_null(strstr(p.errors[0], "/etc/lastgood:1:1: refusing untrusted policy directory"));
        policy_done(&p);

        close(root_fd);
        unit_rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_last_good),
                cmocka_unit_test(test_parse_values),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_error_messages),
                cmocka_unit_test(test_all_or_nothing),
                cmocka_unit_test(test_merge),
                cmocka_unit_test(test_components_cap_across_files),
                cmocka_unit_test(test_hostile_structure),
                cmocka_unit_test(test_error_cap),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_dump),
                cmocka_unit_test(test_identity_keys),
                cmocka_unit_test(test_exclude),
                cmocka_unit_test(test_dump_golden),
                cmocka_unit_test(test_dump_round_trip),
                cmocka_unit_test(test_copy_settings),
                cmocka_unit_test(test_schema),
                cmocka_unit_test(test_load),
                cmocka_unit_test(test_layers_and_origins),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
