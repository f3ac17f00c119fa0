/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Paired timing: runs a measured sequence A and its reference B N times
 * each, in pairs, the order alternating (AB, BA, AB…), so that both sides
 * of a pair see the same neighbours on this shared machine. Prints the
 * median of the per-pair ratios A/B with its spread (10th–90th percentile),
 * and beside it what the neighbours do not change much: CPU time (user +
 * sys, from wait4) and peak RSS.
 *
 *   pair N WARMUP A-SEQ :: B-SEQ
 *
 * A sequence is commands separated by ';' (fork+exec, no shell, output to
 * /dev/null). A command whose first word is '+' is preparation: it runs,
 * but neither its time nor its CPU counts (removing an output directory,
 * making a boot fail). In arguments and in LASTGOOD_BOOT_ID, @ITER@ is
 * replaced by a number unique to the run, so that each `boot` is a new boot.
 *
 * Output, one line of key=value: ratio (median of A/B), ratio_p10,
 * ratio_p90, a_ms, b_ms (median wall), a_cpu_ms, b_cpu_ms (median CPU),
 * cpu_ratio (median of the per-pair CPU ratios), a_rss_kib, b_rss_kib (the
 * largest of any child), pairs.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct Run {
        double wall_us, cpu_us;
        long rss_kib;
} Run;

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double quantile(double *v, int n, double q) {
        qsort(v, (size_t) n, sizeof *v, cmp_double);
        int i = (int) (q * (n - 1) + 0.5);
        return v[i];
}

static void subst(char *out, size_t size, const char *in, long iter) {
        const char *at = strstr(in, "@ITER@");
        if (!at) {
                snprintf(out, size, "%s", in);
                return;
        }
        snprintf(out, size, "%.*s%ld%s", (int) (at - in), in, iter, at + 6);
}

/* Runs one command; adds its wall and CPU time to *run unless it is a
 * preparation. Returns -1 when it could not run or failed. */
static int run_one(char **argv, int argc, long iter, Run *run) {
        bool prep = argc > 0 && strcmp(argv[0], "+") == 0;
        if (prep) {
                argv++;
                argc--;
        }
        if (argc <= 0 || argc > 63)
                return -1;
        static char buf[64][4096];
        char *args[64];
        for (int k = 0; k < argc; k++) {
                subst(buf[k], sizeof buf[k], argv[k], iter);
                args[k] = buf[k];
        }
        args[argc] = NULL;
        char id[64];
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012ld", iter);
        double t0 = now_us();
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                setenv("LASTGOOD_BOOT_ID", id, 1);
                int devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, 1);
                dup2(devnull, 2);
                execv(args[0], args);
                _exit(127);
        }
        int st;
        struct rusage ru;
        if (wait4(pid, &st, 0, &ru) < 0)
                return -1;
        double t1 = now_us();
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 127) {
                fprintf(stderr, "pair: '%s' did not run or was killed\n", args[0]);
                return -1;
        }
        if (ru.ru_maxrss > run->rss_kib)
                run->rss_kib = ru.ru_maxrss;
        if (prep)
                return 0;
        run->wall_us += t1 - t0;
        run->cpu_us += (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                       (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        return 0;
}

static int run_seq(char **argv, int argc, long iter, Run *run) {
        *run = (Run) {};
        for (int i = 0; i < argc;) {
                int j = i;
                while (j < argc && strcmp(argv[j], ";") != 0)
                        j++;
                if (run_one(argv + i, j - i, iter, run) < 0)
                        return -1;
                i = j + 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 6) {
                fprintf(stderr, "usage: pair N WARMUP A-SEQ :: B-SEQ\n");
                return 2;
        }
        int n = atoi(argv[1]), w = atoi(argv[2]);
        char **a = argv + 3;
        int na = 0;
        while (3 + na < argc && strcmp(a[na], "::") != 0)
                na++;
        if (3 + na >= argc || n < 1) {
                fprintf(stderr, "pair: no '::' between the two sequences\n");
                return 2;
        }
        char **b = a + na + 1;
        int nb = argc - 3 - na - 1;
        double *ratio = calloc((size_t) n, sizeof(double)), *cpu_ratio = calloc((size_t) n, sizeof(double));
        double *aw = calloc((size_t) n, sizeof(double)), *bw = calloc((size_t) n, sizeof(double));
        double *ac = calloc((size_t) n, sizeof(double)), *bc = calloc((size_t) n, sizeof(double));
        if (!ratio || !cpu_ratio || !aw || !bw || !ac || !bc)
                return 1;
        long rss_a = 0, rss_b = 0, iter = 1000000;
        Run ra, rb;
        for (int i = 0; i < w; i++)
                if (run_seq(a, na, iter++, &ra) < 0 || run_seq(b, nb, iter++, &rb) < 0)
                        return 1;
        for (int i = 0; i < n; i++) {
                bool a_first = i % 2 == 0;
                if (a_first ? run_seq(a, na, i * 2, &ra) < 0 || run_seq(b, nb, i * 2 + 1, &rb) < 0
                            : run_seq(b, nb, i * 2 + 1, &rb) < 0 || run_seq(a, na, i * 2, &ra) < 0)
                        return 1;
                ratio[i] = ra.wall_us / (rb.wall_us > 0 ? rb.wall_us : 1);
                cpu_ratio[i] = ra.cpu_us / (rb.cpu_us > 0 ? rb.cpu_us : 1);
                aw[i] = ra.wall_us;
                bw[i] = rb.wall_us;
                ac[i] = ra.cpu_us;
                bc[i] = rb.cpu_us;
                if (ra.rss_kib > rss_a)
                        rss_a = ra.rss_kib;
                if (rb.rss_kib > rss_b)
                        rss_b = rb.rss_kib;
        }
        printf("ratio=%.3f ratio_p10=%.3f ratio_p90=%.3f a_ms=%.3f b_ms=%.3f a_cpu_ms=%.3f b_cpu_ms=%.3f "
               "cpu_ratio=%.3f a_rss_kib=%ld b_rss_kib=%ld pairs=%d\n",
               quantile(ratio, n, 0.5), quantile(ratio, n, 0.1), quantile(ratio, n, 0.9),
               quantile(aw, n, 0.5) / 1e3, quantile(bw, n, 0.5) / 1e3, quantile(ac, n, 0.5) / 1e3,
               quantile(bc, n, 0.5) / 1e3, quantile(cpu_ratio, n, 0.5), rss_a, rss_b, n);
        return 0;
}
