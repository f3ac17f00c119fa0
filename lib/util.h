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
/* Sorts L in place with strcmp(). */
void strv_sort(char **l);

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Hand ownership out of a cleanup-managed variable. */
#define TAKE_PTR(p)                      \
        ({                               \
                __typeof__(p) _p_ = (p); \
                (p) = NULL;              \
                _p_;                     \
        })
#define TAKE_FD(fd)              \
        ({                       \
                int _fd_ = (fd); \
                (fd) = -1;       \
                _fd_;            \
        })

/* Strict parsers: the whole string must be consumed; no sign, no spaces. */
int parse_u64(const char *s, uint64_t *ret) _wur_;
int parse_u32_range(const char *s, uint32_t min, uint32_t max, uint32_t *ret) _wur_;
/* "90s", "5min", "72h", "2d", "500ms"; a bare number means seconds. */
int parse_duration(const char *s, uint64_t *ret_usec) _wur_;
/* "512M", "4G", "100K", or bytes. */
int parse_size(const char *s, uint64_t *ret) _wur_;
/* A UTC time, ISO 8601: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "…:SS" or
 * "…:SS.ffffff", each with an optional trailing "Z" (a space may stand for
 * the T): microseconds since the epoch. -EINVAL for anything else, an
 * out-of-range field or a time before 1970. */
int parse_utc_time(const char *s, uint64_t *ret_usec) _wur_;
int parse_bool(const char *s) _wur_;

/* Formats a duration the way parse_duration() reads it back. */
const char *format_duration(char buf[static 32], uint64_t usec);

uint64_t now_realtime_usec(void);
uint64_t now_monotonic_usec(void);

/* Returns the current boot id (from /proc), or "" when unknown. */
void read_boot_id(char buf[static 37]);

/* The running kernel's release (uname(2), e.g. "6.1.0-58-amd64") into BUF,
 * written only on success. LASTGOOD_KERNEL_RELEASE, when set, replaces it
 * (tests simulate a kernel update). -EINVAL when that is empty or longer
 * than KERNEL_RELEASE_SIZE - 1, -errno when uname() fails. */
#define KERNEL_RELEASE_SIZE 65 /* struct utsname's release[] */
int read_kernel_release(char buf[static KERNEL_RELEASE_SIZE]) _wur_;

/* A UTC time stamp "YYYYMMDDTHHMMSSZ" (sortable, a file-name part) of USEC
 * since the epoch; "19700101T000000Z" when it cannot be formatted. Returns BUF. */
#define UTC_STAMP_LEN 16
const char *format_utc_stamp(char buf[static UTC_STAMP_LEN + 1], uint64_t usec);

/* The EINTR loops, one of each. loop_read() reads until LEN bytes or the end
 * of the file: the count (short only at the end), or -errno. loop_pread()
 * the same from OFFSET. loop_write() writes all LEN bytes: 0 or -errno. */
ssize_t loop_read(int fd, void *buf, size_t len) _wur_;
ssize_t loop_pread(int fd, void *buf, size_t len, off_t offset) _wur_;
int loop_write(int fd, const void *buf, size_t len) _wur_;
/* LEN bytes from the kernel's CSPRNG (getrandom(), blocking until it is
 * seeded): 0 or -errno. */
int random_bytes(void *buf, size_t len) _wur_;

/*
 * Text built with stdio in memory (open_memstream()), as systemd's
 * memstream-util:
 *
 *         _cleanup_(memstream_done) MemStream m = {};
 *         FILE *f = memstream_init(&m);
 *         if (!f)
 *                 return -ENOMEM;
 *         fprintf(f, …);
 *         return memstream_finalize(&m, ret, ret_len);
 *
 * memstream_finalize() closes the stream and hands out the text
 * (NUL-terminated; ret_len may be NULL): -ENOMEM, and nothing handed out,
 * when a write failed, so a half-built text is never written to a file.
 * memstream_done() drops a stream that was not finalized. M must not move
 * while the stream is open.
 */
typedef struct MemStream {
        FILE *f;
        char *buf;
        size_t len;
} MemStream;
FILE *memstream_init(MemStream *m);
int memstream_finalize(MemStream *m, char **ret, size_t *ret_len) _wur_;
void memstream_done(MemStream *m);

/* snprintf that reports truncation as -ENAMETOOLONG. */
int xsnprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4) _wur_;
