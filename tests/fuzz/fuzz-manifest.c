/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the snapshot manifest parser (a manifest may have been
 * planted). A manifest that parses must format back to the same bytes and
 * pass or fail the content-root checks without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Manifest *m = NULL;
        char *reason = NULL;
        if (manifest_parse((const char *) data, size, 100000, &m, &reason) < 0) {
                free(reason);
                return 0;
        }
        char *text = NULL;
        size_t len = 0;
        if (manifest_format(m, &text, &len) < 0)
                abort();
        /* canonical encoding: what parses formats back byte for byte */
        if (len != size || memcmp(text, data, size) != 0)
                abort();
        free(text);

        char *content[] = { "/etc/sensor", "/usr/lib/sensor", NULL };
        char **roots = NULL;
        if (manifest_roots(content, &roots) < 0)
                abort();
        (void) !manifest_check_roots(m, roots, &reason);
        free(reason);
        for (size_t i = 0; i < m->n; i++)
                if (manifest_find(m, m->entries[i].path) != (ssize_t) i)
                        abort();
        strv_free(roots);
        manifest_free(m);
        return 0;
}
