/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/log.h"

#include <fcntl.h>
#include <stdarg.h>

static int max_level = LOG_LVL_INFO;
static int kmsg_fd = -1;
static bool kmsg_wanted;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_open_kmsg(void) {
        /* Opened at the first message: opening /dev/kmsg walks the kernel's
         * log buffer, a cost every healthy (silent) boot would pay. */
        kmsg_wanted = true;
}

void log_close(void) {
        closep(&kmsg_fd);
        kmsg_fd = -1;
        kmsg_wanted = false;
}

int log_internal(int level, int error, const char *fmt, ...) {
        int e = error < 0 ? -error : error;
        if (level > max_level)
                return -e;

        char msg[2048];
        va_list ap;
        /* Make %m print the error we were handed. */
        errno = e;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        fprintf(stderr, "%s\n", msg);
        if (kmsg_wanted && kmsg_fd < 0) {
                kmsg_wanted = false; /* tried once */
                /* Best effort: no /dev/kmsg (containers, tests) just means stderr only. */
                kmsg_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        }
        if (kmsg_fd >= 0) {
                char line[2100];
                int n = snprintf(line, sizeof line, "<%d>lastgood: %s\n", level, msg);
                if (n > 0)
                        (void) !write(kmsg_fd, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
        }
        errno = e;
        return -e;
}
