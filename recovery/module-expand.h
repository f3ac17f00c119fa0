/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The concrete module names a component's kernel_modules stand for, for the
 * steps that write modprobe.d lines (quarantine, safe mode): modprobe takes
 * no globs, so "blacklist falcon_lsm_pinned_*" would block nothing.
 *
 * A plain name is kept as written (blocked even when not installed: a later
 * package may bring it). A glob is matched against the module files beneath
 * the root's /lib/modules/ (every installed kernel release, recursively;
 * "foo-bar.ko", ".ko.xz", ".ko.zst", ".ko.gz" give foo_bar; symlinks, such as
 * Debian's build/ and source/ links to /usr/src, are not followed): the only
 * modules `modprobe NAME` can load are there (it finds them through
 * modules.dep, built from that tree). A module loaded by other means (a
 * vendor's insmod from its own directory) is untouched by modprobe.d
 * whatever is written, so the names a crash record printed add nothing here.
 * A glob installed later (a new build of the sensor) is not covered until
 * the step runs again.
 *
 * Bounded: at most MODULE_EXPAND_MAX names per component, and the walk stops
 * after MODULE_EXPAND_SCAN_MAX directory entries or below
 * MODULE_EXPAND_DEPTH levels (capped is then set: the caller says so).
 */

#include "recovery/name-expand.h"

#define MODULE_EXPAND_MAX 256
#define MODULE_EXPAND_SCAN_MAX 200000u
#define MODULE_EXPAND_DEPTH 8
#define MODULE_EXPAND_DIR "/lib/modules"

/* names: the plain names as written, then the globs' matches ('_'
 * spelling, sorted); each module once ('-' and '_' alike). unmatched: globs
 * that matched no installed module. capped: more than MODULE_EXPAND_MAX
 * names, or the walk was cut short. */
typedef NameExpansion ModuleExpansion;

/* Expands PATTERNS (a component's kernel_modules; NULL: none). Names that
 * are neither a module name nor a module glob (name_is_module_pattern()) are
 * -EINVAL. A missing /lib/modules expands every glob to nothing. Returns 0,
 * -EINVAL, -ENOMEM, or -errno of a directory that could not be read. */
int module_expand(int root_fd, char *const *patterns, ModuleExpansion *ret) _wur_;
static inline void module_expansion_done(ModuleExpansion *e) {
        name_expansion_done(e);
}
