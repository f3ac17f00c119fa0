/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include "agent/helpdesk.h"
#include "lib/encode.h"
#include "lib/rootfs.h"

typedef struct Fixture {
        char *dir;
        int root_fd;
        Policy policy;
        char secret[512]; /* host path of the secret file */
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->dir = unit_mkdtemp();
        assert_int_equal(root_open(f->dir, &f->root_fd), 0);
        /* Only the keys helpdesk reads: no dependency on the policy loader. */
        f->policy.safe_mode.code_window = 10;
        f->policy.safe_mode.secret_file = strdup("/var/lib/lastgood/helpdesk.secret");
        snprintf(f->secret, sizeof f->secret, "%s/var/lib/lastgood/helpdesk.secret", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        unsetenv("LASTGOOD_FAULT_AT");
        unsetenv("LASTGOOD_FAULT_ERRNO");
        unsetenv("LASTGOOD_FAULT_TRACE");
        free(f->policy.safe_mode.secret_file);
        close(f->root_fd);
        unit_rmdir(f->dir);
        free(f);
        return 0;
}

static char *slurp(const char *path) {
        FILE *fp = fopen(path, "re");
        if (!fp)
                return NULL;
        char *buf = calloc(1, 8192);
        assert_non_null(buf);
        size_t n = fread(buf, 1, 8191, fp);
        buf[n] = '\0';
        fclose(fp);
        return buf;
}

static void code_at(const HelpdeskSecret *s, uint64_t counter, char code[static HOTP_DIGITS_MAX + 1]) {
        assert_int_equal(hotp_code(s->algorithm, s->key, s->key_len, counter, HOTP_DIGITS, code), 0);
}

static uint64_t stored_counter(Fixture *f) {
        HelpdeskSecret s;
        assert_int_equal(helpdesk_load(f->root_fd, &f->policy, &s), 0);
        uint64_t c = s.counter;
        helpdesk_secret_wipe(&s);
        return c;
}

static void write_secret(Fixture *f, const char *content, mode_t mode) {
        char dir[600];
        snprintf(dir, sizeof dir, "mkdir -p '%s/var/lib/lastgood'", f->dir);
        assert_int_equal(system(dir), 0);
        FILE *fp = fopen(f->secret, "we");
        assert_non_null(fp);
        fputs(content, fp);
        fclose(fp);
        assert_int_equal(chmod(f->secret, mode), 0);
}

static void test_enroll_creates_root_only_file(void **state) {
        Fixture *f = *state;
        HelpdeskSecret s;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &s), 0);
        assert_int_equal(s.key_len, HELPDESK_KEY_SIZE);
        assert_int_equal(s.counter, 0);
        assert_int_equal(s.algorithm, HOTP_SHA256);

        struct stat st;
        assert_int_equal(lstat(f->secret, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, geteuid());

        HelpdeskSecret l;
        assert_int_equal(helpdesk_load(f->root_fd, &f->policy, &l), 0);
        assert_int_equal(l.key_len, s.key_len);
        assert_memory_equal(l.key, s.key, s.key_len);
        helpdesk_secret_wipe(&l);
        helpdesk_secret_wipe(&s);
}

static void test_enroll_refuses_overwrite_without_force(void **state) {
        Fixture *f = *state;
        HelpdeskSecret a, b, c;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &a), 0);
        char *before = slurp(f->secret);
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &b), -EEXIST);
        char *after = slurp(f->secret);
        assert_string_equal(before, after);
        free(after);

        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, true, &c), 0);
        after = slurp(f->secret);
        assert_string_not_equal(before, after);
        assert_memory_not_equal(a.key, c.key, HELPDESK_KEY_SIZE);
        free(before);
        free(after);
}

static void test_code_accepted_once(void **state) {
        Fixture *f = *state;
        HelpdeskSecret s;
        char code[HOTP_DIGITS_MAX + 1];
        bool ok = false;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &s), 0);
        code_at(&s, 0, code);

        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_true(ok);
        assert_int_equal(stored_counter(f), 1);
        /* The file stays root-only after the counter rewrite. */
        struct stat st;
        assert_int_equal(stat(f->secret, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        ok = true;
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_false(ok);
        assert_int_equal(stored_counter(f), 1);

        /* The next code still works. */
        code_at(&s, 1, code);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_true(ok);
        helpdesk_secret_wipe(&s);
}

static void test_window(void **state) {
        Fixture *f = *state;
        HelpdeskSecret s;
        char code[HOTP_DIGITS_MAX + 1];
        bool ok = true;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &s), 0);

        /* One past the look-ahead: refused, nothing written. */
        code_at(&s, 10, code);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_false(ok);
        assert_int_equal(stored_counter(f), 0);

        /* The last one inside it: accepted, and everything before is burnt. */
        code_at(&s, 9, code);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_true(ok);
        assert_int_equal(stored_counter(f), 10);

        code_at(&s, 3, code);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_false(ok);

        /* Now 10 is inside the window [10, 20). */
        code_at(&s, 10, code);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_true(ok);

        /* A window of 1 accepts only the expected counter. */
        f->policy.safe_mode.code_window = 1;
        code_at(&s, 12, code);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_false(ok);
        code_at(&s, 11, code);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_true(ok);
        helpdesk_secret_wipe(&s);
}

static void test_wrong_and_malformed_codes(void **state) {
        Fixture *f = *state;
        HelpdeskSecret s;
        bool ok;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &s), 0);
        char *before = slurp(f->secret);

        char good[HOTP_DIGITS_MAX + 1], wrong[HOTP_DIGITS_MAX + 1];
        code_at(&s, 0, good);
        /* A code that is not any of the window's codes. */
        for (unsigned v = 0;; v++) {
                snprintf(wrong, sizeof wrong, "%08u", v);
                bool inside = false;
                for (uint64_t c = 0; c < 10; c++) {
                        char x[HOTP_DIGITS_MAX + 1];
                        code_at(&s, c, x);
                        inside = inside || streq(x, wrong);
                }
                if (!inside)
                        break;
        }
        const char *bad[] = { wrong, "", "1234567", "123456789", "1234567a", " 1234567", "-1234567" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ok = true;
                assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, bad[i], &ok), 0);
                assert_false(ok);
        }
        /* The right digits with trailing junk are not the code either. */
        char longer[16];
        snprintf(longer, sizeof longer, "%s0", good);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, longer, &ok), 0);
        assert_false(ok);
        ok = true;
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, NULL, &ok), 0);
        assert_false(ok);

        char *after = slurp(f->secret);
        assert_string_equal(before, after); /* nothing burnt by wrong codes */
        free(before);
        free(after);
        helpdesk_secret_wipe(&s);
}

static void test_rfc4226_secret_file(void **state) {
        Fixture *f = *state;
        /* The RFC's key, "12345678901234567890", in a SHA-1 secret file. */
        write_secret(f, "# test\n\nalgorithm=sha1\r\ncounter=1\nkey=3132333435363738393031323334353637383930\n",
                     0600);
        bool ok;
        /* RFC 4226 Appendix D, count 0: already used (counter=1). */
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, "84755224", &ok), 0);
        assert_false(ok);
        /* Count 3 (969429 in 6 digits; 1726969429 truncated). */
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, "26969429", &ok), 0);
        assert_true(ok);
        assert_int_equal(stored_counter(f), 4);
        /* The 6-digit form is not a helpdesk code. */
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, "338314", &ok), 0);
        assert_false(ok);
}

static void test_refuses_readable_secret(void **state) {
        Fixture *f = *state;
        HelpdeskSecret s;
        char code[HOTP_DIGITS_MAX + 1];
        bool ok = true;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &s), 0);
        code_at(&s, 0, code);

        const mode_t modes[] = { 0640, 0604, 0620, 0602 };
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                assert_int_equal(chmod(f->secret, modes[i]), 0);
                assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), -EPERM);
                HelpdeskSecret l;
                assert_int_equal(helpdesk_load(f->root_fd, &f->policy, &l), -EPERM);
        }
        assert_int_equal(chmod(f->secret, 0600), 0);
        if (geteuid() == 0) {
                /* Owned by someone else: refused even at 0600. */
                assert_int_equal(chown(f->secret, 1000, 1000), 0);
                assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), -EPERM);
                assert_int_equal(chown(f->secret, 0, 0), 0);
        }
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_true(ok);
        helpdesk_secret_wipe(&s);
}

static void test_refuses_symlinked_secret(void **state) {
        Fixture *f = *state;
        HelpdeskSecret s;
        char code[HOTP_DIGITS_MAX + 1], real[600];
        bool ok = false;
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &s), 0);
        code_at(&s, 0, code);
        snprintf(real, sizeof real, "%s/real.secret", f->dir);
        assert_int_equal(rename(f->secret, real), 0);
        assert_int_equal(symlink(real, f->secret), 0);
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), -ELOOP);
        assert_false(ok);
        helpdesk_secret_wipe(&s);
}

static void test_not_enrolled(void **state) {
        Fixture *f = *state;
        bool ok = true;
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, "12345678", &ok), -ENOENT);
        write_secret(f, "algorithm=sha256\n", 0600); /* no key */
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, "12345678", &ok), -EBADMSG);
}

/* A failure while persisting the counter must not accept the code, and must
 * leave it usable. */
static void test_counter_write_failure(void **state) {
        Fixture *f = *state;
        HelpdeskSecret s;
        char code[HOTP_DIGITS_MAX + 1], trace[600];
        bool ok = false;

        /* Learn the fault-point counter (global to the process): trace the
         * enroll, the next point reached is the last traced + 1. */
        snprintf(trace, sizeof trace, "%s/trace", f->dir);
        setenv("LASTGOOD_FAULT_TRACE", trace, 1);
        assert_int_equal(helpdesk_enroll(f->root_fd, &f->policy, false, &s), 0);
        code_at(&s, 0, code);
        char *before = slurp(f->secret);
        /* A wrong code reaches no durable step. */
        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, "00000000", &ok), 0);
        char *t = slurp(trace);
        assert_non_null(t);
        unsigned last = 0;
        for (char *line = t; line && *line;) {
                unsigned n;
                if (sscanf(line, "%u", &n) == 1)
                        last = n;
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        free(t);
        assert_true(last >= 3); /* helpdesk-enroll, write-temp, rename */

        for (unsigned k = 1; k <= 3; k++) {
                char at[16];
                snprintf(at, sizeof at, "%u", last + k);
                setenv("LASTGOOD_FAULT_AT", at, 1);
                setenv("LASTGOOD_FAULT_ERRNO", k == 1 ? "EIO" : "ENOSPC", 1);
                ok = false;
                int r = helpdesk_verify_code(f->root_fd, &f->policy, code, &ok);
                assert_true(r < 0);
                assert_false(ok); /* never reported accepted */
                char *after = slurp(f->secret);
                assert_string_equal(before, after);
                free(after);
                last += k; /* points reached by this call: helpdesk-counter, write-temp, rename */
        }
        unsetenv("LASTGOOD_FAULT_AT");
        unsetenv("LASTGOOD_FAULT_ERRNO");
        t = slurp(trace);
        assert_non_null(strstr(t, "helpdesk-counter"));
        free(t);

        assert_int_equal(helpdesk_verify_code(f->root_fd, &f->policy, code, &ok), 0);
        assert_true(ok);
        free(before);
        helpdesk_secret_wipe(&s);
}

static void test_key_parse(void **state) {
        uint8_t key[HOTP_KEY_MAX];
        size_t len;
        assert_int_equal(helpdesk_key_parse("3132333435363738393031323334353637383930", key, &len), 0);
        assert_int_equal(len, 20);
        assert_memory_equal(key, "12345678901234567890", 20);
        /* The RFC 4226 key in base32, grouped and in lower case. */
        assert_int_equal(helpdesk_key_parse("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", key, &len), 0);
        assert_int_equal(len, 20);
        assert_memory_equal(key, "12345678901234567890", 20);
        assert_int_equal(helpdesk_key_parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====\n", key, &len), 0);
        assert_int_equal(len, 20);

        assert_int_equal(helpdesk_key_parse("", key, &len), -EBADMSG);
        assert_int_equal(helpdesk_key_parse("31323334", key, &len), -EBADMSG); /* 4 bytes: too short */
        assert_int_equal(helpdesk_key_parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ!", key, &len), -EBADMSG);
        assert_int_equal(helpdesk_key_parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG", key, &len), -EBADMSG); /* dangling char */
}

static void test_base32_round_trip(void **state) {
        char *s = NULL;
        /* RFC 4648 section 10 vectors. */
        assert_int_equal(helpdesk_key_to_base32((const uint8_t *) "foobar", 6, 0, &s), 0);
        assert_string_equal(s, "MZXW6YTBOI");
        free(s);
        assert_int_equal(helpdesk_key_to_base32((const uint8_t *) "f", 1, 0, &s), 0);
        assert_string_equal(s, "MY");
        free(s);

        uint8_t key[32], back[HOTP_KEY_MAX];
        for (size_t i = 0; i < sizeof key; i++)
                key[i] = (uint8_t) (i * 37 + 11);
        size_t len;
        assert_int_equal(helpdesk_key_to_base32(key, sizeof key, 4, &s), 0);
        assert_int_equal(strlen(s), 52 + 12); /* 52 characters in 13 groups */
        assert_int_equal(helpdesk_key_parse(s, back, &len), 0);
        assert_int_equal(len, 32);
        assert_memory_equal(back, key, 32);
        free(s);
        assert_int_equal(hex_encode(key, sizeof key, &s), 0);
        assert_int_equal(strlen(s), 64);
        assert_int_equal(helpdesk_key_parse(s, back, &len), 0);
        assert_memory_equal(back, key, 32);
        free(s);
}

static void test_secret_parse_rejects(void **state) {
        static const char *const bad[] = {
                "",
                "algorithm=sha256\ncounter=0\n",                                                /* no key */
                "key=31323334353637383930313233343536\nkey=31323334353637383930313233343536\n", /* repeated */
                "key=31323334353637383930313233343536\ncolour=blue\n",                          /* unknown */
                "key=31323334353637383930313233343536\nalgorithm=md5\n", /* bad algorithm */
                "key=31323334353637383930313233343536\ncounter=-1\n",    /* bad counter */
                "key=31323334353637383930313233343536\ncounter=18446744073709551616\n",
                "key=3132333435363738\n",                  /* too short */
                "key=313233343536373839303132333435zz\n",  /* not hex */
                "key=31323334353637383930313233343536 \n", /* trailing space */
                "just some text\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                HelpdeskSecret s;
                assert_int_equal(helpdesk_secret_parse(bad[i], strlen(bad[i]), &s), -EBADMSG);
        }
        static const char nul[] = "key=31323334353637383930313233343536\n\0counter=5\n";
        HelpdeskSecret s;
        assert_int_equal(helpdesk_secret_parse(nul, sizeof nul - 1, &s), -EBADMSG);

        const char *good = "key=31323334353637383930313233343536\ncounter=18446744073709551615";
        assert_int_equal(helpdesk_secret_parse(good, strlen(good), &s), 0);
        assert_int_equal(s.counter, UINT64_MAX);
        assert_int_equal(s.key_len, 16);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_enroll_creates_root_only_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enroll_refuses_overwrite_without_force, setup, teardown),
                cmocka_unit_test_setup_teardown(test_code_accepted_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_and_malformed_codes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rfc4226_secret_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refuses_readable_secret, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refuses_symlinked_secret, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_enrolled, setup, teardown),
                cmocka_unit_test_setup_teardown(test_counter_write_failure, setup, teardown),
                cmocka_unit_test(test_key_parse),
                cmocka_unit_test(test_base32_round_trip),
                cmocka_unit_test(test_secret_parse_rejects),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
