/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the state record decoder: whatever an NVRAM variable
 * or a state file holds (hostile, corrupt, truncated, any version) must be
 * refused or decoded — never crash — and a record that decodes must
 * re-encode to the same fields (nothing in it is ignored). The MAC check
 * runs on every input; a record signed with a key authenticates with it,
 * and a distrusted one re-encodes like any other.
 */
#include <stdlib.h>

#include "agent/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t key[STATE_KEY_SIZE] = "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-!";
        (void) state_authentic(data, size, key);
        BootState s;
        if (state_decode(data, size, &s) < 0)
                return 0;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, key, buf);
        BootState t;
        if (state_decode(buf, sizeof buf, &t) < 0 || memcmp(&s, &t, sizeof s) != 0)
                abort();
        if (!state_authentic(buf, sizeof buf, key) || state_authentic(buf, sizeof buf, NULL))
                abort();
        state_distrust(&t, false);
        state_encode(&t, NULL, buf);
        if (state_decode(buf, sizeof buf, &s) < 0 || memcmp(&s, &t, sizeof s) != 0)
                abort();
        return 0;
}
