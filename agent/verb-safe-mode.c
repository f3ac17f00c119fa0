/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `lastgood safe-mode --next-boot [--boots N] | --cancel` — a one-shot
 * request, made by root on the running machine (directly or through the
 * fleet's remote shell), honoured by the next `boot`.
 */

#include <getopt.h>

#include "agent/audit.h"
#include "agent/context.h"
#include "agent/record.h"
#include "agent/safe-request.h"
#include "lib/json.h"
#include "lib/log.h"
#include "agent/state-store.h"

int verb_safe_mode(Context *ctx, int argc, char **argv) {
        enum { ARG_NEXT = 0x100, ARG_BOOTS, ARG_CANCEL };
        static const struct option options[] = {
                { "next-boot", no_argument, NULL, ARG_NEXT },
                { "boots", required_argument, NULL, ARG_BOOTS },
                { "cancel", no_argument, NULL, ARG_CANCEL },
                {},
        };
        bool next = false, cancel = false;
        uint32_t boots = 1;
        int c;
        opterr = 0; /* the message is ours, followed by the synopsis */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case ARG_NEXT:
                        next = true;
                        break;
                case ARG_CANCEL:
                        cancel = true;
                        break;
                case ARG_BOOTS:
                        if (parse_u32_range(optarg, 1, SAFE_REQUEST_BOOTS_MAX, &boots) < 0)
                                return context_usage_error(ctx, "--boots takes a number from 1 to %u, not '%s'",
                                                           SAFE_REQUEST_BOOTS_MAX, optarg);
                        break;
                default:
                        return context_usage_error(ctx, "unknown option, or an option without its value: '%s'",
                                                   argv[optind - 1]);
                }
        }
        if (next == cancel || optind != argc)
                return context_usage_error(ctx, "give exactly one of --next-boot [--boots N] or --cancel");

        Policy *p;
        _cleanup_(state_stores_done) StateStores stores = {};
        BootState st;
        int r = context_state(ctx, &p, &stores, &st);
        if (r < 0)
                return r;
        /* N boots are N safe boots, counted down by each boot (agent/safe-request.h).
         * Root on the running system replaces whatever was pending. */
        st.safe_mode_requested = cancel ? 0 : boots;
        r = state_stores_write(&stores, &st);
        for (char **e = stores.problems; e && *e; e++)
                log_warning("%s", *e);
        if (r < 0)
                return log_error_errno(r, "Failed to record the safe-mode request: %m");

        /* Who asked: the safe boot it causes names them (agent/bootflow.c). */
        Event e = { .type = cancel ? EVENT_SAFE_MODE_CANCELLED : EVENT_SAFE_MODE_SCHEDULED,
                    .action = cancel ? "cancel" : "next-boot" };
        const char *actor = audit_event_add(&e);
        char msg[300];
        if (cancel)
                snprintf(msg, sizeof msg, "safe-mode request cancelled by %s", actor);
        else {
                snprintf(msg, sizeof msg, "safe mode requested for the next %u boot%s by %s", boots,
                         boots == 1 ? "" : "s", actor);
                event_addf(&e, "boots", "%u", boots);
        }
        e.message = msg;
        record_append(ctx->root_fd, &e);

        if (ctx->json) {
                JsonWriter w;
                json_init(&w, stdout);
                json_object_begin(&w);
                json_kv_bool(&w, "cancelled", cancel);
                json_kv_u64(&w, "safe_boots_requested", cancel ? 0 : boots);
                json_object_end(&w);
                putchar('\n');
        } else if (cancel)
                printf("Safe-mode request cancelled.\n");
        else
                printf("The next %u boot%s will run in safe mode (security components with safe_mode: disable "
                       "are kept from starting).\n",
                       boots, boots == 1 ? "" : "s");
        return EXIT_OK;
}
