/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Runs the policy's health checks for `confirm`. Each check is a command run
 * directly (no shell) in its own process group with stdin from /dev/null; a
 * check that outlives its timeout is killed with its whole group, so a hung
 * check fails instead of blocking confirmation for ever.
 */

#include "config/policy.h"

typedef enum HealthResult {
        HEALTH_PASSED,
        HEALTH_FAILED,    /* exited non-zero or was killed by a signal */
        HEALTH_TIMED_OUT, /* killed after its timeout */
        HEALTH_NOT_RUN,   /* could not be started (missing binary, …) */
} HealthResult;

typedef struct HealthOutcome {
        HealthResult result;
        int status; /* exit status or signal number */
        uint64_t duration_usec;
} HealthOutcome;

/* Runs one check. Returns 0 when it could be evaluated (see ret->result). */
int health_run(const HealthCheck *c, HealthOutcome *ret) _wur_;
const char *health_result_to_string(HealthResult r);
