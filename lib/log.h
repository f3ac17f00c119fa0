/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging: stderr always; /dev/kmsg as well when running as the early-boot
 * agent (so messages reach dmesg and, later, the journal). Log once, where an
 * error is handled: modules return -errno, verbs log.
 */

#include "lib/util.h"

enum { LOG_LVL_ERR = 3, LOG_LVL_WARNING = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_max_level(int level);
int log_get_max_level(void);
/* Also write to /dev/kmsg (best effort) with a "lastgood: " prefix. */
void log_open_kmsg(void);
void log_close(void);

/* Returns -abs(error) so callers can `return log_error_errno(r, ...)`. */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) log_internal(LOG_LVL_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_LVL_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_LVL_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_internal(LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_LVL_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LVL_WARNING, (e), __VA_ARGS__)
#define log_notice_errno(e, ...) log_internal(LOG_LVL_NOTICE, (e), __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_LVL_DEBUG, (e), __VA_ARGS__)
