// SPDX-License-Identifier: GPL-2.0
/*
 * crashme — not a sensor: a user's program that crashes the kernel (sysrq
 * 'c') from its own process context, so the crash record says `Comm:
 * crashme` with RIP in core sysrq code (scenario `bystander`).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
        int fd = open("/proc/sysrq-trigger", O_WRONLY);
        if (fd < 0 || write(fd, "c", 1) != 1) {
                perror("crashme: /proc/sysrq-trigger");
                return 1;
        }
        return 1;
}
