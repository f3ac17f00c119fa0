/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where the boot state record lives, and the fall-through between places.
 *
 *   device  the policy's state_file on the partition named by state_device
 *           (found with libblkid, mounted at LASTGOOD_STATE_DEVICE_MOUNT when
 *           needed)
 *   efivar  UEFI variable LastGoodState-f36dce15-2f3f-49cd-bff5-775e57d91dcf
 *   root    the policy's state_file beneath the root
 *
 * Order: `auto` = device, efivar, root; `efivar` = efivar, device, root;
 * `file` = device (when configured), root, efivar. Reads consult every store
 * that has a record and take the valid one with the highest generation, so a
 * write that fell through to a later store is never shadowed by a stale copy
 * in an earlier one. Writes go to the first store that accepts them.
 *
 * Whatever sits at a file store's path is opened without following a link
 * and without blocking (a FIFO, socket or device never hangs `boot`); what
 * is not a regular file holding a valid record is a corrupt copy. A record
 * that authenticates (agent/state.h) beats one that does not whatever
 * their generations; a valid copy beats a corrupt one, which is then only
 * noted (saw_corrupt) so the caller counts the boot conservatively.
 */

#include "config/policy.h"
#include "agent/state.h"

#define STATE_EFI_GUID "f36dce15-2f3f-49cd-bff5-775e57d91dcf"
#define STATE_EFI_NAME "LastGoodState"

typedef enum StoreKind {
        STORE_DEVICE,
        STORE_EFIVAR,
        STORE_ROOT,
} StoreKind;

typedef struct StateStore {
        StoreKind kind;
        char *location;  /* for humans: "efivar:LastGoodState-…", "/var/lib/lastgood/state", … */
        int dir_fd;      /* file stores: the directory of the record (-1 until opened) */
        char *dir_path;  /* file stores: that directory, beneath root (root) or on the host (device) */
        char *name;      /* file stores: the record's file name */
        int setup_error; /* < 0 when the store is unusable (no efivarfs, device not found, …) */
        bool absent;     /* unusable as expected (`auto` on a machine without UEFI): no fall-through */
} StateStore;

typedef struct StateStores {
        StateStore stores[3];
        size_t n;
        int root_fd;
        int read_from;      /* index the current record came from, -1 if none */
        int written_to;     /* index of the last successful write, -1 if none */
        bool allow_remount; /* boot: may remount the root rw for the root store */
        char **problems;    /* what went wrong, for logs, status and events */
        uint8_t key[STATE_KEY_SIZE];
        int key_error;        /* 0: key loaded; -ENOENT: none yet (made on the first write); else refused */
        bool saw_corrupt;     /* a corrupt copy was found beside the record read */
        bool unauthenticated; /* the record read did not authenticate: state_distrust() was applied */
        int read_error;       /* first error reading a store (not none, not corrupt): -EACCES, not root */
} StateStores;

/* Sets up the stores the policy asks for; never fails but on OOM. Problems
 * (device not found, no efivarfs) are recorded in ret->problems. */
int state_stores_open(int root_fd, const Policy *p, bool allow_remount, StateStores *ret) _wur_;
void state_stores_done(StateStores *s);

/*
 * Reads the newest valid record, preferring an authenticated one. Returns 1
 * and fills *ret when one was found (distrusted when s->unauthenticated),
 * 0 when there is none anywhere, -EBADMSG when the only records found are
 * corrupt (each is described in s->problems).
 */
int state_stores_read(StateStores *s, BootState *ret) _wur_;

/* Bumps st->generation (never beyond STATE_GENERATION_MAX), signs the record
 * with the root's key (making the key first if there is none: fault point
 * "state-key"), and writes it to the first store that accepts it.
 * Failures of earlier stores are recorded in s->problems. Returns the index of
 * the store written, or the last error when none accepted it. */
int state_stores_write(StateStores *s, BootState *st) _wur_;

/* The store that holds the current record (for status), or NULL. */
const StateStore *state_stores_current(const StateStores *s);
const char *store_kind_to_string(StoreKind k);
