/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state stores (agent/state-store.c): the order each `boot.state` asks
 * for, the newest valid generation winning across stores, a corrupt copy
 * never shadowing a valid one, and writes landing in the first store that
 * takes them (falling through, and then still read back as the newest).
 *
 * The efivar store runs against a fake efivarfs: a directory named by
 * EFIVARFS_PATH, with LIBEFIVAR_OPS=efivarfs. libefivar reads both once,
 * when it is loaded, so main() sets them and re-executes this binary before
 * any test runs; a guard then checks that libefivar really reads that
 * directory before anything is written (never this host's NVRAM). The
 * device store needs a block device and a mount: only its "not found" path
 * is checked here, the rest by the VM tier.
 */
#include "unit.h"

#include <efivar.h>

#include "agent/state-store.h"
#include "lib/paths.h"
#include "lib/rootfs.h"

#define EFI_FILE STATE_EFI_NAME "-" STATE_EFI_GUID

static const char *efi_dir; /* the fake efivarfs, with a trailing '/' */

typedef struct Fixture {
        char *dir;
        int root_fd;
        Policy p;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->dir = unit_mkdtemp();
        assert_int_equal(root_open(f->dir, &f->root_fd), 0);
        assert_int_equal(policy_init_defaults(&f->p), 0);
        unit_sh("rm -rf '%s'* && mkdir -p '%s'", efi_dir);
        setenv("EFIVARFS_PATH", efi_dir, 1);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        policy_done(&f->p);
        close(f->root_fd);
        unit_rmdir(f->dir);
        free(f);
        return 0;
}

/* The record as each store holds it: the root's state_file, and the
 * efivarfs file (four bytes of attributes, then the data). */
static void record(BootState *st, uint64_t generation, uint32_t total_boots) {
        *st = (BootState) { .generation = generation, .total_boots = total_boots };
}

static void put(const char *path, const BootState *st, bool efi, bool corrupt) {
        uint8_t buf[4 + STATE_RECORD_SIZE] = { 0x07 }; /* NV | BS | RT */
        state_encode(st, NULL, buf + 4);
        if (corrupt)
                buf[4 + 40] ^= 0x01; /* the CRC no longer matches */
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        size_t off = efi ? 0 : 4;
        assert_int_equal(fwrite(buf + off, 1, sizeof buf - off, fp), sizeof buf - off);
        assert_int_equal(fclose(fp), 0);
}

static void put_root(Fixture *f, const BootState *st, bool corrupt) {
        char path[512];
        unit_sh("mkdir -p '%s/var/lib/lastgood'", f->dir);
        snprintf(path, sizeof path, "%s/var/lib/lastgood/state", f->dir);
        put(path, st, false, corrupt);
}

static void put_efi(const BootState *st, bool corrupt) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", efi_dir, EFI_FILE);
        put(path, st, true, corrupt);
}

static bool exists_efi(void) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", efi_dir, EFI_FILE);
        return access(path, F_OK) == 0;
}

static bool has_problem(const StateStores *s, const char *what) {
        for (char **p = s->problems; p && *p; p++)
                if (strstr(*p, what))
                        return true;
        return false;
}

/* Reads the stores of F's policy afresh, as the next boot would. */
static int read_back(Fixture *f, BootState *ret, StoreKind *ret_from) {
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        int r = state_stores_read(&s, ret);
        if (r > 0)
                *ret_from = s.stores[s.read_from].kind;
        state_stores_done(&s);
        return r;
}

/* libefivar reads the fake efivarfs, not the host's: a variable put there by
 * hand is what it returns. Everything else depends on it. */
static void test_efivarfs_is_fake(void **state) {
        BootState st, got;
        record(&st, 41, 1);
        put_efi(&st, false);
        efi_guid_t guid;
        uint8_t *data = NULL;
        size_t size = 0;
        uint32_t attrs = 0;
        assert_int_equal(efi_str_to_guid(STATE_EFI_GUID, &guid), 0);
        if (efi_get_variable(guid, STATE_EFI_NAME, &data, &size, &attrs) < 0)
                fail_msg("libefivar does not read EFIVARFS_PATH=%s: refusing to go on", efi_dir);
        assert_int_equal(size, STATE_RECORD_SIZE);
        assert_int_equal(state_decode(data, size, &got), 0);
        assert_true(got.generation == 41);
        free(data);
}

static void kinds(Fixture *f, StateBackendKind backend, const char *device, const StoreKind *want, size_t n) {
        f->p.boot.state = backend;
        free(f->p.boot.state_device);
        f->p.boot.state_device = device ? strdup(device) : NULL;
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(s.n, n);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(s.stores[i].kind, want[i]);
        state_stores_done(&s);
}

/* auto = device, efivar, root; efivar = efivar, device, root; file =
 * device, root, efivar; the device only when one is configured. */
static void test_order(void **state) {
        Fixture *f = *state;
        static const char *const dev = "PARTLABEL=lastgood-unit-no-such-partition";
        kinds(f, STATE_BACKEND_AUTO, NULL, (StoreKind[]) { STORE_EFIVAR, STORE_ROOT }, 2);
        kinds(f, STATE_BACKEND_AUTO, dev, (StoreKind[]) { STORE_DEVICE, STORE_EFIVAR, STORE_ROOT }, 3);
        kinds(f, STATE_BACKEND_EFIVAR, NULL, (StoreKind[]) { STORE_EFIVAR, STORE_ROOT }, 2);
        kinds(f, STATE_BACKEND_EFIVAR, dev, (StoreKind[]) { STORE_EFIVAR, STORE_DEVICE, STORE_ROOT }, 3);
        kinds(f, STATE_BACKEND_FILE, NULL, (StoreKind[]) { STORE_ROOT, STORE_EFIVAR }, 2);
        kinds(f, STATE_BACKEND_FILE, dev, (StoreKind[]) { STORE_DEVICE, STORE_ROOT, STORE_EFIVAR }, 3);
}

/* A state partition that is not there: named in the problems, never
 * written, and the record goes to the next store. */
static void test_missing_device(void **state) {
        Fixture *f = *state;
        f->p.boot.state = STATE_BACKEND_FILE;
        f->p.boot.state_device = strdup("PARTLABEL=lastgood-unit-no-such-partition");
        assert_non_null(f->p.boot.state_device);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(s.stores[0].kind, STORE_DEVICE);
        assert_true(s.stores[0].setup_error < 0);
        assert_true(has_problem(&s, "lastgood-unit-no-such-partition not found"));
        BootState st;
        record(&st, 0, 3);
        assert_int_equal(state_stores_write(&s, &st), 1);
        assert_int_equal(s.stores[1].kind, STORE_ROOT);
        state_stores_done(&s);

        BootState got;
        StoreKind from;
        assert_int_equal(read_back(f, &got, &from), 1);
        assert_int_equal(from, STORE_ROOT);
        assert_true(got.total_boots == 3);
}

/* Nothing anywhere: 0, not an error. */
static void test_nothing(void **state) {
        Fixture *f = *state;
        BootState got;
        StoreKind from;
        f->p.boot.state = STATE_BACKEND_AUTO;
        assert_int_equal(read_back(f, &got, &from), 0);
}

/* Whichever store holds it, the highest generation is the record. */
static void test_newest_generation_wins(void **state) {
        Fixture *f = *state;
        BootState a, b, got;
        StoreKind from;
        f->p.boot.state = STATE_BACKEND_AUTO; /* efivar first, then the root */

        record(&a, 5, 50);
        record(&b, 7, 70);
        put_efi(&a, false);
        put_root(f, &b, false);
        assert_int_equal(read_back(f, &got, &from), 1);
        assert_int_equal(from, STORE_ROOT);
        assert_true(got.generation == 7 && got.total_boots == 70);

        record(&a, 9, 90);
        put_efi(&a, false);
        assert_int_equal(read_back(f, &got, &from), 1);
        assert_int_equal(from, STORE_EFIVAR);
        assert_true(got.generation == 9 && got.total_boots == 90);
}

/* A corrupt copy, however "new", does not hide a valid one; only corrupt
 * copies are -EBADMSG, each named in the problems. */
static void test_corrupt_does_not_shadow(void **state) {
        Fixture *f = *state;
        BootState a, b, got;
        StoreKind from;
        f->p.boot.state = STATE_BACKEND_AUTO;

        record(&a, 100, 1);
        record(&b, 3, 30);
        put_efi(&a, true);
        put_root(f, &b, false);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_int_equal(s.stores[s.read_from].kind, STORE_ROOT);
        assert_true(got.generation == 3 && got.total_boots == 30);
        assert_true(has_problem(&s, "Corrupt state record in efivar:"));
        state_stores_done(&s);

        put_root(f, &b, true);
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), -EBADMSG);
        assert_true(has_problem(&s, "Corrupt state record in efivar:"));
        assert_true(has_problem(&s, "Corrupt state record in /var/lib/lastgood/state"));
        assert_int_equal(s.read_from, -1);
        state_stores_done(&s);

        /* A file that is not a record at all (too large) is corrupt too,
         * and the valid copy elsewhere is the record. */
        record(&a, 2, 20);
        put_efi(&a, false);
        unit_sh("head -c 8192 /dev/zero > '%s/var/lib/lastgood/state'", f->dir);
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_int_equal(s.stores[s.read_from].kind, STORE_EFIVAR);
        assert_true(got.generation == 2 && got.total_boots == 20);
        assert_true(has_problem(&s, "Corrupt state record in /var/lib/lastgood/state"));
        state_stores_done(&s);
        (void) from;
}

/* A write goes to the first store that takes it, bumps the generation, and
 * reads back from there. */
static void test_write_first_store(void **state) {
        Fixture *f = *state;
        BootState st, got;
        StoreKind from;

        f->p.boot.state = STATE_BACKEND_EFIVAR;
        record(&st, 0, 11);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_write(&s, &st), 0);
        assert_true(st.generation == 1);
        assert_int_equal(s.written_to, 0);
        assert_int_equal(state_stores_current(&s)->kind, STORE_EFIVAR);
        assert_null(s.problems);
        state_stores_done(&s);
        assert_true(exists_efi());
        char path[512];
        snprintf(path, sizeof path, "%s/var/lib/lastgood/state", f->dir);
        assert_int_equal(access(path, F_OK), -1); /* one write, one store */

        assert_int_equal(read_back(f, &got, &from), 1);
        assert_int_equal(from, STORE_EFIVAR);
        assert_true(got.generation == 1 && got.total_boots == 11);

        f->p.boot.state = STATE_BACKEND_FILE;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        got.total_boots++;
        assert_int_equal(state_stores_write(&s, &got), 0);
        assert_int_equal(s.stores[0].kind, STORE_ROOT);
        state_stores_done(&s);
        assert_int_equal(access(path, F_OK), 0);
        /* The root's copy (generation 2) now outranks the efivar one (1). */
        f->p.boot.state = STATE_BACKEND_EFIVAR;
        assert_int_equal(read_back(f, &got, &from), 1);
        assert_int_equal(from, STORE_ROOT);
        assert_true(got.generation == 2 && got.total_boots == 12);
}

/* The first store refuses (its directory is a file): the write falls
 * through, says so, and the stale copy left in the first store does not
 * shadow it at the next read. */
static void test_write_falls_through(void **state) {
        Fixture *f = *state;
        BootState st, got;
        StoreKind from;
        f->p.boot.state = STATE_BACKEND_FILE; /* root, then efivar */

        record(&st, 4, 40);
        put_root(f, &st, false);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        /* Make the root store fail from now on: its directory goes away and
         * a file takes its place. */
        unit_sh("rm -rf '%s/var/lib/lastgood' && touch '%s/var/lib/lastgood'", f->dir);
        closep(&s.stores[0].dir_fd);
        got.total_boots++;
        assert_int_equal(state_stores_write(&s, &got), 1);
        assert_int_equal(s.stores[1].kind, STORE_EFIVAR);
        assert_true(has_problem(&s, "Failed to write state to /var/lib/lastgood/state"));
        assert_true(has_problem(&s, "(fall-through)"));
        assert_int_equal(state_stores_current(&s)->kind, STORE_EFIVAR);
        state_stores_done(&s);

        /* The root holds generation 4 again, the efivar 5: 5 wins. */
        unit_sh("rm -f '%s/var/lib/lastgood' && mkdir -p '%s/var/lib/lastgood'", f->dir);
        put_root(f, &st, false);
        assert_int_equal(read_back(f, &got, &from), 1);
        assert_int_equal(from, STORE_EFIVAR);
        assert_true(got.generation == 5 && got.total_boots == 41);
}

/* No store takes it: the last error, and every failure in the problems. */
static void test_write_nowhere(void **state) {
        Fixture *f = *state;
        BootState st;
        f->p.boot.state = STATE_BACKEND_FILE;
        setenv("EFIVARFS_PATH", "/nonexistent-lastgood-efivarfs/", 1); /* efivar: unavailable */
        unit_sh("mkdir -p '%s/var/lib' && touch '%s/var/lib/lastgood'", f->dir);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_true(s.stores[1].setup_error < 0);
        record(&st, 0, 1);
        int r = state_stores_write(&s, &st);
        assert_true(r < 0);
        assert_int_equal(s.written_to, -1);
        assert_true(has_problem(&s, "Failed to write state to /var/lib/lastgood/state"));
        state_stores_done(&s);
        assert_false(exists_efi());
}

/* Whatever sits at the state file's path (FIFO, socket, device, symlink,
 * directory) is read in bounded time and is a corrupt copy, never "no
 * record" (which would read as a fresh, healthy machine); a valid copy in
 * another store is still the record, with the corrupt one noted. */
static void test_hostile_paths(void **state) {
        Fixture *f = *state;
        static const char *const plant[] = {
                "mkfifo '%s/var/lib/lastgood/state'",
                ("python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "
                 "'%s/var/lib/lastgood/state'"),
                "mknod '%s/var/lib/lastgood/state' c 1 3", /* /dev/null */
                "ln -s good '%s/var/lib/lastgood/state'",
                "ln -s /dev/zero '%s/var/lib/lastgood/state'",
                "mkdir '%s/var/lib/lastgood/state'",
        };
        f->p.boot.state = STATE_BACKEND_FILE; /* the root store first */
        BootState good, got;
        record(&good, 3, 30);
        alarm(20); /* a FIFO that blocks the read fails the test, not hangs it */
        for (size_t i = 0; i < ELEMENTSOF(plant); i++) {
                if (i == 2 && geteuid() != 0)
                        continue; /* mknod needs root */
                unit_sh("rm -rf '%s'* && mkdir -p '%s'", efi_dir);
                unit_sh("rm -rf '%s/var/lib/lastgood' && mkdir -p '%s/var/lib/lastgood'", f->dir);
                /* the symlink's target is a valid record: still refused */
                put_root(f, &good, false);
                unit_sh("mv '%s/var/lib/lastgood/state' '%s/var/lib/lastgood/good'", f->dir);
                unit_sh(plant[i], f->dir);

                StateStores s;
                assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
                assert_int_equal(state_stores_read(&s, &got), -EBADMSG);
                assert_true(has_problem(&s, "Corrupt state record in /var/lib/lastgood/state"));
                state_stores_done(&s);

                /* another store's valid copy is the record, the corrupt one noted */
                put_efi(&good, false);
                assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
                assert_int_equal(state_stores_read(&s, &got), 1);
                assert_int_equal(s.stores[s.read_from].kind, STORE_EFIVAR);
                assert_true(got.total_boots == 30);
                assert_true(s.saw_corrupt);
                state_stores_done(&s);
        }
        alarm(0);
        /* control: a regular file with the same record reads, nothing corrupt */
        unit_sh("rm -rf '%s'* && mkdir -p '%s'", efi_dir);
        unit_sh("rm -rf '%s/var/lib/lastgood/state'", f->dir);
        put_root(f, &good, false);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_false(s.saw_corrupt);
        state_stores_done(&s);
}

/* A generation at the maximum stays there (never wraps to 0); one beyond
 * it (a forged 2^64-1) is a corrupt copy that shadows nothing. */
static void test_generation_never_wraps(void **state) {
        Fixture *f = *state;
        f->p.boot.state = STATE_BACKEND_AUTO;
        BootState st, got, forged;
        StoreKind from;
        record(&st, STATE_GENERATION_MAX, 5);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_write(&s, &st), 0);
        assert_true(st.generation == STATE_GENERATION_MAX);
        state_stores_done(&s);
        assert_int_equal(read_back(f, &got, &from), 1);
        assert_true(got.generation == STATE_GENERATION_MAX);

        record(&st, 10, 7);
        put_efi(&st, false);
        record(&forged, UINT64_MAX, 99);
        put_root(f, &forged, false);
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_true(got.total_boots == 7);
        assert_true(s.saw_corrupt);
        got.total_boots++;
        assert_int_equal(state_stores_write(&s, &got), 0);
        assert_true(got.generation == 11);
        state_stores_done(&s);
        assert_int_equal(read_back(f, &got, &from), 1);
        assert_true(got.generation == 11 && got.total_boots == 8);
}

static void key_path(const Fixture *f, char *buf, size_t size) {
        snprintf(buf, size, "%s%s", f->dir, LASTGOOD_STATE_KEY_FILE);
}

/* A BootState that a forger would like: a step taken, a culprit, safe mode. */
static void forged_record(BootState *st, uint64_t generation) {
        *st = (BootState) { .generation = generation,
                            .total_boots = 9,
                            .failed_boots = 50,
                            .step_failed_boots = 50,
                            .ladder_step = 1,
                            .incident = 1,
                            .safe_mode_requested = UINT32_MAX,
                            .in_boot = 0 };
        state_set_str(st->culprit, "sensor");
}

/* The first write makes the key (root-owned 0600) and signs the record: it
 * reads back authenticated, every field intact. An unsigned record, however
 * new, loses to it; alone, it is distrusted (no culprit, no step, no safe
 * mode, counted as unconfirmed). */
static void test_authentication(void **state) {
        Fixture *f = *state;
        f->p.boot.state = STATE_BACKEND_AUTO; /* efivar, then root */
        char kp[512];
        key_path(f, kp, sizeof kp);

        BootState st, got;
        forged_record(&st, 0);
        st.safe_mode_requested = 2;
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(s.key_error, -ENOENT);
        assert_int_equal(state_stores_write(&s, &st), 0);
        assert_int_equal(s.key_error, 0);
        state_stores_done(&s);
        struct stat kst;
        assert_int_equal(lstat(kp, &kst), 0);
        assert_true(S_ISREG(kst.st_mode));
        assert_int_equal(kst.st_mode & 07777, 0600);
        assert_int_equal(kst.st_uid, geteuid());
        assert_int_equal(kst.st_size, STATE_KEY_SIZE);

        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_false(s.unauthenticated);
        assert_string_equal(got.culprit, "sensor");
        assert_int_equal(got.ladder_step, 1);
        assert_int_equal(got.safe_mode_requested, 2);
        state_stores_done(&s);

        /* a forged, unsigned copy with a higher generation does not win */
        BootState forged;
        forged_record(&forged, 1000);
        state_set_str(forged.culprit, "other");
        put_root(f, &forged, false);
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_int_equal(s.stores[s.read_from].kind, STORE_EFIVAR);
        assert_false(s.unauthenticated);
        assert_string_equal(got.culprit, "sensor");
        state_stores_done(&s);

        /* alone, it is read distrusted */
        put_efi(&forged, false);
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_true(s.unauthenticated);
        assert_true(has_problem(&s, "not authenticated"));
        assert_string_equal(got.culprit, "");
        assert_int_equal(got.ladder_step, 0);
        assert_int_equal(got.step_failed_boots, 0);
        assert_int_equal(got.failed_boots, 0);
        assert_int_equal(got.safe_mode_requested, 0);
        assert_int_equal(got.in_boot, 1);
        assert_true(got.total_boots == 9);
        /* written back (e.g. by confirm), it is signed, but what was
         * distrusted stays dropped: an unsigned record is never laundered */
        got.in_boot = 0;
        assert_int_equal(state_stores_write(&s, &got), 0);
        state_stores_done(&s);
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_read(&s, &got), 1);
        assert_false(s.unauthenticated);
        assert_string_equal(got.culprit, "");
        assert_int_equal(got.ladder_step, 0);
        state_stores_done(&s);
}

/* A key that is not ours alone is refused (and not replaced): records are
 * then read as unauthenticated. The control, the same key 0600, works. */
static void test_key_refused(void **state) {
        Fixture *f = *state;
        f->p.boot.state = STATE_BACKEND_AUTO;
        char kp[512];
        key_path(f, kp, sizeof kp);
        BootState st, got;
        forged_record(&st, 0);
        StateStores s;
        assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
        assert_int_equal(state_stores_write(&s, &st), 0);
        state_stores_done(&s);

        static const char *const spoil[] = {
                "chmod 0644 '%s'",
                "chmod 0640 '%s'",
                "mv '%s' '%s.real' && ln -s state.key.real '%s'",
                "truncate -s 31 '%s'",
        };
        for (size_t i = 0; i < ELEMENTSOF(spoil); i++) {
                unit_sh("cp -p '%s' '%s.save'", kp);
                unit_sh(spoil[i], kp);
                assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
                assert_true(s.key_error < 0 && s.key_error != -ENOENT);
                assert_true(has_problem(&s, "Refusing the state key"));
                assert_int_equal(state_stores_read(&s, &got), 1);
                assert_true(s.unauthenticated);
                assert_string_equal(got.culprit, "");
                state_stores_done(&s);
                unit_sh("rm -f '%s' '%s.real' && mv '%s.save' '%s'", kp);

                assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
                assert_int_equal(s.key_error, 0);
                assert_int_equal(state_stores_read(&s, &got), 1);
                assert_false(s.unauthenticated);
                assert_string_equal(got.culprit, "sensor");
                state_stores_done(&s);
        }
        if (geteuid() == 0) {
                unit_sh("chown 1:1 '%s'", kp);
                assert_int_equal(state_stores_open(f->root_fd, &f->p, false, &s), 0);
                assert_int_equal(s.key_error, -EPERM);
                state_stores_done(&s);
        }
}

static int run_all(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_efivarfs_is_fake, setup, teardown),
                cmocka_unit_test_setup_teardown(test_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_device, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_newest_generation_wins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_does_not_shadow, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_first_store, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_falls_through, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_nowhere, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_paths, setup, teardown),
                cmocka_unit_test_setup_teardown(test_generation_never_wraps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_authentication, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(int argc, char **argv) {
        /* libefivar has already read its environment: start again with the
         * fake efivarfs in it. */
        static char path[256];
        char *top;
        if (unit_reexec_with_fake_efivarfs(argv, path, &top) < 0)
                return 1;
        efi_dir = path;
        int r = run_all();
        unit_rmdir(top);
        return r;
}
