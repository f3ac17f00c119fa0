/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Quarantine: persistent, reversible disabling of one component, everything
 * beneath root_fd.
 *
 *   modules  "blacklist X" + "install X /bin/false" (a kernel_modules glob:
 *            for each module installed under /lib/modules that it matches,
 *            recovery/module-expand.h; the registry keeps those names) in
 *            /etc/modprobe.d/#lastgood-quarantine.conf: one file for all
 *            quarantined components, regenerated from the registry, one
 *            block per component. A file that was there before is kept in
 *            the registry (bytes, mode, owner, mtime or link target), its
 *            lines stay active inside the generated file, and it comes back
 *            byte for byte when the last block goes.
 *   units    masked: /etc/systemd/system/UNIT -> /dev/null. Whatever was at
 *            that path before (an admin's override file or a symlink) is
 *            kept in the registry and put back by release.
 *   content  each content path is moved to
 *            /var/lib/lastgood/quarantine/COMPONENT/INCIDENT/content/ENCODED
 *            (ENCODED: the path without its leading '/', '%' -> "%25",
 *            '/' -> "%2F"). renameat() when on the same filesystem. On EXDEV
 *            (a separate /var is common) the tree is copied (regular files,
 *            directories, symlinks; mode, owner and times kept; fsynced),
 *            renamed into place, and only then is the original removed.
 *            Hard links inside the tree are not preserved by the copy, nor
 *            are extended attributes; device nodes, FIFOs and sockets are
 *            refused (-EOPNOTSUPP, the apply is rolled back).
 *            What the component's `exclude` names stays where it is (its
 *            live state): a directory holding excluded entries stays too,
 *            and its other entries are moved one by one into a directory
 *            of its mode and owner in the stash; release moves them back
 *            into it (or, if it is gone, the whole directory). The registry
 *            keeps the exclude entries of the apply, so that a release or
 *            a resumed apply follows them whatever the policy says later.
 *
 * The registry, /var/lib/lastgood/quarantine/registry, is a text file
 * written atomically (deterministic temp name, fsync, rename, fsync dir).
 * Power cuts: an apply first writes its whole plan (with what existed
 * before) to the registry in state "applying", then acts; a release first
 * marks the entry "releasing". Each step is idempotent and its progress can
 * be read off the files themselves (a mask is in place or not; a move uses
 * fixed temp/doomed names so a half-copied or half-removed tree is
 * recognisable), so the registry records the intent per entry and the phase
 * of each change is derived by inspection rather than with one registry
 * write per change. quarantine_recover_interrupted() rolls an interrupted
 * apply or release forward (an apply that cannot be completed is rolled
 * back), so the registry always agrees with the files.
 *
 * All operations that change anything take an exclusive flock on the
 * quarantine directory.
 *
 * Code: this file's functions are the apply/release state machine
 * (quarantine.c); the registry's model, format and priors are
 * quarantine-registry.{c,h}; names and paths are checked with lib/names.h,
 * the paths are lib/paths.h's; every durable file and tree step is
 * lib/fileio.h.
 */

#include <stdint.h>

#include "config/policy.h"
#include "lib/util.h"

/* A unit file or modprobe.d file larger than this is refused (its bytes go
 * into the registry). */
#define QUARANTINE_MAX_PRIOR_SIZE (1024u * 1024u)
#define QUARANTINE_MAX_REASON 1024u

typedef enum QuarantineState {
        QUARANTINE_STATE_APPLYING,  /* intent recorded, not (yet) complete */
        QUARANTINE_STATE_ACTIVE,    /* fully applied */
        QUARANTINE_STATE_RELEASING, /* release started, not (yet) complete */
        _QUARANTINE_STATE_MAX,
} QuarantineState;

typedef struct QuarantineResult {
        unsigned n_modules;        /* modules blacklisted */
        unsigned n_units;          /* units masked */
        unsigned n_content;        /* content paths moved away */
        unsigned n_content_absent; /* content paths that did not exist */
        bool copied;               /* at least one move fell back to copy (EXDEV) */
        /* kernel_modules globs that matched no module under /lib/modules
         * (recovery/module-expand.h), space-separated (cut when long); "" none */
        char unmatched_globs[256];
        bool modules_capped; /* a glob matched more than MODULE_EXPAND_MAX modules */
        /* units globs that matched no installed unit file (recovery/unit-expand.h), the same way */
        char unmatched_unit_globs[256];
        bool units_capped; /* a glob matched more than UNIT_EXPAND_MAX units */
} QuarantineResult;

typedef struct QuarantineEntry {
        char *component;
        uint32_t incident;
        uint64_t since_usec; /* CLOCK_REALTIME of the apply */
        QuarantineState state;
        char *reason;
        char **kernel_modules;
        char **units;
        char **content;       /* live paths that were moved away */
        char **content_stash; /* where each is kept (absolute, beneath the root) */
} QuarantineEntry;

/*
 * Quarantines C. Returns 0 and fills *ret (if non-NULL) on success;
 *   -EPERM   c->quarantine is QUARANTINE_NEVER (anti-tamper: never disabled);
 *   -EINVAL  a name or path in C is unsafe (name_is_component(),
 *            name_is_module_pattern(), name_is_unit(), name_is_content_path()), or
 *            the reason is too long;
 *   -EEXIST  C is already quarantined (or its stash directory exists);
 *   -EBUSY   a unit or content path of C is held by another quarantined
 *            component;
 *   -EISDIR / -EFBIG  a unit path is a directory / too large to record;
 *   other -errno from the filesystem: the apply was rolled back (or, if even
 *            that failed, is left "applying" for quarantine_recover_interrupted()).
 */
int quarantine_apply(int root_fd, const Component *c, uint32_t incident, const char *reason,
                     QuarantineResult *ret) _wur_;

/*
 * Undoes exactly what quarantine_apply() did for COMPONENT and drops its
 * registry entry. Finishes interrupted operations first.
 *   -ENOENT  COMPONENT is not quarantined;
 *   -EINVAL  COMPONENT is not a valid component name;
 *   -EEXIST  something now exists where a content path would be moved back,
 *            or a masked unit path was replaced by something other than the
 *            /dev/null link: nothing was changed (move it away and retry).
 */
int quarantine_release(int root_fd, const char *component) _wur_;

/* Reads the registry. An absent registry is an empty list. -EBADMSG when the
 * registry is corrupt. */
int quarantine_list(int root_fd, QuarantineEntry **ret, size_t *ret_n) _wur_;
void quarantine_list_free(QuarantineEntry *l, size_t n);

/*
 * 1 when COMPONENT has a registry entry (in any state), 0 when it has none
 * (or there is no registry). < 0 when that cannot be known: -EBADMSG for a
 * corrupt registry, other -errno when it cannot be read. Callers must treat
 * an error as "quarantined, state unknown", never as "not quarantined": a
 * damaged registry must not make a quarantined component look live (to be
 * snapshotted as known-good, or blamed again).
 */
int quarantine_is_active(int root_fd, const char *component) _wur_;
/* quarantine_is_active() for many: the components with an entry (an empty
 * list without a registry), the registry read once; errors as there. */
int quarantine_active_names(int root_fd, char ***ret) _wur_;

/*
 * Completes or rolls back applies/releases a power cut interrupted. Called at
 * every boot start: when there is no quarantine directory or nothing is
 * pending it only opens and reads the registry. Returns the number of entries
 * it finished (>= 0) or -errno.
 */
int quarantine_recover_interrupted(int root_fd) _wur_;

const char *quarantine_state_to_string(QuarantineState s);
