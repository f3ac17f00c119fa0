/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Times one "iteration" = a sequence of commands run one after another
 * (fork+exec, no shell), N times, after W warm-up iterations, and prints
 * median/min/max wall time in microseconds plus the peak RSS of any child.
 *
 *   runner N W CMD ARGS… [';' CMD ARGS…]…
 *
 * The token @ITER@ in an argument or in the environment variable
 * LASTGOOD_BOOT_ID is replaced by the iteration number, so that each `boot`
 * is a new boot.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int run_seq(char **argv, int argc, int iter) {
        char id[64];
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", iter);
        setenv("LASTGOOD_BOOT_ID", id, 1);
        int i = 0;
        while (i < argc) {
                int j = i;
                while (j < argc && strcmp(argv[j], ";") != 0)
                        j++;
                pid_t pid = fork();
                if (pid == 0) {
                        char *args[64];
                        int n = 0;
                        for (int k = i; k < j && n < 63; k++)
                                args[n++] = argv[k];
                        args[n] = NULL;
                        int devnull = open("/dev/null", 1);
                        dup2(devnull, 1);
                        dup2(devnull, 2);
                        execv(args[0], args);
                        _exit(127);
                }
                int st;
                waitpid(pid, &st, 0);
                if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
                        return -1;
                i = j + 1;
        }
        return 0;
}


int main(int argc, char **argv) {
        if (argc < 4)
                return 2;
        int n = atoi(argv[1]), w = atoi(argv[2]);
        uint64_t *t = calloc((size_t) n, sizeof *t);
        for (int i = 0; i < w; i++)
                if (run_seq(argv + 3, argc - 3, 1000000 + i) < 0) {
                        fprintf(stderr, "runner: command failed\n");
                        return 1;
                }
        for (int i = 0; i < n; i++) {
                uint64_t s = now_us();
                if (run_seq(argv + 3, argc - 3, i) < 0)
                        return 1;
                t[i] = now_us() - s;
        }
        qsort(t, (size_t) n, sizeof *t, cmp);
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        printf("%llu %llu %llu %ld\n", (unsigned long long) t[n / 2], (unsigned long long) t[0],
               (unsigned long long) t[n - 1], ru.ru_maxrss);
        return 0;
}
