/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/fault.h"

#ifdef LASTGOOD_FAULT_INJECTION
#include <fcntl.h>
#include <signal.h>
#include <string.h>

static unsigned counter;

int fault_point(const char *name) {
        counter++;

        const char *trace = getenv("LASTGOOD_FAULT_TRACE");
        if (trace) {
                FILE *f = fopen(trace, "ae");
                if (f) {
                        fprintf(f, "%u %s\n", counter, name);
                        fclose(f);
                }
        }

        const char *at = getenv("LASTGOOD_FAULT_AT");
        uint64_t n;
        if (!at || parse_u64(at, &n) < 0 || n != counter)
                return 0;

        const char *err = getenv("LASTGOOD_FAULT_ERRNO");
        if (err) {
                if (streq(err, "ENOSPC"))
                        return -ENOSPC;
                if (streq(err, "EIO"))
                        return -EIO;
                if (streq(err, "EROFS"))
                        return -EROFS;
                return -EIO;
        }
        fprintf(stderr, "lastgood: fault injection: killed at point %u (%s)\n", counter, name);
        /* SIGKILL: no atexit handlers, no buffered flushes, as a power cut. */
        kill(getpid(), SIGKILL);
        _exit(137);
}
#endif
