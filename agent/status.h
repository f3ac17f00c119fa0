/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What `status` shows and the metrics textfile exports, collected once. */

#include "config/policy.h"
#include "agent/state.h"
#include "agent/state-store.h"

typedef struct ComponentStatus {
        const char *name;
        bool quarantined;
        /* The quarantine registry could not be read (corrupt, unreadable):
         * quarantined is true then, as callers must assume. */
        bool quarantine_unknown;
        char *newest_snapshot; /* id, or NULL */
        uint64_t newest_snapshot_usec;
        bool changed_known, changed;
        uint64_t n_changed; /* entries changed, added or removed since the newest snapshot */
} ComponentStatus;

typedef struct StatusData {
        const Policy *policy;
        BootState st;
        const char *backend; /* "efivar", "file", "none" */
        char *backend_location;
        bool state_ok;
        char *state_problem;
        bool safe_mode_active;
        bool record_found; /* a state record was read: `boot` (or a verb) has written one */
        bool confirmed;    /* this boot is counted and confirmed (never on a fresh install) */
        uint32_t threshold;
        ComponentStatus *components;
        size_t n_components;
} StatusData;

/* Reads the state (read-only) and the components' snapshot and quarantine
 * state. With check_content, compares live content with the snapshots
 * (cheap stat comparison). STORES may be NULL (opened read-only here).
 * -EACCES when the caller may not read the state (the key or a record is
 * root's only): no made-up values. */
int status_collect(int root_fd, const Policy *p, bool check_content, StatusData *ret) _wur_;
/* Same, from a state already in hand (after boot/confirm). */
int status_collect_from(int root_fd, const Policy *p, const StateStores *stores, const BootState *st,
                        bool check_content, StatusData *ret) _wur_;
void status_data_done(StatusData *s);
