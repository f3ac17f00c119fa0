/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include "recovery/manifest.h"

static const char *const SHA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

static Manifest *sample(void) {
        char *s = NULL;
        assert_true(asprintf(&s,
                             "lastgood-manifest 2 1000\n"
                             "d 0755 0 0 0 - 1 2 3 4 etc/sensor - -\n"
                             "f 4755 10 20 6 %s -5 6 7 8 etc/sensor/a%%20b - security.capability=%s\n"
                             "l 0777 0 0 3 - 1 2 3 4 etc/sensor/link a%%20b -\n",
                             SHA, SHA) > 0);
        Manifest *m = NULL;
        char *reason = NULL;
        assert_int_equal(manifest_parse(s, strlen(s), 1000, &m, &reason), 0);
        free(s);
        return m;
}

static char *text(const Manifest *m) {
        char *t = NULL;
        size_t l;
        assert_int_equal(manifest_format(m, &t, &l), 0);
        return t;
}

static const uint64_t KEY[2] = { 42, 4242 };

/* The binary form decodes to the same manifest (its text form is equal). */
static void test_roundtrip(void **unused) {
        Manifest *m = sample(), *d = NULL;
        char *bin = NULL;
        size_t len;
        assert_int_equal(manifest_encode_binary(m, KEY, sizeof KEY, &bin, &len), 0);
        assert_int_equal(manifest_decode_binary(bin, len, KEY, sizeof KEY, 1000, &d), 0);
        char *a = text(m), *b = text(d);
        assert_string_equal(a, b);
        assert_int_equal(manifest_find(d, "etc/sensor/link"), 2);
        free(a);
        free(b);
        manifest_free(d);
        /* Entry cap. */
        assert_int_equal(manifest_decode_binary(bin, len, KEY, sizeof KEY, 2, &d), -E2BIG);
        free(bin);
        manifest_free(m);
}

/* Another key (another text), a flipped byte anywhere, a truncation: never
 * a manifest. */
static void test_refuses_damage(void **unused) {
        Manifest *m = sample(), *d = NULL;
        char *bin = NULL;
        size_t len;
        assert_int_equal(manifest_encode_binary(m, KEY, sizeof KEY, &bin, &len), 0);
        const uint64_t other[2] = { 42, 4243 };
        assert_int_equal(manifest_decode_binary(bin, len, other, sizeof other, 1000, &d), -EBADMSG);
        for (size_t i = 0; i < len; i++) {
                bin[i] ^= 0x01;
                assert_int_equal(manifest_decode_binary(bin, len, KEY, sizeof KEY, 1000, &d), -EBADMSG);
                bin[i] ^= 0x01;
        }
        for (size_t l = 0; l < len; l += 5)
                assert_int_equal(manifest_decode_binary(bin, l, KEY, sizeof KEY, 1000, &d), -EBADMSG);
        assert_int_equal(manifest_decode_binary(bin, len, KEY, sizeof KEY, 1000, &d), 0);
        manifest_free(d);
        free(bin);
        manifest_free(m);
}

/* With a right checksum, an entry the text parser would refuse is refused
 * too: an unsafe path, unsorted entries, a symlink without a target. */
static void test_checks_entries(void **unused) {
        Manifest *d = NULL;
        char *bin = NULL;
        size_t len;
        static const char *const bad_paths[] = { "../etc", "/etc/x", "etc//x", "etc/./x" };
        for (size_t i = 0; i < ELEMENTSOF(bad_paths); i++) {
                Manifest *m = sample();
                free(m->entries[0].path);
                m->entries[0].path = strdup(bad_paths[i]);
                assert_int_equal(manifest_encode_binary(m, KEY, sizeof KEY, &bin, &len), 0);
                assert_int_equal(manifest_decode_binary(bin, len, KEY, sizeof KEY, 1000, &d), -EBADMSG);
                free(bin);
                manifest_free(m);
        }
        Manifest *m = sample();
        ManifestEntry t = m->entries[0];
        m->entries[0] = m->entries[1];
        m->entries[1] = t;
        assert_int_equal(manifest_encode_binary(m, KEY, sizeof KEY, &bin, &len), 0);
        assert_int_equal(manifest_decode_binary(bin, len, KEY, sizeof KEY, 1000, &d), -EBADMSG);
        free(bin);
        manifest_free(m);

        m = sample();
        free(m->entries[2].target);
        m->entries[2].target = NULL;
        assert_int_equal(manifest_encode_binary(m, KEY, sizeof KEY, &bin, &len), 0);
        assert_int_equal(manifest_decode_binary(bin, len, KEY, sizeof KEY, 1000, &d), -EBADMSG);
        free(bin);
        manifest_free(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_refuses_damage),
                cmocka_unit_test(test_checks_entries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
