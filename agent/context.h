/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every verb gets: the global options and the lazily loaded policy.
 * Verbs return an exit status (0 ok, 1 failure, 2 usage or policy error);
 * a negative errno is turned into 1 by main().
 */

#ifndef LASTGOOD_VERSION
#define LASTGOOD_VERSION "0.1"
#endif

#include "config/policy.h"
#include "lib/util.h"

enum {
        EXIT_OK = 0,
        EXIT_FAIL = 1,
        EXIT_USAGE = 2,
};

typedef struct Context {
        const char *root_dir;     /* --root, default "/" */
        int root_fd;              /* O_PATH fd of root_dir */
        const char *runtime_root; /* --runtime-root: whose /run gets runtime config (default: root_dir) */
        int runtime_fd;
        const char *policy_path; /* --policy (a host path), or NULL */
        const char *pstore_dir;  /* --pstore, default /sys/fs/pstore (host path) */
        const char *cmdline;     /* --cmdline, or NULL for /proc/cmdline */
        const char *esp_dir;     /* --esp: a mounted ESP (tests), else found with libblkid */
        bool json;
        int verbose;
        const char *verb; /* the verb being run ("safe-mode"), set by main() */
        bool usage_error; /* set by context_usage_error(): main() then shows the verb's synopsis */
        bool policy_loaded;
        Policy policy;
} Context;

typedef struct StateStores StateStores;
typedef struct BootState BootState;

/* Loads the policy and the state for a verb that updates it (not `boot`):
 * 1 when a record was read, 0 when none or corrupt (logged), <0 on error. */
int context_state(Context *ctx, Policy **ret_policy, StateStores *stores, BootState *st) _wur_;

/* Loads the policy once (logging its errors as warnings); never fails but on OOM. */
int context_policy(Context *ctx, Policy **ret) _wur_;

/* A usage error of the running verb: logs "lastgood VERB: MESSAGE." and marks
 * it, so that main() prints the verb's synopsis (never its description) after
 * the verb returns. Returns EXIT_USAGE: `return context_usage_error(ctx, …);` */
int context_usage_error(Context *ctx, const char *fmt, ...) _printf_(2, 3);

typedef int (*VerbFn)(Context *ctx, int argc, char **argv);

/* Verb implementations, one file each (agent/verb-*.c). argv[0] is the verb. */
int verb_boot(Context *ctx, int argc, char **argv);
int verb_confirm(Context *ctx, int argc, char **argv);
int verb_status(Context *ctx, int argc, char **argv);
int verb_safe_mode(Context *ctx, int argc, char **argv);
int verb_policy(Context *ctx, int argc, char **argv);
int verb_snapshot(Context *ctx, int argc, char **argv);
int verb_quarantine(Context *ctx, int argc, char **argv);
int verb_log(Context *ctx, int argc, char **argv);
int verb_helpdesk(Context *ctx, int argc, char **argv);
int verb_profile(Context *ctx, int argc, char **argv);
