/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The validated policy, compiled: every invocation of lastgood needs the
 * policy, and parsing YAML (comments and all, several files) was a third of
 * a healthy boot's instructions. A policy that loaded cleanly is kept in
 * LASTGOOD_POLICY_CACHE_FILE (root-only) in a binary form that the schema
 * (policy-internal.h) walks, with a signature of every source it came from:
 * the policy directories and the files in them (for each, the stat data of
 * the name and of what it resolves to beneath the root). A later load whose
 * sources have the same signature takes the compiled form instead of
 * parsing; any difference — a file edited, added, removed, chmod'ed, a
 * profile's target updated — and the sources are parsed as always.
 *
 * The cache is never a source of truth: a missing, torn or foreign file is
 * a miss (a checksum covers it), a miss costs only the parse, and a policy
 * with errors or a fallback is never stored. It is written without fsync:
 * after a power cut it is at worst stale-and-rejected or absent.
 */

#include "config/policy.h"

/* P, if it loaded cleanly from the default sources beneath root_fd (no
 * errors, no fallback), into the cache; 0 when stored or not storable (a
 * source changed within the racy margin of now), <0 on error. */
int policy_cache_save(int root_fd, const Policy *p) _wur_;

/* 1 and *ret when the cache holds the policy of the current sources, 0 on a
 * miss (logged at debug level), <0 only for -ENOMEM. */
int policy_cache_load(int root_fd, Policy *ret) _wur_;
