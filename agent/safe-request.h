/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Every safe-mode request a boot can carry, and every check it passes
 * before it is honoured, in one place:
 *   - a pending `safe-mode --next-boot` (made by root on the running system:
 *     no code needed; counted in the state record);
 *   - lastgood.safemode= on the kernel command line (safe_mode.allow_cmdline);
 *   - EFI/lastgood/safemode on the EFI system partition (agent/esp.c);
 * requests from the console (the last two) need a one-time helpdesk code
 * when safe_mode.require_code is set (agent/helpdesk.c).
 *
 * This module decides and leaves an event for each console request; the
 * boot flow owns the state record and applies the decision to it.
 *
 * One count for every source: a request for N boots is N safe boots, this
 * one included; BootState.safe_mode_requested holds how many are still to
 * come and each boot that starts with it > 0 is safe and takes one off.
 * Requests overlap rather than add up (the longer one wins), and whatever
 * asks — including a record that says more — at most SAFE_REQUEST_BOOTS_MAX
 * boots are safe in a row without a new request.
 */

#include "agent/context.h"

/* `safe-mode --next-boot --boots N` refuses more; an ESP request's boots=N
 * (the file may say up to ESP_BOOTS_MAX) is cut to it. */
#define SAFE_REQUEST_BOOTS_MAX 10u

typedef enum SafeSource {
        SAFE_SOURCE_NONE,
        SAFE_SOURCE_NEXT_BOOT, /* safe-mode --next-boot */
        SAFE_SOURCE_CMDLINE,   /* lastgood.safemode= */
        SAFE_SOURCE_ESP,       /* EFI/lastgood/safemode */
        _SAFE_SOURCE_MAX,
} SafeSource;

const char *safe_source_to_string(SafeSource s);

typedef struct SafeRequestInput {
        int root_fd;
        const Policy *policy;
        const char *cmdline; /* the kernel command line; NULL reads /proc/cmdline */
        const char *esp_dir; /* a mounted ESP (--esp); NULL finds it with libblkid */
        uint32_t pending;    /* BootState.safe_mode_requested */
        /* Probe the ESP: only after a boot that never confirmed (the machine a
         * user drops a request file on is one that won't boot), or when
         * --esp names one, so the healthy path never pays for it. */
        bool look_at_esp;
} SafeRequestInput;

typedef struct SafeDecision {
        bool safe;              /* this boot is a safe-mode boot */
        SafeSource source;      /* which request made it so */
        uint32_t pending_after; /* what BootState.safe_mode_requested becomes (< SAFE_REQUEST_BOOTS_MAX) */
        char why[160];          /* the honoured request, in words */
        char actor[64];         /* who asked, as the event names it: "safe-mode --next-boot",
                                 * "console: helpdesk code #N", "console: kernel command line",
                                 * "ESP request", "ESP request, helpdesk code #N"; "" when !safe */
        char esp[160];          /* SAFE_SOURCE_ESP: the ESP the request file was on (EspRequest.where) */
} SafeDecision;

/* Decides whether this boot is a safe-mode boot. Never fails: a request that
 * cannot be checked is refused (logged, and an event says why). Each request
 * from the console (command line, ESP) leaves a safe-mode-requested or
 * safe-mode-code-rejected event naming its actor; the ESP request file is
 * removed whenever the ESP is looked at, honoured or not. */
void safe_request_decide(const SafeRequestInput *in, SafeDecision *ret);

/*
 * A request file still on the booted ESP when a boot confirms is stale: a
 * request is for a machine that does not boot, and one that sat on the ESP
 * through a healthy boot (dropped there before a clean shutdown, or after
 * the boot that would have read it) would otherwise fire at some later
 * unconfirmed boot (a power cut) nobody asked it for. `confirm` calls this:
 * the file is removed unheeded (the same rules as at boot: only the booted
 * ESP, never a removable disk's) and an esp-request-stale event says so.
 * ESP_DIR as for SafeRequestInput. Never fails: a problem is logged.
 * Returns true when a file was removed.
 */
bool safe_request_remove_stale(int root_fd, const char *esp_dir);

/* The event of a boot that D made safe (safe-mode-boot), naming who asked:
 * D's actor, or for a pending --next-boot the requester the event log
 * names (audit_next_boot_actor()). Remounts the root read-write for it (a
 * safe boot is no healthy boot). Never fails. */
void safe_request_record_boot(int root_fd, const SafeDecision *d);
