/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/safe-request.h"

#include "agent/cmdline.h"
#include "agent/esp.h"
#include "agent/eventlog.h"
#include "agent/helpdesk.h"
#include "agent/record.h"
#include "lib/log.h"
#include "lib/rootfs.h"

static const char *const safe_source_table[_SAFE_SOURCE_MAX] = {
        [SAFE_SOURCE_NONE] = "none",
        [SAFE_SOURCE_NEXT_BOOT] = "safe-mode --next-boot",
        [SAFE_SOURCE_CMDLINE] = "kernel command line",
        [SAFE_SOURCE_ESP] = "ESP request file",
};

const char *safe_source_to_string(SafeSource s) {
        return s >= 0 && s < _SAFE_SOURCE_MAX ? safe_source_table[s] : NULL;
}

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

bool safe_request_value_ok(int root_fd, const Policy *p, SafeSource source, const char *value,
                           const char **ret_why) {
        if (source == SAFE_SOURCE_CMDLINE && !p->safe_mode.allow_cmdline) {
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
        if (!*value) {
                *ret_why = "safe_mode.require_code is set and the request carries no helpdesk code";
                return false;
        }
        return safe_request_verify_code(root_fd, p, value, ret_why);
}

/* Takes (reads and removes) EFI/lastgood/safemode. Returns 1 when a request
 * was found (*ret_ok says whether it is honoured, *ret_why why not), 0 when
 * there is none, <0 on error. */
static int take_esp(const SafeRequestInput *in, bool *ret_ok, uint32_t *ret_boots, const char **ret_why) {
        EspRequest req = {};
        int r = esp_take_request(in->esp_dir, NULL, &req);
        if (r == -ENOENT || r == -ENODEV)
                return 0;
        if (r == -EBADMSG || r == -EFBIG) {
                *ret_ok = false;
                *ret_why = "the request file is malformed (removed)";
                return 1;
        }
        if (r <= 0)
                return r;
        *ret_boots = req.boots;
        if (!in->policy->safe_mode.require_code) {
                /* The file's presence is the request; a code in it is not needed. */
                *ret_ok = true;
                *ret_why = "request accepted";
                return 1;
        }
        *ret_ok = safe_request_value_ok(in->root_fd, in->policy, SAFE_SOURCE_ESP, req.code, ret_why);
        return 1;
}

static void record_request(int root_fd, SafeSource source, bool ok, const char *why) {
        char msg[300];
        snprintf(msg, sizeof msg, "safe-mode request from the %s %s: %s", safe_source_to_string(source),
                 ok ? "honoured" : "refused", why);
        record_event(root_fd, ok ? "safe-mode-requested" : "safe-mode-code-rejected", NULL, ok ? "safe-mode" : NULL,
                     msg, NULL);
}

void safe_request_decide(const SafeRequestInput *in, SafeDecision *ret) {
        const Policy *p = in->policy;
        SafeDecision d = { .pending_after = in->pending };

        /* A pending --next-boot request was made by root on the running
         * machine; command-line and ESP requests come from whoever sits at
         * the console and are checked against the policy. */
        if (in->pending > 0) {
                d.pending_after = in->pending - 1;
                d.safe = true;
                d.source = SAFE_SOURCE_NEXT_BOOT;
                snprintf(d.why, sizeof d.why, "requested with safe-mode --next-boot");
        }

        _cleanup_free_ char *value = NULL;
        int r = cmdline_get(in->cmdline, "lastgood.safemode", &value);
        if (r > 0) {
                const char *why;
                bool ok = safe_request_value_ok(in->root_fd, p, SAFE_SOURCE_CMDLINE, value, &why);
                if (ok) {
                        d.safe = true;
                        d.source = SAFE_SOURCE_CMDLINE;
                        snprintf(d.why, sizeof d.why, "lastgood.safemode on the kernel command line");
                } else
                        log_warning("Ignoring lastgood.safemode= on the kernel command line: %s; booting normally.",
                                    why);
                record_request(in->root_fd, SAFE_SOURCE_CMDLINE, ok, why);
        }

        if (!d.safe && in->look_at_esp) {
                bool ok = false;
                uint32_t boots = 0;
                const char *why = NULL;
                r = take_esp(in, &ok, &boots, &why);
                if (r > 0) {
                        if (ok) {
                                d.safe = true;
                                d.source = SAFE_SOURCE_ESP;
                                snprintf(d.why, sizeof d.why, "request file on the EFI system partition");
                        } else
                                log_warning("Ignoring the safe-mode request on the ESP: %s; booting normally.", why);
                        record_request(in->root_fd, SAFE_SOURCE_ESP, ok, why);
                } else if (r < 0)
                        log_debug_errno(r, "No usable ESP request: %m");
        }
        *ret = d;
}
