/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "context.h"
#include "log.h"

int context_policy(Context *ctx, Policy **ret) {
        if (!ctx->policy_loaded) {
                int r = policy_load(ctx->root_fd, ctx->policy_path, &ctx->policy);
                if (r < 0)
                        return r;
                ctx->policy_loaded = true;
                for (char **e = ctx->policy.errors; e && *e; e++)
                        log_warning("policy: %s", *e);
        }
        *ret = &ctx->policy;
        return 0;
}
