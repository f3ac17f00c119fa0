/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bootflow.h"

#include <inttypes.h>

#include "cmdline.h"
#include "ladder.h"
#include "log.h"
#include "state-store.h"
#include "record.h"
#include "safe-request.h"

bool bootflow_safe_request_ok(Context *ctx, const Policy *p, const char *source, const char *value,
                              const char **ret_why) {
        if (streq(source, "cmdline") && !p->safe_mode.allow_cmdline) {
                *ret_why = "safe_mode.allow_cmdline is false";
                return false;
        }
        if (!p->safe_mode.require_code) {
                if (parse_bool(value) > 0 || *value == '\0') {
                        *ret_why = "request accepted";
                        return true;
                }
                *ret_why = "value is not 1/yes/true";
                return false;
        }
        return safe_request_verify_code(ctx->root_fd, p, value, ret_why);
}

static void record_safe_request(int root_fd, const char *source, bool ok, const char *why) {
        char msg[300];
        snprintf(msg, sizeof msg, "safe-mode request from the %s %s: %s", source, ok ? "honoured" : "refused", why);
        record_event(root_fd, ok ? "safe-mode-requested" : "safe-mode-code-rejected", NULL, ok ? "safe-mode" : NULL,
                     msg, NULL);
}

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

        /* Safe-mode requests. A pending --next-boot request was made by root
         * on the running machine; command-line and ESP requests come from
         * whoever sits at the console and are checked against the policy. */
        bool safe = false;
        char safe_why[160] = "";
        if (st.safe_mode_requested > 0) {
                st.safe_mode_requested--;
                safe = true;
                snprintf(safe_why, sizeof safe_why, "requested with safe-mode --next-boot");
        }
        _cleanup_free_ char *cmd_value = NULL;
        r = cmdline_get(ctx->cmdline, "lastgood.safemode", &cmd_value);
        if (r > 0) {
                const char *why;
                if (bootflow_safe_request_ok(ctx, p, "cmdline", cmd_value, &why)) {
                        safe = true;
                        snprintf(safe_why, sizeof safe_why, "lastgood.safemode on the kernel command line");
                } else
                        log_warning("Ignoring lastgood.safemode= on the kernel command line: %s; booting normally.",
                                    why);
                record_safe_request(ctx->root_fd, "kernel command line", safe, why);
        }
        /* The ESP is probed (and possibly mounted) only after a boot that
         * never confirmed — the machine a user drops a request file on is
         * one that won't boot — so the healthy path never pays for it. */
        if (!safe && (st.in_boot || corrupt || ctx->esp_dir)) {
                bool esp_ok = false;
                const char *why = NULL;
                r = safe_request_take_esp(ctx, p, &esp_ok, &why);
                if (r > 0) {
                        if (esp_ok) {
                                safe = true;
                                snprintf(safe_why, sizeof safe_why, "request file on the EFI system partition");
                        } else
                                log_warning("Ignoring the safe-mode request on the ESP: %s; booting normally.", why);
                        record_safe_request(ctx->root_fd, "ESP request file", esp_ok, why);
                } else if (r < 0)
                        log_debug_errno(r, "No usable ESP request: %m");
        }

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
                r = safe_mode_enter(ctx, p, safe_why);
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
