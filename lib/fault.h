/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Fault injection at durable steps, compiled in only for test builds
 * (-DLASTGOOD_FAULT_INJECTION). Every place that makes a change that must
 * survive a power cut calls fault_point() right before it.
 *
 *   LASTGOOD_FAULT_AT=N        die (SIGKILL, like a power cut) at the N-th point
 *   LASTGOOD_FAULT_ERRNO=E     instead of dying, make the N-th point fail with
 *                              -E (e.g. ENOSPC, EIO)
 *   LASTGOOD_FAULT_TRACE=FILE  append "N name" for every point reached
 *
 * In release builds fault_point() is a no-op that returns 0.
 */

#include "lib/util.h"

#ifdef LASTGOOD_FAULT_INJECTION
int fault_point(const char *name) _wur_;
#else
static inline int fault_point(const char *name _unused_) {
        return 0;
}
#endif
