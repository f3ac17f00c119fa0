/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood policy check [--kernel KVER] [FILE]
 *
 * Validates the policy and prints the effective (merged) policy on stdout,
 * every problem on stderr as "FILE:LINE:COL: message". Exit 2 when there is
 * any problem, 0 otherwise. Without FILE: the installed policy beneath
 * --root (or the --policy file); FILE is a path on the host, read alone,
 * with the same trust rules (root-owned, not group/other-writable).
 *
 * Then warns, without failing, about entries that name nothing on this
 * machine beneath --root (agent/policy-lint.h): "FILE:LINE:COL: warning: …"
 * on stderr, and "warnings" in the JSON.
 */
#include "agent/context.h"
#include "agent/policy-lint.h"
#include "lib/log.h"

int verb_policy(Context *ctx, int argc, char **argv) {
        if (!streq(argv[1], "check"))
                return context_usage_error(ctx, "unknown sub-verb '%s'", argv[1]);
        const char *file = NULL, *kernel = NULL;
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--kernel")) {
                        if (++i >= argc)
                                return context_usage_error(ctx, "--kernel needs a kernel release");
                        kernel = argv[i];
                } else if (strncmp(argv[i], "--kernel=", strlen("--kernel=")) == 0)
                        kernel = argv[i] + strlen("--kernel=");
                else if (argv[i][0] == '-' && argv[i][1])
                        return context_usage_error(ctx, "unknown option '%s'", argv[i]);
                else if (file)
                        return context_usage_error(ctx, "more than one FILE");
                else
                        file = argv[i];
        }
        if (kernel && !*kernel)
                return context_usage_error(ctx, "--kernel needs a kernel release");
        if (!file)
                file = ctx->policy_path;

        /* Loaded here rather than through context_policy(): its errors are
         * this verb's output, printed as they are, not as warnings. */
        Policy p;
        int r = policy_load(ctx->root_fd, file, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to load the policy: %m");

        /* Positions of the entries: the files as loaded (host paths for FILE). */
        PolicyOrigins origins = {};
        r = policy_origins_load(file ? -1 : ctx->root_fd, &p, &origins);
        if (r >= 0)
                r = policy_lint(ctx->root_fd, &p, &origins, kernel);
        policy_origins_done(&origins);
        if (r < 0) {
                policy_done(&p);
                return log_error_errno(r, "Failed to check the policy against this machine: %m");
        }

        for (char **e = p.errors; e && *e; e++)
                fprintf(stderr, "%s\n", *e);
        for (char **w = p.warnings; w && *w; w++)
                fprintf(stderr, "%s\n", *w);
        policy_dump(&p, stdout, ctx->json);
        fflush(stdout);

        r = strv_length(p.errors) > 0 ? EXIT_USAGE : EXIT_OK;
        policy_done(&p);
        return r;
}
