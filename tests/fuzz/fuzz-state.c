/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the state record decoder: whatever an NVRAM variable
 * or a state file holds (hostile, corrupt, truncated) must be refused or
 * decoded — never crash — and a record that decodes must re-encode to the
 * same bytes (nothing in it is ignored).
 */
#include <stdlib.h>

#include "agent/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        BootState s;
        if (state_decode(data, size, &s) < 0)
                return 0;
        uint8_t buf[STATE_RECORD_SIZE];
        state_encode(&s, buf);
        BootState t;
        if (state_decode(buf, sizeof buf, &t) < 0 || memcmp(&s, &t, sizeof s) != 0)
                abort();
        return 0;
}
