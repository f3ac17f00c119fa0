/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small helpers every module uses: cleanup attributes, ownership transfer,
 * strict number parsing. Kept header-only except for the parsers.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _wur_ __attribute__((warn_unused_result))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)

static inline void freep(void *p) {
        free(*(void **) p);
}
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* A NULL-terminated string vector, as systemd's strv. */
void strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
int strv_push(char ***l, const char *s) _wur_;
char **strv_copy(char *const *l);

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Hand ownership out of a cleanup-managed variable. */
#define TAKE_PTR(p)                         \
        ({                                  \
                __typeof__(p) _p_ = (p);    \
                (p) = NULL;                 \
                _p_;                        \
        })
#define TAKE_FD(fd)                 \
        ({                          \
                int _fd_ = (fd);    \
                (fd) = -1;          \
                _fd_;               \
        })

/* Strict parsers: the whole string must be consumed; no sign, no spaces. */
int parse_u64(const char *s, uint64_t *ret) _wur_;
int parse_u32_range(const char *s, uint32_t min, uint32_t max, uint32_t *ret) _wur_;
/* "90s", "5min", "72h", "2d", "500ms"; a bare number means seconds. */
int parse_duration(const char *s, uint64_t *ret_usec) _wur_;
/* "512M", "4G", "100K", or bytes. */
int parse_size(const char *s, uint64_t *ret) _wur_;
int parse_bool(const char *s) _wur_;

/* Formats a duration the way parse_duration() reads it back. */
const char *format_duration(char buf[static 32], uint64_t usec);

uint64_t now_realtime_usec(void);
uint64_t now_monotonic_usec(void);

/* Returns the current boot id (from /proc), or "" when unknown. */
void read_boot_id(char buf[static 37]);

/* snprintf that reports truncation as -ENAMETOOLONG. */
int xsnprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4) _wur_;
