/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <pwd.h>

#include "agent/audit.h"
#include "agent/eventlog.h"

static void fmt(const char *sudo_user, uint32_t loginuid, uid_t uid, char buf[static AUDIT_ACTOR_MAX]) {
        AuditInput in = { .sudo_user = sudo_user, .loginuid = loginuid, .uid = uid };
        audit_actor_format(&in, buf, AUDIT_ACTOR_MAX);
}

static void test_sudo_user_first(void **unused) {
        char b[AUDIT_ACTOR_MAX];
        fmt("alice", 1000, 0, b);
        assert_string_equal(b, "alice via sudo (uid 0)");
        /* An empty SUDO_USER is no sudo. */
        fmt("", AUDIT_LOGINUID_UNSET, 0, b);
        assert_string_equal(b, "root (uid 0)");
}

static void test_sudo_user_sanitized(void **unused) {
        char b[AUDIT_ACTOR_MAX];
        /* Text from the environment never carries a newline, a quote or an
         * escape sequence into the log, and is cut at 32 bytes. */
        fmt("ev\nil\x1b[2J\"x", AUDIT_LOGINUID_UNSET, 0, b);
        assert_string_equal(b, "ev?il??2J?x via sudo (uid 0)");
        fmt("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", AUDIT_LOGINUID_UNSET, 0, b);
        assert_string_equal(b, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa via sudo (uid 0)");
        fmt("DOMAIN$@corp.example", AUDIT_LOGINUID_UNSET, 0, b);
        assert_string_equal(b, "DOMAIN$@corp.example via sudo (uid 0)");
}

static void test_loginuid(void **unused) {
        char b[AUDIT_ACTOR_MAX];
        /* uid 0 is root in every user database. */
        fmt(NULL, 0, 0, b);
        assert_string_equal(b, "root (login uid 0, uid 0)");
        /* A login uid without a name (a deleted user). */
        fmt(NULL, 3999999, 0, b);
        assert_null(getpwuid(3999999));
        assert_string_equal(b, "login uid 3999999 (uid 0)");
        /* Unset: the effective uid, named or not. */
        fmt(NULL, AUDIT_LOGINUID_UNSET, 0, b);
        assert_string_equal(b, "root (uid 0)");
        fmt(NULL, AUDIT_LOGINUID_UNSET, 3999998, b);
        assert_string_equal(b, "uid 3999998");
}

static void test_truncation(void **unused) {
        char b[8];
        AuditInput in = { .sudo_user = "alice", .loginuid = AUDIT_LOGINUID_UNSET, .uid = 0 };
        audit_actor_format(&in, b, sizeof b);
        assert_string_equal(b, "alice v");
}

static const char *evidence_of(const Event *e, const char *key) {
        for (size_t i = 0; i < e->n_evidence; i++)
                if (strcmp(e->evidence[i].key, key) == 0)
                        return e->evidence[i].value;
        return NULL;
}

static void test_event_add(void **unused) {
        assert_int_equal(setenv("SUDO_USER", "bob", 1), 0);
        Event e = { .type = EVENT_SAFE_MODE_SCHEDULED, .message = "x" };
        const char *a = audit_event_add(&e);
        char uid[16];
        snprintf(uid, sizeof uid, "%u", (unsigned) geteuid());
        char want[64];
        snprintf(want, sizeof want, "bob via sudo (uid %s)", uid);
        assert_string_equal(a, want);
        assert_string_equal(evidence_of(&e, "actor"), want);
        assert_string_equal(evidence_of(&e, "actor_uid"), uid);
        assert_int_equal(unsetenv("SUDO_USER"), 0);
}

static void append(int root_fd, EventType t, const char *actor) {
        Event e = { .type = t, .message = "m" };
        event_add(&e, "actor", actor);
        assert_true(eventlog_append(root_fd, &e) > 0);
}

static void test_next_boot_actor(void **unused) {
        char *d = unit_mkdtemp();
        int root_fd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root_fd >= 0);
        char b[AUDIT_ACTOR_MAX + 64];

        /* No log: nobody is named, and the words say so. */
        assert_int_equal(audit_next_boot_actor(root_fd, b, sizeof b), -ENOENT);
        assert_string_equal(b, "safe-mode --next-boot (requester not in the event log)");

        /* The newest request wins. */
        append(root_fd, EVENT_SAFE_MODE_SCHEDULED, "alice via sudo (uid 0)");
        append(root_fd, EVENT_BOOT_COUNTED, "not-a-requester");
        append(root_fd, EVENT_SAFE_MODE_SCHEDULED, "carol (login uid 1001, uid 0)");
        append(root_fd, EVENT_BOOT_CONFIRMED, NULL);
        assert_int_equal(audit_next_boot_actor(root_fd, b, sizeof b), 0);
        assert_string_equal(b, "safe-mode --next-boot by carol (login uid 1001, uid 0)");

        /* A cancel after the newest request: the pending count did not come
         * from a request the log shows, so no one is blamed for it. */
        append(root_fd, EVENT_SAFE_MODE_CANCELLED, "dave via sudo (uid 0)");
        assert_int_equal(audit_next_boot_actor(root_fd, b, sizeof b), -ENOENT);
        append(root_fd, EVENT_SAFE_MODE_SCHEDULED, "erin via sudo (uid 0)");
        assert_int_equal(audit_next_boot_actor(root_fd, b, sizeof b), 0);
        assert_string_equal(b, "safe-mode --next-boot by erin via sudo (uid 0)");

        close(root_fd);
        unit_rmdir(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sudo_user_first), cmocka_unit_test(test_sudo_user_sanitized),
                cmocka_unit_test(test_loginuid),        cmocka_unit_test(test_truncation),
                cmocka_unit_test(test_event_add),       cmocka_unit_test(test_next_boot_actor),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
