/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/bootflow.h"

#include <inttypes.h>

#include "recovery/ladder.h"
#include "lib/log.h"
#include "agent/state-store.h"
#include "agent/record.h"
#include "agent/safe-request.h"
#include "recovery/safemode.h"

/* Records an internal error in the state (shown by status), and logs it. */
static void note_internal_error(BootState *st, int r, const char *what) {
        log_error_errno(r, "%s: %m (continuing the boot)", what);
        st->internal_errors++;
        char buf[sizeof st->last_error];
        snprintf(buf, sizeof buf, "%s: %s", what, strerror(r < 0 ? -r : r));
        state_set_str(st->last_error, buf);
}

int bootflow_run(Context *ctx, BootReport *ret) {
        Policy *p;
        int r = context_policy(ctx, &p);
        if (r < 0)
                return r;

        char boot_id[37];
        read_boot_id(boot_id);
        uint64_t now = now_realtime_usec();

        ladder_recover_interrupted(ctx->root_fd, p);

        _cleanup_(state_stores_done) StateStores stores = {};
        r = state_stores_open(ctx->root_fd, p, /* allow_remount= */ true, &stores);
        if (r < 0)
                return r;

        BootState st = {};
        bool corrupt = false;
        r = state_stores_read(&stores, &st);
        if (r == -EBADMSG) {
                /* Conservative restart: assume the previous boot failed. */
                corrupt = true;
                st = (BootState) { .failed_boots = 0, .in_boot = 1 };
                state_set_str(st.boot_id, "corrupt-record");
                log_warning("State record corrupt: counting restarts from one unconfirmed boot.");
        } else if (r < 0)
                log_warning_errno(r, "Failed to read the state record, starting a new one: %m");

        /* A second `boot` in the same boot (initramfs script, then the
         * systemd unit): report the first run's decision, write nothing. */
        if (r > 0 && st.in_boot && boot_id[0] && streq(st.boot_id, boot_id)) {
                snprintf(ret->mode, sizeof ret->mode, "%s", boot_mode_to_string(st.boot_mode));
                snprintf(ret->summary, sizeof ret->summary, "already counted in this boot");
                ret->failed_boots = st.failed_boots;
                ret->threshold = p->boot.max_failed_boots;
                ret->total_boots = st.total_boots;
                for (char **e = stores.problems; e && *e; e++)
                        log_warning("%s", *e);
                return 0;
        }

        if (strv_length(p->errors) > 0)
                note_internal_error(&st, -EINVAL, "policy errors, using defaults where invalid");

        SafeRequestInput sin = {
                .root_fd = ctx->root_fd,
                .policy = p,
                .cmdline = ctx->cmdline,
                .esp_dir = ctx->esp_dir,
                .pending = st.safe_mode_requested,
                .look_at_esp = st.in_boot || corrupt || ctx->esp_dir,
        };
        SafeDecision sd;
        safe_request_decide(&sin, &sd);
        st.safe_mode_requested = sd.pending_after;
        bool safe = sd.safe;
        const char *safe_why = sd.why;

        bool previous_failed = st.in_boot != 0;
        LadderInput in = {
                .root_fd = ctx->root_fd,
                .runtime_fd = ctx->runtime_fd,
                .policy = p,
                .pstore_dir = ctx->pstore_dir,
                .boot_id = boot_id,
                .now_usec = now,
                .previous_failed = previous_failed || corrupt,
                .safe_mode_requested = safe,
        };
        LadderOutcome out = {};
        r = ladder_boot(&in, &stores, &st, &out);
        if (r < 0)
                note_internal_error(&st, r, "recovery ladder failed");

        BootMode mode = safe ? BOOT_MODE_SAFE : out.mode;
        if (safe) {
                r = safemode_apply_runtime(ctx->runtime_fd, p, safe_why);
                if (r < 0)
                        note_internal_error(&st, r, "could not enter safe mode");
        }

        st.total_boots++;
        st.in_boot = 1;
        st.boot_mode = mode;
        st.last_boot_usec = now;
        state_set_str(st.boot_id, boot_id);
        r = state_stores_write(&stores, &st);
        for (char **e = stores.problems; e && *e; e++)
                log_warning("%s", *e);
        if (r < 0)
                log_error_errno(r, "Failed to record this boot in any state store: %m");

        snprintf(ret->mode, sizeof ret->mode, "%s", boot_mode_to_string(mode));
        snprintf(ret->step, sizeof ret->step, "%s", safe ? "" : out.step);
        if (safe)
                snprintf(ret->summary, sizeof ret->summary, "safe mode: %s", safe_why);
        else
                snprintf(ret->summary, sizeof ret->summary, "%s", out.summary);
        ret->failed_boots = st.failed_boots;
        ret->threshold = out.threshold ?: p->boot.max_failed_boots;
        ret->total_boots = st.total_boots;

        record_report(ctx, p, &stores, &st);
        return 0;
}
