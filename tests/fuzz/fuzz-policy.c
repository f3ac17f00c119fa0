/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the policy parser: hostile YAML on top of a default
 * policy, the way policy_load() feeds each file. Also dumps the result, so
 * what a file can put into a Policy is printed back without harm.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz-policy.c config/policy*.c lib/util.c lib/log.c lib/fileio.c \
 *     lib/rootfs.c lib/json.c lib/fault.c $(pkg-config --cflags --libs yaml-0.1) -o fuzz-policy
 *   ./fuzz-policy -max_total_time=60 tests/fuzz/corpus/policy
 */
#include <stdio.h>

#include "config/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Policy p;
        if (policy_init_defaults(&p) < 0)
                return 0;
        int r = policy_parse_buffer(&p, "fuzz.yaml", (const char *) data, size);
        /* Errors are counted, appended, and make the file contribute nothing. */
        if (r >= 0 && (size_t) r != strv_length(p.errors) && strv_length(p.errors) != (size_t) r + 1)
                abort();
        FILE *f = fopen("/dev/null", "we");
        if (f) {
                policy_dump(&p, f, false);
                policy_dump(&p, f, true);
                fclose(f);
        }
        policy_done(&p);
        return 0;
}
