/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared between config/policy.c (defaults, loading, trust), policy-parse.c
 * (the YAML event parser) and policy-dump.c. Not for other modules.
 */

#include "config/policy.h"

/* Name tables, indexed by the enum value. */
extern const char *const policy_state_backend_names[3];
extern const char *const policy_quarantine_names[2];
extern const char *const policy_safe_mode_names[2];
extern const char *const policy_ladder_names[_LADDER_STEP_MAX];

void policy_component_done(Component *c);
void policy_health_check_done(HealthCheck *h);

/* Deep copy of the settings of SRC (not its errors or files). */
int policy_copy_settings(const Policy *src, Policy *ret) _wur_;
/* Moves the settings of SRC into P, freeing P's old settings; P keeps its
 * errors and files; SRC is left empty. */
void policy_take_settings(Policy *p, Policy *src);

/* Appends "FILE:LINE:COL: message" to p->errors (LINE and COL 1-based). */
int policy_add_error(Policy *p, const char *file, size_t line, size_t col, const char *fmt, ...) _printf_(5, 6) _wur_;

/* "1G", "512M", or plain bytes: how parse_size() reads it back, exactly. */
const char *policy_format_size(char buf[static 32], uint64_t bytes);
