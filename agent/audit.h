/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Who asked: the actor an administrative event names (safe-mode
 * --next-boot/--cancel, quarantine release, snapshot import/restore,
 * helpdesk enroll). On the running system, in this order:
 *
 *   1. SUDO_USER, when set ("alice via sudo (uid 0)"): sudo sets it to the
 *      invoking user; whoever can fake it is root already;
 *   2. the login uid (/proc/self/loginuid, 4294967295 = unset), which the
 *      kernel keeps across su and sudo, mapped to a name with getpwuid
 *      ("alice (login uid 1000, uid 0)");
 *   3. the effective uid ("root (uid 0)", "uid 4711" without a name).
 *
 * Names are looked up in the running system's user database, never beneath
 * --root. Text from the environment is cut and stripped to a safe set of
 * characters. The boot path names its own actors (agent/safe-request.h).
 */

#include <stdint.h>
#include <sys/types.h>

#include "agent/eventlog.h"

#define AUDIT_ACTOR_MAX 128
#define AUDIT_LOGINUID_UNSET UINT32_C(4294967295)

typedef struct AuditInput {
        const char *sudo_user; /* $SUDO_USER, or NULL */
        uint32_t loginuid;     /* AUDIT_LOGINUID_UNSET when unset or unreadable */
        uid_t uid;             /* effective uid */
} AuditInput;

/* The words for IN, in BUF (always terminated). */
void audit_actor_format(const AuditInput *in, char *buf, size_t size);
/* The actor of this process (environment, /proc/self/loginuid, geteuid()). */
void audit_actor_detect(char buf[static AUDIT_ACTOR_MAX]);
/* Adds "actor" (audit_actor_detect()) and "actor_uid" to E, both copied into
 * E's storage, and returns the actor as stored (for E's message), or "?"
 * when E had no room left. */
const char *audit_event_add(Event *e);

/*
 * The boot path's view of a pending `safe-mode --next-boot`: the record
 * holds only a count (its layout is fixed), so who asked is the actor of the
 * newest safe-mode-scheduled event in the log beneath ROOT_FD, provided no
 * safe-mode-cancelled event came after it. Writes "safe-mode --next-boot by
 * ACTOR" to BUF; 0 on success, -ENOENT when the log names nobody (BUF then
 * says "safe-mode --next-boot (requester not in the event log)").
 */
int audit_next_boot_actor(int root_fd, char *buf, size_t size);
