/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/context.h"

#include <stdarg.h>

#include "lib/log.h"
#include "agent/state-store.h"

int context_policy(Context *ctx, Policy **ret) {
        if (!ctx->policy_loaded) {
                int r = policy_load(ctx->root_fd, ctx->policy_path, &ctx->policy);
                if (r < 0)
                        return r;
                ctx->policy_loaded = true;
                for (char **e = ctx->policy.errors; e && *e; e++)
                        log_warning("policy: %s", *e);
                if (ctx->policy.fallback == POLICY_FALLBACK_LAST_GOOD)
                        log_warning("policy: invalid, using the last-known-good copy %s instead.",
                                    LASTGOOD_POLICY_LAST_GOOD_FILE);
                else if (ctx->policy.fallback == POLICY_FALLBACK_STRICT)
                        log_warning("policy: invalid and no last-known-good copy: codes required, "
                                    "nothing quarantined or disabled in safe mode.");
        }
        *ret = &ctx->policy;
        return 0;
}

int context_state(Context *ctx, Policy **ret_policy, StateStores *stores, BootState *st) {
        Policy *p;
        int r = context_policy(ctx, &p);
        if (r < 0)
                return r;
        r = state_stores_open(ctx->root_fd, p, false, stores);
        if (r < 0)
                return log_error_errno(r, "Failed to open the state stores: %m");
        *st = (BootState) {};
        r = state_stores_read(stores, st);
        if (r == -EBADMSG) {
                log_warning("The state record is corrupt; the next write makes a fresh one.");
                r = 0;
        } else if (r < 0) {
                log_warning_errno(r, "Failed to read the state record, starting a fresh one: %m");
                r = 0;
        }
        *ret_policy = p;
        return r;
}

int context_usage_error(Context *ctx, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        log_error("lastgood %s: %s.", ctx->verb ?: "", msg ?: fmt);
        ctx->usage_error = true;
        return EXIT_USAGE;
}
