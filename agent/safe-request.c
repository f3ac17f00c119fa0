/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/safe-request.h"

#include <inttypes.h>

#include "agent/audit.h"
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

/* What a request's checks concluded. */
typedef struct Verdict {
        bool ok;
        const char *why;  /* static */
        bool coded;       /* a helpdesk code was accepted… */
        uint64_t counter; /* …this one (its HOTP counter) */
} Verdict;

/* Checks a one-time helpdesk code: refused when wrong, reused or uncheckable
 * (a refused code boots normally). */
static void verify_code(int root_fd, const Policy *p, const char *code, Verdict *v) {
        bool ok = false;
        uint64_t counter = 0;
        /* The counter is burnt durably before a code is accepted: that
         * needs a writable root, even in the initramfs. */
        int r = root_ensure_writable(root_fd);
        if (r < 0)
                log_warning_errno(r, "Failed to make the root writable for the helpdesk counter: %m");
        r = helpdesk_verify_code_counter(root_fd, p, code, &ok, &counter);
        if (r == -ENOENT) {
                *v = (Verdict) { .why = "no helpdesk secret is enrolled (lastgood helpdesk enroll)" };
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to check the helpdesk code: %m");
                *v = (Verdict) { .why = "the helpdesk code could not be checked" };
                return;
        }
        *v = (Verdict) {
                .ok = ok,
                .why = ok ? "valid one-time helpdesk code" : "wrong or already used helpdesk code",
                .coded = ok,
                .counter = counter,
        };
}

/* The gates of a console request: allow_cmdline for the command line, then
 * require_code for both. VALUE is the request's value ("1", "yes", "", a
 * helpdesk code); an ESP request without require_code is honoured by the
 * file's presence, whatever it holds. */
static void check_request(int root_fd, const Policy *p, SafeSource source, const char *value, Verdict *v) {
        if (source == SAFE_SOURCE_CMDLINE && !p->safe_mode.allow_cmdline) {
                *v = (Verdict) { .why = "safe_mode.allow_cmdline is false" };
                return;
        }
        if (!p->safe_mode.require_code) {
                if (source == SAFE_SOURCE_ESP || parse_bool(value) > 0 || *value == '\0')
                        *v = (Verdict) { .ok = true, .why = "request accepted" };
                else
                        *v = (Verdict) { .why = "value is not 1/yes/true" };
                return;
        }
        if (!*value) {
                *v = (Verdict) { .why = "safe_mode.require_code is set and the request carries no helpdesk code" };
                return;
        }
        verify_code(root_fd, p, value, v);
}

/* Takes (reads and removes) EFI/lastgood/safemode. Returns 1 when a request
 * was found (*v says whether it is honoured, *ret_boots for how many boots
 * it asks, 0 when it does not say), 0 when there is none, <0 on error. */
static int take_esp(const SafeRequestInput *in, Verdict *v, uint32_t *ret_boots, char where[static 160]) {
        EspRequest req = {};
        int r = esp_take_request(in->esp_dir, in->root_fd, NULL, &req);
        if (r == -ENOENT || r == -ENODEV)
                return 0;
        if (r == -EBADMSG || r == -EFBIG) {
                *v = (Verdict) { .why = "the request file is malformed (removed)" };
                *ret_boots = 0;
                return 1;
        }
        if (r <= 0)
                return r;
        check_request(in->root_fd, in->policy, SAFE_SOURCE_ESP, req.code, v);
        *ret_boots = req.boots;
        snprintf(where, 160, "%s", req.where);
        return 1;
}

static void format_actor(SafeSource source, const Verdict *v, char *buf, size_t size) {
        const char *who = source == SAFE_SOURCE_ESP ? "ESP request" : "console";
        if (v->coded)
                snprintf(buf, size, "%s%shelpdesk code #%" PRIu64, who,
                         source == SAFE_SOURCE_ESP ? ", " : ": ", v->counter);
        else if (source == SAFE_SOURCE_CMDLINE)
                snprintf(buf, size, "console: kernel command line");
        else
                snprintf(buf, size, "%s", who);
}

/* The event of a console request, honoured or refused, naming its actor.
 * DETAIL is NULL or what the request asked beyond this boot. */
static void record_request(int root_fd, SafeSource source, const Verdict *v, const char *actor,
                           const char *detail) {
        char msg[300];
        snprintf(msg, sizeof msg, "safe-mode request from the %s %s: %s%s%s (%s)", safe_source_to_string(source),
                 v->ok ? "honoured" : "refused", v->why, detail ? "; " : "", detail ?: "", actor);
        char *const evidence[] = { (char *) "actor", (char *) actor, NULL };
        record_event(root_fd, v->ok ? EVENT_SAFE_MODE_REQUESTED : EVENT_SAFE_MODE_CODE_REJECTED, NULL,
                     v->ok ? "safe-mode" : NULL, msg, evidence);
}

static void decide_safe(SafeDecision *d, SafeSource source, const char *actor, const char *why) {
        if (d->safe)
                return; /* the first request that made this boot safe names it */
        d->safe = true;
        d->source = source;
        snprintf(d->actor, sizeof d->actor, "%s", actor);
        snprintf(d->why, sizeof d->why, "%s", why);
}

/* A pending --next-boot request was made by root on the running machine.
 * A count above the bound was not written by lastgood: cut it, so no record
 * can keep every boot safe. */
static void decide_pending(const SafeRequestInput *in, SafeDecision *d) {
        uint32_t pending = in->pending;
        if (pending > SAFE_REQUEST_BOOTS_MAX) {
                log_warning("%" PRIu32 " pending safe-mode boots recorded, more than the %u any request may ask; "
                            "keeping %u.",
                            pending, SAFE_REQUEST_BOOTS_MAX, SAFE_REQUEST_BOOTS_MAX);
                pending = SAFE_REQUEST_BOOTS_MAX;
        }
        if (pending > 0) {
                d->pending_after = pending - 1;
                decide_safe(d, SAFE_SOURCE_NEXT_BOOT, "safe-mode --next-boot",
                            "requested with safe-mode --next-boot");
        }
}

/* Command-line and ESP requests come from whoever sits at the console and
 * are checked against the policy. */
static void decide_cmdline(const SafeRequestInput *in, SafeDecision *d) {
        _cleanup_free_ char *value = NULL;
        if (cmdline_get(in->cmdline, "lastgood.safemode", &value) <= 0)
                return;
        Verdict v;
        char actor[sizeof d->actor];
        check_request(in->root_fd, in->policy, SAFE_SOURCE_CMDLINE, value, &v);
        format_actor(SAFE_SOURCE_CMDLINE, &v, actor, sizeof actor);
        if (v.ok)
                decide_safe(d, SAFE_SOURCE_CMDLINE, actor, "lastgood.safemode on the kernel command line");
        else
                log_warning("Ignoring lastgood.safemode= on the kernel command line: %s%s.", v.why,
                            d->safe ? "" : "; booting normally");
        record_request(in->root_fd, SAFE_SOURCE_CMDLINE, &v, actor, NULL);
}

static void decide_esp(const SafeRequestInput *in, SafeDecision *d) {
        Verdict v;
        uint32_t boots = 0;
        char where[160] = "";
        int r = take_esp(in, &v, &boots, where);
        if (r < 0)
                log_debug_errno(r, "No usable ESP request: %m");
        if (r <= 0)
                return;
        char actor[sizeof d->actor];
        format_actor(SAFE_SOURCE_ESP, &v, actor, sizeof actor);
        if (!v.ok) {
                log_warning("Ignoring the safe-mode request on the ESP: %s%s.", v.why,
                            d->safe ? "" : "; booting normally");
                record_request(in->root_fd, SAFE_SOURCE_ESP, &v, actor, NULL);
                return;
        }

        /* This boot is the first of the N asked for; requests overlap (the
         * longer one wins) and never reach past the bound. */
        uint32_t asked = boots ?: 1, n = asked < SAFE_REQUEST_BOOTS_MAX ? asked : SAFE_REQUEST_BOOTS_MAX;
        if (n - 1 > d->pending_after)
                d->pending_after = n - 1;
        char detail[80], why[sizeof d->why];
        if (asked != n)
                snprintf(detail, sizeof detail, "safe mode for %" PRIu32 " boots (boots=%" PRIu32 " capped at %u)",
                         n, asked, SAFE_REQUEST_BOOTS_MAX);
        else
                snprintf(detail, sizeof detail, "safe mode for %" PRIu32 " boot%s", n, n == 1 ? "" : "s");
        snprintf(why, sizeof why, "request file on the EFI system partition, %s", detail);
        if (!d->safe)
                snprintf(d->esp, sizeof d->esp, "%s", where);
        decide_safe(d, SAFE_SOURCE_ESP, actor, why);
        record_request(in->root_fd, SAFE_SOURCE_ESP, &v, actor, detail);
}

void safe_request_decide(const SafeRequestInput *in, SafeDecision *ret) {
        SafeDecision d = {};
        decide_pending(in, &d);
        decide_cmdline(in, &d);
        /* Taken even when another request already made this boot safe: a
         * file left behind would fire at a later boot nobody asked for. */
        if (in->look_at_esp)
                decide_esp(in, &d);
        *ret = d;
}

bool safe_request_remove_stale(int root_fd, const char *esp_dir) {
        EspRequest req = {};
        int r = esp_take_request(esp_dir, root_fd, NULL, &req);
        if (r == 0 || r == -ENOENT || r == -ENODEV)
                return false;
        if (r < 0 && r != -EBADMSG && r != -EFBIG) {
                /* Debug: on machines without a usable ESP this would be said at every confirm. */
                log_debug_errno(r, "Failed to look for a stale safe-mode request on the ESP, ignoring: %m");
                return false;
        }
        const char *what = r < 0 ? "a malformed safe-mode request" : "a safe-mode request";
        char msg[300];
        snprintf(msg, sizeof msg,
                 "%s was left on the EFI system partition (%s) across a confirmed boot: removed, not honoured",
                 what, ESP_REQUEST_PATH);
        log_notice("%s.", msg);
        Event e = { .type = EVENT_ESP_REQUEST_STALE, .action = "removed", .message = msg };
        event_add(&e, "file", ESP_REQUEST_PATH);
        event_add(&e, "esp", r >= 0 && req.where[0] ? req.where : esp_dir);
        event_add(&e, "carried_code", r >= 0 ? (req.code[0] ? "true" : "false") : NULL);
        record_append(root_fd, &e);
        return true;
}

void safe_request_record_boot(int root_fd, const SafeDecision *d) {
        if (!d->safe)
                return;
        int r = root_ensure_writable(root_fd);
        if (r < 0)
                log_warning_errno(r, "Failed to make the root writable to record the safe-mode boot: %m");
        char actor[AUDIT_ACTOR_MAX + 64];
        if (d->source == SAFE_SOURCE_NEXT_BOOT)
                (void) audit_next_boot_actor(root_fd, actor, sizeof actor);
        else
                snprintf(actor, sizeof actor, "%s", d->actor);
        char msg[sizeof d->why + sizeof actor + 64];
        snprintf(msg, sizeof msg, "this boot runs in safe mode: %s (asked by %s)", d->why, actor);
        Event e = { .type = EVENT_SAFE_MODE_BOOT, .action = "safe-mode", .message = msg };
        event_add(&e, "actor", actor);
        event_add(&e, "source", safe_source_to_string(d->source));
        event_addf(&e, "safe_boots_left", "%" PRIu32, d->pending_after);
        if (d->source == SAFE_SOURCE_ESP) {
                event_add(&e, "file", ESP_REQUEST_PATH);
                event_add(&e, "esp", d->esp[0] ? d->esp : NULL);
        }
        record_append(root_fd, &e);
}
