/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "safe-request.h"

#include "esp.h"
#include "helpdesk.h"
#include "log.h"
#include "rootfs.h"
#include "safemode.h"

bool safe_request_verify_code(int root_fd, const Policy *p, const char *code, const char **ret_why) {
        bool ok = false;
        /* The counter is burnt durably before a code is accepted: that
         * needs a writable root, even in the initramfs. */
        int r = root_ensure_writable(root_fd);
        if (r < 0)
                log_warning_errno(r, "Failed to make the root writable for the helpdesk counter: %m");
        r = helpdesk_verify_code(root_fd, p, code, &ok);
        if (r == -ENOENT) {
                *ret_why = "no helpdesk secret is enrolled (lastgood helpdesk enroll)";
                return false;
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to check the helpdesk code: %m");
                *ret_why = "the helpdesk code could not be checked";
                return false;
        }
        *ret_why = ok ? "valid one-time helpdesk code" : "wrong or already used helpdesk code";
        return ok;
}

int safe_request_take_esp(Context *ctx, const Policy *p, bool *ret_ok, const char **ret_why) {
        EspRequest req = {};
        int r = esp_take_request(ctx->esp_dir, NULL, &req);
        if (r == -ENOENT || r == -ENODEV)
                return 0;
        if (r == -EBADMSG || r == -EFBIG) {
                *ret_ok = false;
                *ret_why = "the request file is malformed (removed)";
                return 1;
        }
        if (r < 0)
                return r;
        if (r == 0)
                return 0;
        if (p->safe_mode.require_code) {
                if (!req.code[0]) {
                        *ret_ok = false;
                        *ret_why = "safe_mode.require_code is set and the request carries no helpdesk code";
                        return 1;
                }
                *ret_ok = safe_request_verify_code(ctx->root_fd, p, req.code, ret_why);
                return 1;
        }
        *ret_ok = true;
        *ret_why = "request accepted";
        return 1;
}

int safe_mode_enter(Context *ctx, const Policy *p, const char *why) {
        return safemode_apply_runtime(ctx->runtime_fd, p, why);
}
