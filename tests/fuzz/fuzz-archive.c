/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: validation of an in-memory tar (plain, gzip or zstd) the
 * way `snapshot import` and `verify` read it. An input of the form
 * MANIFEST "\n==TAR==\n" TAR checks the archive against that manifest (when
 * it parses and passes the root checks), as a restore does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK "\n==TAR==\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const ArchiveLib *al;
        static char **roots;
        if (!al) {
                char *content[] = { "/etc/sensor", "/usr/lib/sensor", NULL };
                if (archive_lib_load(&al) < 0 || manifest_roots(content, &roots) < 0)
                        abort();
        }

        Manifest *expect = NULL;
        const uint8_t *tar = data;
        size_t tar_len = size;
        const uint8_t *mark = memmem(data, size, MARK, strlen(MARK));
        if (mark) {
                size_t ml = (size_t) (mark - data) + 1; /* keep the manifest's last newline */
                char *reason = NULL;
                if (manifest_parse((const char *) data, ml, 1000, &expect, &reason) < 0 ||
                    manifest_check_roots(expect, roots, &reason) < 0) {
                        manifest_free(expect);
                        expect = NULL;
                }
                free(reason);
                tar = mark + strlen(MARK);
                tar_len = size - (size_t) (tar - data);
        }

        ArchiveScan s = { .roots = roots, .expect = expect, .max_entries = 1000, .max_expanded_bytes = 64u << 20 };
        int r = archive_scan_memory(al, tar, tar_len, &s);
        /* a refusal always says why */
        if ((r == -EBADMSG || r == -E2BIG || r == -EFBIG) && !s.reason)
                abort();
        if (r >= 0 && !expect) {
                /* what passed import validation is a consistent manifest */
                char *reason = NULL;
                if (!s.found || manifest_check_roots(s.found, roots, &reason) < 0)
                        abort();
        }
        archive_scan_done(&s);
        manifest_free(expect);
        return 0;
}
