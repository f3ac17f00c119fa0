/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"
#include "unit-manifest.h"

#include <time.h>

#include "lib/rootfs.h"
#include "recovery/manifest.h"

/* A tree large enough for the parallel walk: 30 directories of 80 files,
 * two levels, and files beside them at the root. */
#define N_DIRS 30
#define N_FILES 80

static char *make_tree(void) {
        char *d = unit_mkdtemp();
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "cd %s && mkdir -p etc/sensor && cd etc/sensor && for i in $(seq %d); do mkdir -p d$i/sub; "
                 "for j in $(seq %d); do echo $i-$j > d$i/sub/f$j; done; done && echo top > top.conf && "
                 "ln -s top.conf link",
                 d, N_DIRS, N_FILES);
        assert_int_equal(system(cmd), 0);
        return d;
}


/* Every entry is met exactly once, whichever worker meets it: the union of
 * the workers' manifests is the sequential walk's. */
static void test_parallel_walk_meets_each_entry_once(void **unused) {
        char *d = make_tree();
        int root_fd;
        assert_int_equal(root_open(d, &root_fd), 0);
        char *content[] = { "/etc/sensor", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);

        Manifest *seq = manifest_new();
        assert_int_equal(manifest_walk(root_fd, roots, NULL, unit_manifest_collect, seq), 0);
        manifest_sort(seq);

        Manifest *w[MANIFEST_WALK_MAX_WORKERS], *all = manifest_new();
        void *uds[MANIFEST_WALK_MAX_WORKERS];
        for (size_t k = 0; k < MANIFEST_WALK_MAX_WORKERS; k++)
                uds[k] = w[k] = manifest_new();
        assert_int_equal(manifest_walk_parallel(root_fd, roots, NULL, unit_manifest_collect, uds,
                                                MANIFEST_WALK_MAX_WORKERS),
                         0);
        for (size_t k = 0; k < MANIFEST_WALK_MAX_WORKERS; k++) {
                for (size_t i = 0; i < w[k]->n; i++)
                        assert_int_equal(manifest_add(all, &w[k]->entries[i]), 0);
                manifest_free(w[k]);
        }
        manifest_sort(all);
        assert_int_equal(all->n, seq->n);
        assert_int_equal(seq->n, 1 + 1 + 1 + N_DIRS * (2 + N_FILES));
        for (size_t i = 0; i < seq->n; i++)
                assert_string_equal(all->entries[i].path, seq->entries[i].path);
        manifest_free(all);
        manifest_free(seq);
        strv_free(roots);
        close(root_fd);
        unit_rmdir(d);
}

static void diff(int root_fd, char **roots, Manifest *m, ManifestDiff *ret) {
        assert_int_equal(manifest_compare_live(root_fd, roots, NULL, m, ret), 0);
}

/* The unchanged-content check on a tree that takes the parallel path: no
 * change, then each kind of change deep in another worker's subtree. */
static void test_parallel_compare_finds_changes(void **unused) {
        char *d = make_tree();
        int root_fd;
        assert_int_equal(root_open(d, &root_fd), 0);
        char *content[] = { "/etc/sensor", NULL };
        char **roots = NULL;
        assert_int_equal(manifest_roots(content, &roots), 0);
        Manifest *m = manifest_new();
        assert_int_equal(manifest_walk(root_fd, roots, NULL, unit_manifest_collect, m), 0);
        manifest_sort(m);
        assert_true(m->n >= 2000);
        m->created_ns = manifest_now_ns() + 1000000000LL; /* nothing racy */

        ManifestDiff x;
        diff(root_fd, roots, m, &x);
        assert_false(x.changed);
        assert_int_equal(x.n_changed, 0);
        assert_int_equal(x.n_removed, 0);

        char cmd[1024];
        /* Same size, other bytes, in the last directory. */
        snprintf(cmd, sizeof cmd, "cd %s/etc/sensor && sleep 0.06 && echo %d-X > d%d/sub/f7", d, N_DIRS, N_DIRS);
        assert_int_equal(system(cmd), 0);
        diff(root_fd, roots, m, &x);
        assert_true(x.changed);
        assert_int_equal(x.n_changed, 1);
        assert_int_equal(x.n_removed, 0);

        /* A removal in the first, an addition in the middle. */
        snprintf(cmd, sizeof cmd, "cd %s/etc/sensor && rm d1/sub/f3 && echo new > d15/sub/new", d);
        assert_int_equal(system(cmd), 0);
        diff(root_fd, roots, m, &x);
        assert_true(x.changed);
        assert_int_equal(x.n_removed, 1);
        assert_int_equal(x.n_changed, 2); /* f7 and new (directories only settle) */
        manifest_free(m);
        strv_free(roots);
        close(root_fd);
        unit_rmdir(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parallel_walk_meets_each_entry_once),
                cmocka_unit_test(test_parallel_compare_finds_changes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
