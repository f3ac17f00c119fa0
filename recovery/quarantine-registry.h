/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The quarantine registry, LASTGOOD_QUARANTINE_REGISTRY: what is
 * quarantined, in which phase (QuarantineState), and what was at each path
 * before the apply changed it (a "prior"), so that release can put it back
 * byte for byte. The model, its text format, reading and writing it, and
 * capturing/restoring priors; the apply/release state machine that drives it
 * is quarantine.c. Callers hold the quarantine directory's lock for writes.
 *
 * Format (one record per line, fields separated by one space; text fields
 * percent-encoded so that they never hold a space or a newline, "-" for the
 * empty string; file bytes in hex):
 *
 *   lastgood-quarantine-registry 1
 *   modprobe PRIOR                    the modprobe.d file is ours; what was there
 *   entry COMPONENT STATE INCIDENT SINCE_USEC REASON
 *   module NAME
 *   unit NAME PRIOR
 *   content PATH
 *   exclude PATTERN                   the component's exclude entries, as applied
 *   end
 *
 *   PRIOR := none | symlink TARGET | file MODE UID GID MTIME_SEC MTIME_NSEC HEX
 *
 * Everything read back is checked again (names, paths, sizes): a registry
 * that does not parse is corrupt (-EBADMSG), never "nothing quarantined".
 */

#include <sys/types.h>
#include <time.h>

#include "recovery/quarantine.h"

typedef enum QuarantinePriorKind {
        QUARANTINE_PRIOR_NONE,
        QUARANTINE_PRIOR_FILE,
        QUARANTINE_PRIOR_SYMLINK,
} QuarantinePriorKind;

/* What was at a path before the quarantine changed it. */
typedef struct QuarantinePrior {
        QuarantinePriorKind kind;
        mode_t mode;
        uid_t uid;
        gid_t gid;
        struct timespec mtime;
        char *data; /* file bytes, or the link target (NUL-terminated either way) */
        size_t size;
} QuarantinePrior;

typedef struct QuarantineUnitChange {
        char *name;
        QuarantinePrior prior;
} QuarantineUnitChange;

typedef struct QuarantineRegistryEntry {
        char *component;
        uint32_t incident;
        uint64_t since_usec;
        QuarantineState state;
        char *reason;
        char **modules;
        QuarantineUnitChange *units;
        size_t n_units;
        char **content; /* live paths that were moved away */
        char **exclude; /* what stayed in place below them (the component's exclude, at the apply):
                         * release and a resumed apply follow it, not today's policy */
} QuarantineRegistryEntry;

typedef struct QuarantineRegistry {
        bool modprobe_owned; /* the modprobe.d file is ours; its prior is below */
        QuarantinePrior modprobe_prior;
        QuarantineRegistryEntry *entries;
        size_t n_entries;
} QuarantineRegistry;

void quarantine_prior_done(QuarantinePrior *p);
/* Records what is at NAME: nothing, a symlink, or a regular file up to
 * QUARANTINE_MAX_PRIOR_SIZE (-EFBIG above); -EISDIR for a directory,
 * -EOPNOTSUPP for other types. */
int quarantine_prior_capture(int dir_fd, const char *name, QuarantinePrior *ret) _wur_;
/* Puts it back durably (lib/fileio.h): removes NAME for PRIOR_NONE. */
int quarantine_prior_restore(int dir_fd, const char *name, const QuarantinePrior *p) _wur_;

void quarantine_registry_entry_done(QuarantineRegistryEntry *e);
void quarantine_registry_done(QuarantineRegistry *r);
/* Drops entry IDX (freed). */
void quarantine_registry_remove(QuarantineRegistry *r, size_t idx);
/* The index of COMPONENT's entry, or -1. */
ssize_t quarantine_registry_find(const QuarantineRegistry *r, const char *component);

/* The registry as text / from text (BUF is modified). -EBADMSG when BUF is
 * not a valid registry. */
int quarantine_registry_format(const QuarantineRegistry *reg, char **ret, size_t *ret_size) _wur_;
int quarantine_registry_parse(char *buf, QuarantineRegistry *ret) _wur_;

/* Reads the registry in the quarantine directory QDIR_FD: an absent file is
 * an empty registry; -EBADMSG when corrupt, other -errno when unreadable. */
int quarantine_registry_read(int qdir_fd, QuarantineRegistry *ret) _wur_;
/* Writes REG atomically (fixed temp name: the caller holds the lock), or
 * removes the file when REG is empty so that the boot-time check is a single
 * failed open. Fault points: those of write_atomic_at_full() or of
 * unlink_durable_at(). */
int quarantine_registry_write(int qdir_fd, const QuarantineRegistry *reg) _wur_;

/* -EINVAL for a name that is no state. */
int quarantine_state_from_string(const char *s, QuarantineState *ret) _wur_;

/* Where content of COMPONENT's incident is kept:
 * LASTGOOD_QUARANTINE_DIR/COMPONENT/INCIDENT/content. Each content path is one
 * file name there, pct_filename_encode(path, FILEIO_NAME_MAX):
 * "/opt/v/defs" -> "opt%2Fv%2Fdefs". */
int quarantine_stash_dir_path(const char *component, uint32_t incident, char **ret) _wur_;
