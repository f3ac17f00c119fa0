// SPDX-License-Identifier: GPL-2.0
/*
 * fakesensord — a stand-in for a user-space (eBPF-style) EDR sensor daemon,
 * for lastgood's VM tests (issue 10, scenario `daemon`). It has no kernel
 * module: when it fails, the kernel's crash record names no module, only
 * the crashing task, `Comm: fakesensord`, with RIP in core kernel code —
 * as CrowdStrike Falcon's user-mode sensor did on RHEL 9.4 (`Comm:
 * falcon-sensor-b`, RIP in core BPF code).
 *
 * At start it reads its content file /etc/fakesensord/rules.bin. Content
 * whose header is not "FAKESENSORD-RULES 1" takes the bug's path: the
 * daemon crashes the kernel from its own process context (sysrq 'c', as
 * a bad program loaded into the kernel would). Good content: it says its
 * version, forks (the unit is Type=forking: the parent returns once the
 * content is loaded) and the child stays up.
 *
 * Static, no dependencies: the guest's root is busybox.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define CONTENT "/etc/fakesensord/rules.bin"
#define MAGIC "FAKESENSORD-RULES 1\n"

static void crash_kernel(void) {
        int fd = open("/proc/sysrq-trigger", O_WRONLY);
        if (fd >= 0) {
                (void) write(fd, "c", 1);
                close(fd);
        }
        /* Not reached on a kernel with sysrq: the panic happens in write(). */
        fprintf(stderr, "fakesensord: could not crash the kernel\n");
}

int main(void) {
        static char buf[64 * 1024];
        ssize_t n = 0;
        int fd = open(CONTENT, O_RDONLY);
        if (fd < 0) {
                printf("fakesensord: no content, running with no rules\n");
        } else {
                n = read(fd, buf, sizeof buf - 1);
                close(fd);
                if (n < 0)
                        n = 0;
                buf[n] = '\0';
                if ((size_t) n < strlen(MAGIC) || memcmp(buf, MAGIC, strlen(MAGIC)) != 0) {
                        printf("fakesensord: loading malformed content into the kernel\n");
                        fflush(stdout);
                        crash_kernel();
                        return 1;
                }
                const char *v = strstr(buf, "\nversion ");
                char version[64] = "unknown";
                if (v)
                        sscanf(v + 9, "%63s", version);
                printf("fakesensord: content version %s loaded\n", version);
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return 1;
        if (pid > 0)
                return 0;
        setsid();
        for (;;)
                pause();
}
