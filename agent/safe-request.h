/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpdesk safe-mode requests that arrive at boot from outside the running
 * system — the kernel command line and the EFI system partition — and the
 * checks they pass before they are honoured: safe_mode.allow_cmdline, and
 * with safe_mode.require_code a one-time helpdesk code (agent/helpdesk.c).
 */

#include "context.h"

/* Checks a one-time helpdesk code. False (with *ret_why) for a wrong, reused
 * or uncheckable code; a refused code boots normally. */
bool safe_request_verify_code(int root_fd, const Policy *p, const char *code, const char **ret_why);

/* Takes (reads and removes) EFI/lastgood/safemode from --esp or the ESP found
 * with libblkid. Returns 1 when a request was found (*ret_ok says whether it
 * is honoured, *ret_why why not), 0 when there is none, <0 on error. */
int safe_request_take_esp(Context *ctx, const Policy *p, bool *ret_ok, const char **ret_why) _wur_;

/* Enters safe mode for this boot (runtime-only configuration under /run). */
int safe_mode_enter(Context *ctx, const Policy *p, const char *why) _wur_;
