/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "config/policy-cache.h"
#include "config/policy.h"
#include "lib/paths.h"
#include "lib/rootfs.h"
#include "lib/util.h"

typedef struct Env {
        char *dir;
        int root_fd;
        char etc[300], dropins[320], cache[320];
} Env;

static void env_path(Env *e, char *buf, size_t size, const char *rel) {
        snprintf(buf, size, "%s%s", e->dir, rel);
}

static Env *env_new(void) {
        Env *e = calloc(1, sizeof *e);
        assert_non_null(e);
        e->dir = unit_mkdtemp();
        char p[400];
        env_path(e, p, sizeof p, "/etc");
        assert_int_equal(mkdir(p, 0755), 0);
        env_path(e, e->etc, sizeof e->etc, LASTGOOD_CONFIG_DIR);
        assert_int_equal(mkdir(e->etc, 0755), 0);
        env_path(e, e->dropins, sizeof e->dropins, POLICY_DROPIN_DIR);
        assert_int_equal(mkdir(e->dropins, 0755), 0);
        env_path(e, e->cache, sizeof e->cache, LASTGOOD_POLICY_CACHE_FILE);
        assert_int_equal(root_open(e->dir, &e->root_fd), 0);
        return e;
}

static void env_free(Env *e) {
        close(e->root_fd);
        unit_rmdir(e->dir);
        free(e);
}

/* Past the racy margin: a source this old can be vouched for. */
static void settle(void) {
        struct timespec ts = { .tv_nsec = 60 * 1000 * 1000 };
        nanosleep(&ts, NULL);
}

static void put(const char *dir, const char *name, const char *content) {
        unit_write(dir, name, content);
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        assert_int_equal(chmod(p, 0644), 0);
}

/* Loads, saves the cache, and loads again: the second load comes from the
 * cache and equals the parsed one, key by key (as the dumper prints them). */
static char *dump(const Policy *p) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        policy_dump(p, f, /* json= */ true);
        fclose(f);
        return buf;
}

static const char *const POLICY = "version: 1\n"
                                  "boot: {max_failed_boots: 4, state: file}\n"
                                  "confirm:\n"
                                  "  health_checks:\n"
                                  "    - {name: up, command: [/bin/true, '--x y'], timeout: 5s}\n"
                                  "recovery: {ladder: [quarantine, restore-content], require_suspect: false}\n"
                                  "safe_mode: {require_code: false}\n";
static const char *const SENSOR = "components:\n"
                                  "  - name: sensor\n"
                                  "    content: [/etc/sensor, /opt/sensor/rules]\n"
                                  "    exclude: [/opt/sensor/rules/db]\n"
                                  "    kernel_modules: [sensor, 'sensor_*']\n"
                                  "    processes: [sensord]\n"
                                  "    units: [sensor.service]\n"
                                  "    quarantine: never\n"
                                  "    safe_mode: keep\n"
                                  "    max_failed_boots: 7\n";

static void test_roundtrip_and_invalidation(void **unused) {
        Env *e = env_new();
        put(e->etc, "policy.yaml", POLICY);
        put(e->dropins, "sensor.yaml", SENSOR);
        settle();

        Policy p, q;
        assert_int_equal(policy_load(e->root_fd, NULL, &p), 0);
        assert_null(p.errors);
        assert_false(p.from_cache);
        assert_int_equal(policy_cache_save(e->root_fd, &p), 0);
        struct stat st;
        assert_int_equal(stat(e->cache, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_int_equal(policy_load(e->root_fd, NULL, &q), 0);
        assert_true(q.from_cache);
        char *a = dump(&p), *b = dump(&q);
        assert_string_equal(a, b);
        assert_int_equal(strv_length(q.files), 2);
        assert_string_equal(q.files[1], "/etc/lastgood/policy.d/sensor.yaml");
        free(a);
        free(b);
        policy_done(&q);

        /* A drop-in added: the signature moves, the files are parsed. */
        put(e->dropins, "zz.yaml", "boot: {max_failed_boots: 9}\n");
        assert_int_equal(policy_load(e->root_fd, NULL, &q), 0);
        assert_false(q.from_cache);
        assert_int_equal(q.boot.max_failed_boots, 9);
        policy_done(&q);

        /* Removed again (the directory's own stat moved): not the old cache
         * either, since the directory is not as it was when it was saved. */
        char path[700];
        snprintf(path, sizeof path, "%s/zz.yaml", e->dropins);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(policy_load(e->root_fd, NULL, &q), 0);
        assert_false(q.from_cache);
        assert_int_equal(q.boot.max_failed_boots, 4);
        policy_done(&q);

        /* An edit of a file in place, and a chmod, each invalidate. */
        settle();
        assert_int_equal(policy_load(e->root_fd, NULL, &q), 0);
        assert_int_equal(policy_cache_save(e->root_fd, &q), 0);
        policy_done(&q);
        assert_int_equal(policy_load(e->root_fd, NULL, &q), 0);
        assert_true(q.from_cache);
        policy_done(&q);
        snprintf(path, sizeof path, "%s/sensor.yaml", e->dropins);
        assert_int_equal(chmod(path, 0664), 0);
        assert_int_equal(policy_load(e->root_fd, NULL, &q), 0);
        assert_false(q.from_cache);
        assert_non_null(q.errors); /* group-writable: refused, as parsed */
        policy_done(&q);
        policy_done(&p);
        env_free(e);
}

/* A policy with errors, or one falling back, is never compiled; nor one
 * whose source changed within the racy margin. */
static void test_never_stores_what_it_should_not(void **unused) {
        Env *e = env_new();
        put(e->etc, "policy.yaml", "boot: {max_failed_boots: 99}\n");
        settle();
        Policy p;
        assert_int_equal(policy_load(e->root_fd, NULL, &p), 0);
        assert_non_null(p.errors);
        assert_int_equal(policy_cache_save(e->root_fd, &p), 0);
        assert_int_equal(access(e->cache, F_OK), -1);
        policy_done(&p);

        put(e->etc, "policy.yaml", POLICY); /* just now: racy */
        assert_int_equal(policy_load(e->root_fd, NULL, &p), 0);
        assert_null(p.errors);
        assert_int_equal(policy_cache_save(e->root_fd, &p), 0);
        assert_int_equal(access(e->cache, F_OK), -1);
        policy_done(&p);
        env_free(e);
}

/* A torn, foreign or tampered cache is a miss, never an error or a
 * policy: each byte flipped in turn (the checksum), a truncation, garbage. */
static void test_damaged_cache_is_a_miss(void **unused) {
        Env *e = env_new();
        put(e->etc, "policy.yaml", POLICY);
        put(e->dropins, "sensor.yaml", SENSOR);
        settle();
        Policy p;
        assert_int_equal(policy_load(e->root_fd, NULL, &p), 0);
        assert_int_equal(policy_cache_save(e->root_fd, &p), 0);
        policy_done(&p);
        char *good = NULL;
        size_t len = 0;
        {
                FILE *f = fopen(e->cache, "re");
                assert_non_null(f);
                good = malloc(1 << 20);
                len = fread(good, 1, 1 << 20, f);
                fclose(f);
        }
        assert_true(len > 64);
        for (size_t i = 0; i < len; i += (i < 64 ? 1 : 7)) {
                good[i] ^= 0x40;
                FILE *f = fopen(e->cache, "we");
                fwrite(good, 1, len, f);
                fclose(f);
                good[i] ^= 0x40;
                assert_int_equal(policy_cache_load(e->root_fd, &p), 0);
        }
        FILE *f = fopen(e->cache, "we");
        fwrite(good, 1, len / 2, f);
        fclose(f);
        assert_int_equal(policy_cache_load(e->root_fd, &p), 0);
        unit_write(e->etc, "../../var/lib/lastgood/policy.cache", "LGPCACHE garbage");
        assert_int_equal(policy_cache_load(e->root_fd, &p), 0);
        /* The intact one still loads (the test itself is sound). */
        f = fopen(e->cache, "we");
        fwrite(good, 1, len, f);
        fclose(f);
        assert_int_equal(policy_cache_load(e->root_fd, &p), 1);
        policy_done(&p);
        free(good);
        env_free(e);
}

/* Flips the first byte of the file at PATH. */
static void flip_first_byte(const char *path) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        char c;
        assert_int_equal(pread(fd, &c, 1, 0), 1);
        c = c == '#' ? ' ' : '#';
        assert_int_equal(pwrite(fd, &c, 1, 0), 1);
        close(fd);
}

/* confirm's last-known-good copy from a compiled policy: the text compiled
 * with it is what the copy must hold (the same as a dump of the parsed
 * policy), compared without dumping; a copy edited or deleted since is
 * written again. */
static void test_last_good_copy_from_the_compiled_text(void **unused) {
        Env *e = env_new();
        put(e->etc, "policy.yaml", POLICY);
        settle();
        char lg[400];
        env_path(e, lg, sizeof lg, LASTGOOD_POLICY_LAST_GOOD_FILE);

        Policy p, q;
        assert_int_equal(policy_load(e->root_fd, NULL, &p), 0);
        assert_null(p.last_good_text);
        assert_int_equal(policy_save_last_good(e->root_fd, &p), 1); /* the first: written */
        assert_int_equal(policy_cache_save(e->root_fd, &p), 0);

        assert_int_equal(policy_load(e->root_fd, NULL, &q), 0);
        assert_true(q.from_cache);
        assert_non_null(q.last_good_text);
        char *a = NULL, *b = NULL;
        size_t al, bl;
        q.from_cache = false;
        char *kept = TAKE_PTR(q.last_good_text);
        assert_int_equal(policy_dump_text(&q, &a, &al), 0); /* dumped from the settings */
        q.last_good_text = kept;
        assert_int_equal(policy_dump_text(&q, &b, &bl), 0); /* compiled */
        assert_string_equal(a, b);
        free(a);
        free(b);
        assert_int_equal(policy_save_last_good(e->root_fd, &q), 0);

        flip_first_byte(lg); /* edited: rewritten */
        assert_int_equal(policy_save_last_good(e->root_fd, &q), 1);
        assert_int_equal(policy_save_last_good(e->root_fd, &q), 0);
        assert_int_equal(unlink(lg), 0); /* deleted: rewritten */
        assert_int_equal(policy_save_last_good(e->root_fd, &q), 1);
        assert_int_equal(access(lg, F_OK), 0);
        policy_done(&p);
        policy_done(&q);
        env_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip_and_invalidation),
                cmocka_unit_test(test_never_stores_what_it_should_not),
                cmocka_unit_test(test_damaged_cache_is_a_miss),
                cmocka_unit_test(test_last_good_copy_from_the_compiled_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
