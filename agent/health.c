/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/health.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

const char *health_result_to_string(HealthResult r) {
        switch (r) {
        case HEALTH_PASSED:
                return "passed";
        case HEALTH_FAILED:
                return "failed";
        case HEALTH_TIMED_OUT:
                return "timed out";
        case HEALTH_NOT_RUN:
                return "not run";
        }
        return "unknown";
}

static int pidfd_open_compat(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

int health_run(const HealthCheck *c, HealthOutcome *ret) {
        if (!c->command || !c->command[0])
                return -EINVAL;

        /* An exec failure is reported through a close-on-exec pipe, so that
         * "could not start" is told apart from "ran and failed". */
        int errpipe[2];
        if (pipe2(errpipe, O_CLOEXEC) < 0)
                return -errno;

        uint64_t start = now_monotonic_usec();
        pid_t pid = fork();
        if (pid < 0) {
                int e = -errno;
                close(errpipe[0]);
                close(errpipe[1]);
                return e;
        }
        if (pid == 0) {
                close(errpipe[0]);
                (void) setpgid(0, 0);
                int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (nul >= 0)
                        (void) dup2(nul, STDIN_FILENO);
                signal(SIGPIPE, SIG_DFL);
                execv(c->command[0], c->command);
                int e = errno;
                (void) !write(errpipe[1], &e, sizeof e);
                _exit(127);
        }
        close(errpipe[1]);
        (void) setpgid(pid, pid); /* race-free either way: whoever runs first */

        HealthOutcome o = { .result = HEALTH_FAILED };
        _cleanup_close_ int pfd = pidfd_open_compat(pid);
        bool timed_out = false;
        if (pfd >= 0) {
                struct pollfd p = { .fd = pfd, .events = POLLIN };
                for (;;) {
                        uint64_t elapsed = now_monotonic_usec() - start;
                        if (elapsed >= c->timeout_usec) {
                                timed_out = true;
                                break;
                        }
                        uint64_t left_ms = (c->timeout_usec - elapsed + 999) / 1000;
                        int k = poll(&p, 1, left_ms > INT32_MAX ? INT32_MAX : (int) left_ms);
                        if (k > 0)
                                break;
                        if (k < 0 && errno != EINTR)
                                break;
                }
        } else {
                /* No pidfd (old kernel): poll the child with WNOHANG. */
                for (;;) {
                        int st;
                        if (waitpid(pid, &st, WNOHANG) == pid) {
                                pfd = -1;
                                o.status = st;
                                goto reaped;
                        }
                        if (now_monotonic_usec() - start >= c->timeout_usec) {
                                timed_out = true;
                                break;
                        }
                        usleep(10000);
                }
        }
        if (timed_out) {
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL);
        }
        int st = 0;
        pid_t w;
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
                ;
        /* Not reapable (ECHILD): the check cannot be said to have passed;
         * -1 is neither an exit nor a signal status. */
        o.status = w < 0 ? -1 : st;
reaped:
        o.duration_usec = now_monotonic_usec() - start;
        int exec_errno = 0;
        ssize_t n = loop_read(errpipe[0], &exec_errno, sizeof exec_errno);
        close(errpipe[0]);
        if (timed_out)
                o.result = HEALTH_TIMED_OUT;
        else if (n == (ssize_t) sizeof exec_errno) {
                o.result = HEALTH_NOT_RUN;
                o.status = exec_errno;
        } else if (o.status == -1) {
                o.result = HEALTH_FAILED;
        } else if (WIFEXITED(o.status)) {
                o.status = WEXITSTATUS(o.status);
                o.result = o.status == 0 ? HEALTH_PASSED : HEALTH_FAILED;
        } else if (WIFSIGNALED(o.status)) {
                o.status = WTERMSIG(o.status);
                o.result = HEALTH_FAILED;
        }
        *ret = o;
        return 0;
}
