/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What `policy check` warns about without failing: an entry of a component
 * that names nothing on this machine (beneath the root), most often a typo
 * or a product laid out differently than its profile expects.
 *
 *  - content paths: looked up beneath the root fd;
 *  - units: a unit file (or link) of that name in UNIT_EXPAND_DIRS (a
 *    template instance "a@b.service" also by its template "a@.service"); a
 *    glob must match one (recovery/unit-expand.h);
 *  - kernel modules: looked up for one kernel release (the running kernel's
 *    unless told) in /lib/modules/KVER beneath the root with libkmod, by
 *    name (modules.dep and modules.builtin); a glob is matched against the
 *    names of its module index.
 *
 * libkmod is loaded with dlopen("libkmod.so.2") here only: the boot path
 * never loads it (it costs start-up time and is one more library in the
 * initramfs). Without it, or without the release's module index, one
 * warning says that modules were not checked.
 */

#include "config/policy.h"

/* Appends "WHERE: warning: …" to p->warnings, WHERE the entry's
 * "FILE:LINE:COL" from ORIGINS. KERNEL: the release whose modules are
 * looked up (NULL: uname's). 0 or -ENOMEM. */
int policy_lint(int root_fd, Policy *p, const PolicyOrigins *origins, const char *kernel) _wur_;
