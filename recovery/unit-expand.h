/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The concrete unit names a component's units stand for, for the steps that
 * mask units (quarantine, safe mode): a mask is a symlink named after one
 * unit, so "falcon-sensor*.service" must become the units installed now.
 *
 * A plain name is kept as written (masked even when not installed). A glob
 * (name_is_unit_pattern()) is matched against the unit files in the
 * directories systemd loads system units from, beneath the root:
 * UNIT_EXPAND_DIRS (their subdirectories, foo.service.d or *.wants, are not
 * units). A unit installed later is not covered until the step runs again.
 * Bounded like module-expand: at most UNIT_EXPAND_MAX names per component.
 */

#include "recovery/name-expand.h"

#define UNIT_EXPAND_MAX 256
#define UNIT_EXPAND_SCAN_MAX 100000u
/* /etc, /run, then the vendor directories (/lib is /usr/lib on merged-/usr). */
#define UNIT_EXPAND_DIRS \
        "/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"

/* Expands PATTERNS (a component's units; NULL: none); an entry that is no
 * unit name or unit glob is -EINVAL. Returns 0, -EINVAL, -ENOMEM, or -errno
 * of a directory that could not be read. */
int unit_expand(int root_fd, char *const *patterns, NameExpansion *ret) _wur_;
