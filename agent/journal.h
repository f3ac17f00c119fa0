/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Forwarding the event log to the systemd journal. Events recorded in the
 * initramfs happen before journald runs; `lastgood log forward` (run by
 * lastgood-journal.service once journald is up) sends every event not sent
 * yet, with structured fields — MESSAGE_ID per event type, LASTGOOD_TYPE,
 * COMPONENT, ACTION, LASTGOOD_SEQ, the evidence as LASTGOOD_EVIDENCE_<KEY> —
 * over journald's native protocol (no libsystemd needed). A cursor file
 * (/var/lib/lastgood/journal-cursor, the last seq sent) makes it idempotent.
 */

#include "lib/paths.h"
#include "lib/util.h"

#define JOURNAL_SOCKET SYSTEMD_JOURNAL_SOCKET
#define JOURNAL_CURSOR LASTGOOD_JOURNAL_CURSOR_FILE

/* Returns the number of events sent (>= 0), or negative errno. */
int journal_forward(int root_fd, const char *socket_path) _wur_;
