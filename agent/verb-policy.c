/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood policy check [FILE]
 *
 * Validates the policy and prints the effective (merged) policy on stdout,
 * every problem on stderr as "FILE:LINE:COL: message". Exit 2 when there is
 * any problem, 0 otherwise. Without FILE: the installed policy beneath
 * --root (or the --policy file); FILE is a path on the host, read alone,
 * with the same trust rules (root-owned, not group/other-writable).
 */
#include "agent/context.h"
#include "lib/log.h"

int verb_policy(Context *ctx, int argc, char **argv) {
        if (!streq(argv[1], "check")) {
                log_error("lastgood policy: unknown sub-verb '%s' (expected: check [FILE]).", argv[1]);
                return EXIT_USAGE;
        }
        const char *file = argc > 2 ? argv[2] : ctx->policy_path;

        /* Loaded here rather than through context_policy(): its errors are
         * this verb's output, printed as they are, not as warnings. */
        Policy p;
        int r = policy_load(ctx->root_fd, file, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to load the policy: %m");

        for (char **e = p.errors; e && *e; e++)
                fprintf(stderr, "%s\n", *e);
        policy_dump(&p, stdout, ctx->json);
        fflush(stdout);

        r = strv_length(p.errors) > 0 ? EXIT_USAGE : EXIT_OK;
        policy_done(&p);
        return r;
}
