/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel command line: /proc/cmdline, or --cmdline for tests. */

#include "lib/util.h"

/* Looks up KEY=value (or bare KEY → "") in CMDLINE (NULL: read /proc/cmdline).
 * Quoted values ("a b") are honoured as the kernel does. The last occurrence
 * wins. Returns 1 and *ret (malloc'd) when found, 0 when not, <0 on error. */
int cmdline_get(const char *cmdline, const char *key, char **ret) _wur_;
