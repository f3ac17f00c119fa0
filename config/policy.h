/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The admin's policy: /etc/lastgood/policy.yaml, then the drop-ins *.yaml of
 * /etc/lastgood/policy.d/ and /usr/lib/lastgood/policy.d/ (a package's), as
 * systemd's conf.d: one list sorted by file name (strcmp()), where a name in
 * /etc hides the same name in /usr/lib, and an /etc name that is a symlink
 * to /dev/null masks it (reads nothing). An empty file masks nothing: it is
 * an error, as a truncated write would be (see below). A drop-in that is a
 * symlink (`lastgood profile enable` makes them) is read only from a trusted
 * directory: its target, absolute or relative to policy.d without "..",
 * must be a regular file, not another symlink, in a directory as trusted as
 * policy.d itself. A later scalar overrides an earlier one; `components`
 * entries merge by `name`.
 *
 * Loading never fails as a whole: errors are collected as
 * "FILE:LINE:COL: message" strings in Policy.errors (1-based; problems with a
 * file as a whole, such as its owner or size, are reported at 1:1), and the
 * policy holds built-in defaults for whatever could not be read. At boot an
 * unusable policy means defaults, never a stopped boot.
 *
 * A file with any error contributes nothing (it is parsed into a scratch copy
 * that is merged only when clean), so a half-valid drop-in cannot half-apply.
 * `version:` is optional (it means 1) and must be 1 when present. An empty
 * file (or one holding only comments) is an error, "empty policy": an empty
 * policy.yaml is more likely a truncated write than an intent, and the admin
 * should hear about it. Lists other than `components` (health_checks, ladder,
 * a component's content/exclude/kernel_modules/processes/bpf_programs/units) are replaced as a whole by a
 * later file; `components` entries merge by `name`, a later entry overriding
 * only the keys it sets.
 */

#include <stdbool.h>
#include <stdint.h>

#include "lib/paths.h"
#include "lib/util.h"

#define POLICY_MAX_FILE_SIZE (256u * 1024u)
#define POLICY_MAX_DEPTH 64
#define POLICY_MAX_COMPONENTS 64
#define POLICY_MAX_LADDER 8
#define POLICY_MAX_ERRORS 100 /* per file; then "too many errors" and stop */
#define POLICY_MAX_HEALTH_CHECKS 32
#define POLICY_MAX_LIST 256    /* entries in any list of strings */
#define POLICY_MAX_DROPINS 128 /* files in policy.d */
#define POLICY_MAIN_FILE LASTGOOD_POLICY_FILE
#define POLICY_DROPIN_DIR LASTGOOD_POLICY_DROPIN_DIR
#define POLICY_VENDOR_DROPIN_DIR LASTGOOD_VENDOR_POLICY_DROPIN_DIR

typedef enum StateBackendKind {
        STATE_BACKEND_AUTO,
        STATE_BACKEND_EFIVAR,
        STATE_BACKEND_FILE,
} StateBackendKind;

typedef enum QuarantineMode {
        QUARANTINE_ALLOW,
        QUARANTINE_NEVER,
} QuarantineMode;

typedef enum ComponentSafeMode {
        COMPONENT_SAFE_MODE_DISABLE, /* kept from starting in safe mode (default) */
        COMPONENT_SAFE_MODE_KEEP,    /* runs even in safe mode */
} ComponentSafeMode;

typedef enum LadderStep {
        LADDER_RESTORE_CONTENT,
        LADDER_QUARANTINE,
        LADDER_SAFE_MODE,
        _LADDER_STEP_MAX,
} LadderStep;

/* What stands in for a policy that failed validation (issue 11, finding 5). */
typedef enum PolicyFallback {
        POLICY_FALLBACK_NONE,      /* the policy as written (valid, or read by name: `policy check FILE`) */
        POLICY_FALLBACK_LAST_GOOD, /* lastgood's copy of the last policy that validated */
        POLICY_FALLBACK_STRICT,    /* no usable copy: what did validate, security keys at their strictest */
        _POLICY_FALLBACK_MAX,
} PolicyFallback;

typedef struct HealthCheck {
        char *name;
        char **command; /* argv, NULL-terminated; command[0] is an absolute path */
        uint64_t timeout_usec;
} HealthCheck;

typedef struct Component {
        char *name;
        char **content;        /* absolute paths (dirs or files) of its updatable content */
        char **exclude;        /* paths or globs below content that change in normal operation
                                * (name_is_exclude_pattern(), name_exclude_is_under()): never
                                * snapshotted, restored, moved aside or counted as a change */
        char **kernel_modules; /* module names or globs, as in lsmod (dashes outside brackets
                                * normalised to '_'; name_is_module_pattern()) */
        char **processes;      /* globs of the crashing task's comm (name_is_process_pattern()) */
        char **bpf_programs;   /* globs of <name> in bpf_prog_<tag>_<name> (name_is_bpf_pattern()) */
        char **panic_messages; /* globs of the fatal "Kernel panic - not syncing: …" message
                                * (name_is_panic_pattern()) */
        char **units;          /* systemd unit names */
        QuarantineMode quarantine;
        ComponentSafeMode safe_mode;
        uint32_t max_failed_boots; /* 0 = use boot.max_failed_boots */
} Component;

typedef struct Policy {
        uint32_t version;

        struct {
                uint32_t max_failed_boots;   /* 1..50, default 3 */
                StateBackendKind state;      /* default auto */
                char *state_device;          /* NULL or "LABEL=…", "PARTLABEL=…", "UUID=…" */
                char *state_file;            /* default /var/lib/lastgood/state */
                bool count_unknown_failures; /* default true */
        } boot;

        struct {
                HealthCheck *health_checks;
                size_t n_health_checks;
        } confirm;

        Component *components;
        size_t n_components;

        struct {
                LadderStep ladder[POLICY_MAX_LADDER];
                size_t n_ladder;                     /* default restore-content, quarantine, safe-mode */
                uint32_t restore_threshold;          /* 1..50, default 1: restore is low impact */
                uint32_t attributed_crash_threshold; /* 1..50, default 1 */
                bool require_suspect;                /* default true */
                uint64_t suspect_window_usec;   /* default 72h; bounds nothing since v0.3 (see policy(5)) */
                bool safe_mode_without_suspect; /* default false */
        } recovery;

        struct {
                char *dir;                   /* default /var/lib/lastgood/snapshots */
                uint32_t keep;               /* 1..100, default 3 */
                uint64_t max_bytes;          /* default 1G; total per component */
                uint64_t max_entries;        /* per archive, default 1000000 */
                uint64_t max_expanded_bytes; /* per archive, default 8G */
        } snapshots;

        struct {
                bool allow_cmdline;   /* lastgood.safemode= honoured, default true */
                bool require_code;    /* cmdline/ESP requests need a helpdesk code, default true */
                uint32_t code_window; /* HOTP look-ahead, default 10 */
                char *secret_file;    /* default /var/lib/lastgood/helpdesk.secret */
        } safe_mode;

        struct {
                char *prometheus_textfile; /* default /var/lib/prometheus/node-exporter/lastgood.prom; "" disables */
        } report;

        /* Problems found while loading, "FILE:LINE:COL: message". */
        char **errors;
        /* Files that were applied (read without errors), in order. */
        char **files;
        /* Vendor drop-ins not read: hidden by the same name in policy.d
         * (overridden), or by a /dev/null link there (masked; a mask with
         * nothing to hide is listed as itself). Cleared on a fallback. */
        char **overridden;
        char **masked;
        /* What `policy check` found but that does not invalidate the policy
         * ("FILE:LINE:COL: warning: …"); policy_load() leaves it empty. */
        char **warnings;
        /* Set by policy_load() when errors made it fall back; the reason is
         * the first error. Like errors and files, not a setting. */
        PolicyFallback fallback;
        char *fallback_reason;
        /* Loaded from the compiled policy (config/policy-cache.h), not parsed. */
        bool from_cache;
        /* With from_cache: this policy as its last-known-good copy holds it
         * (policy_dump()), compiled with it, so that confirm compares it
         * with the copy without dumping. */
        char *last_good_text;
} Policy;

/* Fills P with the built-in defaults (what a missing policy means). */
int policy_init_defaults(Policy *p) _wur_;
void policy_done(Policy *p);

/*
 * Loads the policy for the system at root_fd. When explicit_path is set, only
 * that file (a path on the host, not beneath the root) is read. Otherwise
 * /etc/lastgood/policy.yaml and /etc/lastgood/policy.d/ *.yaml beneath root_fd.
 * A missing main file is not an error (defaults apply).
 *
 * Returns 0 and a usable policy in *ret in all cases but -ENOMEM; check
 * strv_length(ret->errors).
 */
int policy_load(int root_fd, const char *explicit_path, Policy *ret) _wur_;
/* A change of one drop-in of /etc/lastgood/policy.d to load as if it were
 * made: NAME ("x.yaml") a symlink to LINK_TARGET, or absent when LINK_TARGET
 * is NULL. `lastgood profile` validates with it before it changes anything. */
typedef struct PolicyDropinChange {
        const char *name;
        const char *link_target;
} PolicyDropinChange;
/* policy_load() beneath root_fd, with CHANGE (NULL: none) applied. */
int policy_load_with_change(int root_fd, const PolicyDropinChange *change, Policy *ret) _wur_;
/* Whether NAME is a drop-in's file name: *.yaml, not starting with '.', no '/'. */
bool policy_is_dropin_name(const char *name);
/*
 * Failing closed (root_fd loads only, not explicit_path): when any file had
 * an error, policy_load() replaces the whole merged policy with lastgood's
 * last-known-good copy (LASTGOOD_POLICY_LAST_GOOD_FILE: root-owned, 0600,
 * trusted like the policy files) and sets fallback LAST_GOOD. Without a
 * usable copy it keeps what did validate and sets every security-relevant
 * key to its strictest value (fallback STRICT): safe_mode.require_code true,
 * safe_mode.allow_cmdline false, and every component quarantine: never and
 * safe_mode: keep (the broken file may have been the one hardening them;
 * nothing may be switched off on a guess). errors keep what was wrong.
 */
/*
 * Stores P as the last-known-good copy when it validated (no errors, no
 * fallback), came from at least one file (built-in defaults are not stored)
 * and differs from the stored copy (so most calls write nothing).
 * Written durably (write_atomic_root(), mode 0600). `confirm` calls it: a
 * policy is "good" once a boot under it was healthy. Returns 1 written, 0
 * unchanged or not eligible, negative errno.
 */
int policy_save_last_good(int root_fd, const Policy *p) _wur_;
/* P as policy_dump() prints it (not JSON): the last-known-good copy's text. */
int policy_dump_text(const Policy *p, char **ret, size_t *ret_len) _wur_;
const char *policy_fallback_to_string(PolicyFallback f);

/*
 * Parses one YAML document from BUF on top of P (overriding scalars, merging
 * components by name). FILENAME is used in error messages. Errors are
 * appended to p->errors; returns the number of errors found (>= 0), or
 * -ENOMEM.
 */
int policy_parse_buffer(Policy *p, const char *filename, const char *buf, size_t len) _wur_;

/* Checks ownership/mode of the open FD (a file or the policy.d directory):
 * refuses it when not owned by root or writable by group/other, appending
 * "FILE:1:1: message" (naming owner and mode) to p->errors. Returns 0 if
 * trusted, -EPERM if refused, -errno if fstat fails. LASTGOOD_TRUST_UID (test
 * builds only) names one more trusted owner. */
int policy_check_trust(Policy *p, const char *filename, int fd) _wur_;

const Component *policy_find_component(const Policy *p, const char *name);
/* The threshold for a component (its override, else boot.max_failed_boots). */
uint32_t policy_component_threshold(const Policy *p, const Component *c);

const char *ladder_step_to_string(LadderStep s);
int ladder_step_from_string(const char *s); /* -EINVAL if unknown */
const char *state_backend_kind_to_string(StateBackendKind k);
const char *quarantine_mode_to_string(QuarantineMode m);
const char *component_safe_mode_to_string(ComponentSafeMode m);

/*
 * Where each entry of the components' string lists (content, exclude,
 * kernel_modules, processes, bpf_programs, units) of a loaded policy was
 * written, for messages about entries (`policy check`'s warnings). Those
 * lists are replaced as a whole by a later file, so an entry comes from the
 * last of P's files that sets the list.
 */
typedef struct PolicyOrigin {
        char *component;
        const char *key; /* the list's key (static) */
        size_t index;
        char *where; /* "FILE:LINE:COL" */
} PolicyOrigin;
typedef struct PolicyOrigins {
        PolicyOrigin *items;
        size_t n;
} PolicyOrigins;
/* Reads P's files again (beneath root_fd, or host paths when root_fd < 0, as
 * policy_load() read them; a file that cannot be read again adds nothing).
 * 0 or -ENOMEM. */
int policy_origins_load(int root_fd, const Policy *p, PolicyOrigins *ret) _wur_;
/* "FILE:LINE:COL" of entry INDEX of COMPONENT's list KEY, or NULL. */
const char *policy_origin(const PolicyOrigins *o, const char *component, const char *key, size_t index);
void policy_origins_done(PolicyOrigins *o);

/* Prints the effective policy as YAML (human) or JSON. */
void policy_dump(const Policy *p, FILE *f, bool json);
