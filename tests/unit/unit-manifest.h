/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers of the manifest unit tests (test-manifest.c, test-manifest-walk.c). */

#include "unit.h"

#include "recovery/manifest.h"

/* A manifest_walk() callback: adds each entry met to the Manifest USERDATA
 * as a snapshot would record it (stat data, link target, content hash). */
static inline int unit_manifest_collect(int dir_fd, const char *name, const char *path,
                                        const struct stat *st, void *userdata) {
        Manifest *m = userdata;
        ManifestEntry e = { .path = (char *) path };
        manifest_entry_from_stat(&e, st);
        char target[4096];
        if (e.type == 'l') {
                ssize_t l = readlinkat(dir_fd, name, target, sizeof target - 1);
                assert_true(l >= 0);
                target[l] = '\0';
                e.target = target;
        }
        if (e.type == 'f') {
                int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(manifest_hash_fd(fd, e.sha256, NULL), 0);
                close(fd);
        }
        return manifest_add(m, &e);
}
