/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The gates of safe_request_decide(): each request source, the policy's
 * allow_cmdline and require_code, one-time helpdesk codes, the ESP request
 * file and its boots=N, and the bound on pending safe boots. Each refusal
 * test also checks the event that says why, and sits beside the request
 * that passes the same gate, so it fails if its check is removed. */
#include "unit.h"

#include "agent/helpdesk.h"
#include "agent/safe-request.h"
#include "lib/rootfs.h"

#define EVENTS "var/lib/lastgood/events.jsonl"
#define REQUEST "esp/EFI/lastgood/safemode"

typedef struct Fixture {
        char *dir; /* holds root/ (the installed system) and esp/ */
        char root[512], esp[512];
        int root_fd;
        Policy policy;
        HelpdeskSecret secret;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->dir = unit_mkdtemp();
        snprintf(f->root, sizeof f->root, "%s/root", f->dir);
        snprintf(f->esp, sizeof f->esp, "%s/esp", f->dir);
        assert_int_equal(mkdir(f->root, 0755), 0);
        assert_int_equal(mkdir(f->esp, 0755), 0);
        assert_int_equal(root_open(f->root, &f->root_fd), 0);
        assert_int_equal(policy_init_defaults(&f->policy), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        helpdesk_secret_wipe(&f->secret);
        policy_done(&f->policy);
        close(f->root_fd);
        unit_rmdir(f->dir);
        free(f);
        return 0;
}

static void decide(Fixture *f, const char *cmdline, uint32_t pending, bool look_at_esp, SafeDecision *d) {
        SafeRequestInput in = {
                .root_fd = f->root_fd,
                .policy = &f->policy,
                .cmdline = cmdline,
                .esp_dir = f->esp,
                .pending = pending,
                .look_at_esp = look_at_esp,
        };
        memset(d, 0x5a, sizeof *d); /* every field must be written */
        safe_request_decide(&in, d);
}

static void esp_request(Fixture *f, const char *content) {
        char d[600];
        snprintf(d, sizeof d, "%s/EFI/lastgood", f->esp);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d);
        assert_int_equal(system(cmd), 0);
        unit_write(f->dir, REQUEST, content);
}

static bool exists(Fixture *f, const char *rel) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", f->dir, rel);
        return lstat(p, &st) == 0;
}

static char *slurp(const char *path) {
        char *buf = calloc(1, 64 * 1024);
        assert_non_null(buf);
        FILE *fp = fopen(path, "re");
        if (fp) {
                size_t n = fread(buf, 1, 64 * 1024 - 1, fp);
                buf[n] = '\0';
                fclose(fp);
        }
        return buf;
}

/* The event log's lines, for strstr() checks. */
static char *events(Fixture *f) {
        char p[600];
        snprintf(p, sizeof p, "%s/" EVENTS, f->root);
        return slurp(p);
}

static unsigned count(const char *haystack, const char *needle) {
        unsigned n = 0;
        for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void assert_events(Fixture *f, unsigned honoured, unsigned refused) {
        char *e = events(f);
        assert_int_equal(count(e, "\"type\":\"safe-mode-requested\""), honoured);
        assert_int_equal(count(e, "\"type\":\"safe-mode-code-rejected\""), refused);
        free(e);
}

static void assert_last_event_has(Fixture *f, const char *needle) {
        char *e = events(f);
        size_t n = strlen(e);
        while (n > 0 && e[n - 1] == '\n')
                e[--n] = '\0';
        char *last = strrchr(e, '\n');
        last = last ? last + 1 : e;
        if (!strstr(last, needle))
                fail_msg("last event lacks \"%s\": %s", needle, last);
        free(e);
}

static void assert_normal(const SafeDecision *d, uint32_t pending_after) {
        assert_false(d->safe);
        assert_int_equal(d->source, SAFE_SOURCE_NONE);
        assert_int_equal(d->pending_after, pending_after);
        assert_string_equal(d->actor, "");
}

static void enroll(Fixture *f) {
        f->policy.safe_mode.require_code = true;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &f->secret), 0);
}

/* The helpdesk's code for COUNTER; WRONG changes its last digit. */
static void code_at(Fixture *f, uint64_t counter, bool wrong, char code[static HOTP_DIGITS_MAX + 1]) {
        assert_int_equal(hotp_code(f->secret.algorithm, f->secret.key, f->secret.key_len, counter,
                                   HOTP_DIGITS, code),
                         0);
        if (wrong)
                code[HOTP_DIGITS - 1] = code[HOTP_DIGITS - 1] == '9' ? '0' : code[HOTP_DIGITS - 1] + 1;
}

/* A kernel command line carrying that code. */
static void cmdline_code(Fixture *f, uint64_t counter, bool wrong, char cmd[static 64]) {
        char code[HOTP_DIGITS_MAX + 1];
        code_at(f, counter, wrong, code);
        snprintf(cmd, 64, "quiet lastgood.safemode=%s", code);
}

static uint64_t stored_counter(Fixture *f) {
        HelpdeskSecret s;
        assert_int_equal(helpdesk_load(f->root_fd, &f->policy, &s), 0);
        uint64_t c = s.counter;
        helpdesk_secret_wipe(&s);
        return c;
}

static void test_no_request(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        decide(f, "quiet ro", 0, true, &d);
        assert_normal(&d, 0);
        assert_events(f, 0, 0);
        assert_null(safe_source_to_string(_SAFE_SOURCE_MAX));
        assert_string_equal(safe_source_to_string(SAFE_SOURCE_ESP), "ESP request file");
}

/* As shipped (require_code true), a bare request is never safe mode, with or
 * without an enrolled secret; root's --next-boot needs no code. Control:
 * test_cmdline_without_code, the same requests with require_code false. */
static void test_defaults_refuse_bare_requests(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        assert_true(f->policy.safe_mode.require_code);
        static const char *const bare[] = { "lastgood.safemode", "lastgood.safemode=", "lastgood.safemode=1",
                                            "quiet lastgood.safemode=yes ro" };
        for (int enrolled = 0; enrolled < 2; enrolled++) {
                if (enrolled)
                        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &f->secret), 0);
                for (size_t i = 0; i < ELEMENTSOF(bare); i++) {
                        decide(f, bare[i], 0, false, &d);
                        assert_false(d.safe);
                }
        }
        decide(f, "quiet", 1, false, &d);
        assert_true(d.safe);
        assert_int_equal(d.source, SAFE_SOURCE_NEXT_BOOT);
}

static void test_cmdline_without_code(void **state) {
        Fixture *f = *state;
        f->policy.safe_mode.require_code = false; /* the code-free path, chosen explicitly */
        SafeDecision d;
        static const char *const yes[] = { "lastgood.safemode", "lastgood.safemode=", "lastgood.safemode=1",
                                           "quiet lastgood.safemode=yes ro" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                decide(f, yes[i], 0, false, &d);
                assert_true(d.safe);
                assert_int_equal(d.source, SAFE_SOURCE_CMDLINE);
                assert_int_equal(d.pending_after, 0); /* the command line asks for this boot only */
                assert_string_equal(d.actor, "console: kernel command line");
                assert_last_event_has(f, "\"actor\":\"console: kernel command line\"");
        }
        static const char *const no[] = { "lastgood.safemode=0", "lastgood.safemode=please",
                                          "lastgood.safemodes=1" };
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                decide(f, no[i], 0, false, &d);
                assert_normal(&d, 0);
        }
        assert_events(f, ELEMENTSOF(yes), 2); /* the last one is not a request at all */
}

static void test_cmdline_refused_when_not_allowed(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        f->policy.safe_mode.allow_cmdline = false;
        decide(f, "lastgood.safemode=1", 0, false, &d);
        assert_normal(&d, 0);
        assert_events(f, 0, 1);
        assert_last_event_has(f, "allow_cmdline is false");

        /* …and refused with a valid code as well: the switch comes first,
         * and the code is not spent. */
        enroll(f);
        char cmd[64];
        cmdline_code(f, 0, false, cmd);
        decide(f, cmd, 0, false, &d);
        assert_normal(&d, 0);
        assert_int_equal(stored_counter(f), 0);

        f->policy.safe_mode.allow_cmdline = true;
        decide(f, cmd, 0, false, &d);
        assert_true(d.safe);
}

static void test_code_required_refuses_requests_without_one(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        enroll(f);
        static const char *const cmdlines[] = { "lastgood.safemode",
                                                "lastgood.safemode=", "lastgood.safemode=\"\"" };
        for (size_t i = 0; i < ELEMENTSOF(cmdlines); i++) {
                decide(f, cmdlines[i], 0, false, &d);
                assert_normal(&d, 0);
                assert_last_event_has(f, "carries no helpdesk code");
        }
        /* "1" is not a code. */
        decide(f, "lastgood.safemode=1", 0, false, &d);
        assert_normal(&d, 0);
        assert_last_event_has(f, "wrong or already used helpdesk code");
        assert_events(f, 0, ELEMENTSOF(cmdlines) + 1);
        assert_int_equal(stored_counter(f), 0);
}

static void test_wrong_code_refused(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        enroll(f);
        char cmd[64];
        cmdline_code(f, 0, true, cmd);
        decide(f, cmd, 0, false, &d);
        assert_normal(&d, 0);
        assert_events(f, 0, 1);
        assert_last_event_has(f, "wrong or already used helpdesk code");
        assert_int_equal(stored_counter(f), 0);
}

static void test_valid_code_accepted_once(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        enroll(f);
        char cmd[64];
        cmdline_code(f, 2, false, cmd); /* the helpdesk skipped ahead: inside the window */
        decide(f, cmd, 0, false, &d);
        assert_true(d.safe);
        assert_int_equal(d.source, SAFE_SOURCE_CMDLINE);
        assert_int_equal(d.pending_after, 0);
        assert_string_equal(d.actor, "console: helpdesk code #2");
        assert_events(f, 1, 0);
        assert_last_event_has(f, "\"actor\":\"console: helpdesk code #2\"");
        assert_int_equal(stored_counter(f), 3);

        /* The same command line at the next boot. */
        decide(f, cmd, 0, false, &d);
        assert_normal(&d, 0);
        assert_events(f, 1, 1);
        assert_last_event_has(f, "wrong or already used helpdesk code");
        /* An earlier code was burnt with it. */
        cmdline_code(f, 1, false, cmd);
        decide(f, cmd, 0, false, &d);
        assert_normal(&d, 0);
}

static void test_code_required_but_uncheckable(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        char cmd[64];
        f->policy.safe_mode.require_code = true;
        decide(f, "lastgood.safemode=12345678", 0, false, &d);
        assert_normal(&d, 0);
        assert_last_event_has(f, "no helpdesk secret is enrolled");

        /* A secret others may read is not trusted: the code is refused. */
        enroll(f);
        char path[700];
        snprintf(path, sizeof path, "%s%s", f->root, f->policy.safe_mode.secret_file);
        assert_int_equal(chmod(path, 0644), 0);
        cmdline_code(f, 0, false, cmd);
        decide(f, cmd, 0, false, &d);
        assert_normal(&d, 0);
        assert_last_event_has(f, "could not be checked");
        assert_int_equal(chmod(path, 0600), 0);
        decide(f, cmd, 0, false, &d);
        assert_true(d.safe);
}

static void test_esp_without_code(void **state) {
        Fixture *f = *state;
        f->policy.safe_mode.require_code = false; /* the code-free path, chosen explicitly */
        SafeDecision d;
        /* No code required: the file's presence is the request, whatever
         * code it carries. */
        static const char *const files[] = { "", "\r\n", "12345678\n", "boots=1" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                esp_request(f, files[i]);
                decide(f, "quiet", 0, true, &d);
                assert_true(d.safe);
                assert_int_equal(d.source, SAFE_SOURCE_ESP);
                assert_int_equal(d.pending_after, 0);
                assert_string_equal(d.actor, "ESP request");
                assert_false(exists(f, REQUEST));
                assert_last_event_has(f, "\"actor\":\"ESP request\"");
        }
        /* Taken: the next boot is normal. */
        decide(f, "quiet", 0, true, &d);
        assert_normal(&d, 0);

        /* A malformed file is refused, and removed all the same. */
        esp_request(f, "please boot safely");
        decide(f, "quiet", 0, true, &d);
        assert_normal(&d, 0);
        assert_false(exists(f, REQUEST));
        assert_last_event_has(f, "malformed");
        assert_events(f, ELEMENTSOF(files), 1);
}

static void test_esp_with_code(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        enroll(f);
        /* Code required: an empty file, or boots without a code, is refused
         * (and removed). */
        static const char *const nocode[] = { "", "boots=2\n" };
        for (size_t i = 0; i < ELEMENTSOF(nocode); i++) {
                esp_request(f, nocode[i]);
                decide(f, "quiet", 0, true, &d);
                assert_normal(&d, 0);
                assert_false(exists(f, REQUEST));
                assert_last_event_has(f, "carries no helpdesk code");
        }

        char code[HOTP_DIGITS_MAX + 1], buf[64];
        code_at(f, 0, true, code);
        esp_request(f, code);
        decide(f, "quiet", 0, true, &d);
        assert_normal(&d, 0);
        assert_last_event_has(f, "wrong or already used helpdesk code");
        assert_int_equal(stored_counter(f), 0);

        code_at(f, 0, false, code);
        snprintf(buf, sizeof buf, "code=%s boots=2\r\n", code);
        esp_request(f, buf);
        decide(f, "quiet", 0, true, &d);
        assert_true(d.safe);
        assert_int_equal(d.source, SAFE_SOURCE_ESP);
        assert_int_equal(d.pending_after, 1);
        assert_string_equal(d.actor, "ESP request, helpdesk code #0");
        assert_last_event_has(f, "\"actor\":\"ESP request, helpdesk code #0\"");
        assert_int_equal(stored_counter(f), 1);

        /* The same file again (copied back from the helpdesk's mail). */
        esp_request(f, buf);
        decide(f, "quiet", 0, true, &d);
        assert_normal(&d, 0);
        assert_events(f, 1, ELEMENTSOF(nocode) + 2);
}

static void test_pending_next_boot_counts_down(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        f->policy.safe_mode.require_code = true; /* root's request needs no code */
        f->policy.safe_mode.allow_cmdline = false;
        for (uint32_t pending = 3; pending > 0; pending--) {
                decide(f, "quiet", pending, false, &d);
                assert_true(d.safe);
                assert_int_equal(d.source, SAFE_SOURCE_NEXT_BOOT);
                assert_int_equal(d.pending_after, pending - 1);
                assert_string_equal(d.actor, "safe-mode --next-boot");
        }
        decide(f, "quiet", 0, false, &d);
        assert_normal(&d, 0);
}

static void test_pending_is_bounded(void **state) {
        Fixture *f = *state;
        SafeDecision d;
        /* A record asking for ever (forged, or from a bug) gives at most
         * SAFE_REQUEST_BOOTS_MAX safe boots in a row. */
        uint32_t pending = UINT32_MAX;
        unsigned safe_boots = 0;
        for (;;) {
                decide(f, "quiet", pending, false, &d);
                if (!d.safe)
                        break;
                assert_true(d.pending_after < SAFE_REQUEST_BOOTS_MAX);
                pending = d.pending_after;
                safe_boots++;
                assert_true(safe_boots <= SAFE_REQUEST_BOOTS_MAX);
        }
        assert_int_equal(safe_boots, SAFE_REQUEST_BOOTS_MAX);
        decide(f, "quiet", SAFE_REQUEST_BOOTS_MAX, false, &d);
        assert_int_equal(d.pending_after, SAFE_REQUEST_BOOTS_MAX - 1);
}

static void test_esp_boots_n(void **state) {
        Fixture *f = *state;
        f->policy.safe_mode.require_code = false; /* the code-free path, chosen explicitly */
        SafeDecision d;
        static const struct {
                const char *file;
                uint32_t pending, after;
        } cases[] = {
                { "boots=2", 0, 1 }, /* this boot and one more */
                { "boots=1", 0, 0 },
                { "", 0, 0 },
                { "boots=3", 1, 2 },                            /* requests overlap: the longer wins… */
                { "boots=2", 5, 4 },                            /* …whichever it is */
                { "boots=100", 0, SAFE_REQUEST_BOOTS_MAX - 1 }, /* cut to the bound */
                { "boots=100", UINT32_MAX, SAFE_REQUEST_BOOTS_MAX - 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                esp_request(f, cases[i].file);
                decide(f, "quiet", cases[i].pending, true, &d);
                assert_true(d.safe);
                if (d.pending_after != cases[i].after)
                        fail_msg("'%s' with %u pending: %u pending after, expected %u", cases[i].file,
                                 cases[i].pending, d.pending_after, cases[i].after);
                assert_false(exists(f, REQUEST));
        }
        assert_last_event_has(f, "capped at 10");
        assert_events(f, ELEMENTSOF(cases), 0);
}

static void test_esp_not_looked_at(void **state) {
        Fixture *f = *state;
        f->policy.safe_mode.require_code = false; /* the code-free path, chosen explicitly */
        SafeDecision d;
        esp_request(f, "boots=2");
        decide(f, "quiet", 0, false, &d);
        assert_normal(&d, 0);
        assert_true(exists(f, REQUEST)); /* left for a boot that does look */
        assert_events(f, 0, 0);
        decide(f, "quiet", 0, true, &d);
        assert_true(d.safe);
        assert_int_equal(d.pending_after, 1);
}

static void test_esp_taken_when_already_safe(void **state) {
        Fixture *f = *state;
        f->policy.safe_mode.require_code = false; /* the code-free path, chosen explicitly */
        SafeDecision d;
        /* The command line made this boot safe: the ESP file is taken all
         * the same (its boots count), or it would fire at a later boot. */
        esp_request(f, "boots=3");
        decide(f, "lastgood.safemode=1", 0, true, &d);
        assert_true(d.safe);
        assert_int_equal(d.source, SAFE_SOURCE_CMDLINE);
        assert_string_equal(d.actor, "console: kernel command line");
        assert_int_equal(d.pending_after, 2);
        assert_false(exists(f, REQUEST));
        assert_events(f, 2, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_no_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_defaults_refuse_bare_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cmdline_without_code, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cmdline_refused_when_not_allowed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_code_required_refuses_requests_without_one, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_code_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_valid_code_accepted_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_code_required_but_uncheckable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_esp_without_code, setup, teardown),
                cmocka_unit_test_setup_teardown(test_esp_with_code, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_next_boot_counts_down, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_is_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_esp_boots_n, setup, teardown),
                cmocka_unit_test_setup_teardown(test_esp_not_looked_at, setup, teardown),
                cmocka_unit_test_setup_teardown(test_esp_taken_when_already_safe, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
