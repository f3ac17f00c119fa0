/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio_ext.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>

void strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void strv_sort(char **l) {
        size_t n = strv_length(l);
        if (n > 1)
                qsort(l, n, sizeof(char *), strcmp_ptr);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        if (!l || !s)
                return false;
        for (; *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

int strv_push(char ***l, const char *s) {
        size_t n = strv_length(*l);
        char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        char **nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[n] = c;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        char **c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i]) {
                        strv_free(c);
                        return NULL;
                }
        }
        return c;
}

int parse_u64(const char *s, uint64_t *ret) {
        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        /* No leading zeros except "0" itself: "010" is ambiguous to humans. */
        if (s[0] == '0' && s[1] != '\0')
                return -EINVAL;
        /* By hand, not strtoull(): manifests hold ten numbers per entry,
         * and strtoull's locale and base handling was a quarter of an
         * unchanged-content confirm (make bench). */
        uint64_t v = 0;
        for (unsigned d; (d = (unsigned) (*s - '0')) < 10; s++)
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
                        return -ERANGE;
        if (*s != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_u32_range(const char *s, uint32_t min, uint32_t max, uint32_t *ret) {
        uint64_t v;
        int r = parse_u64(s, &v);
        if (r < 0)
                return r;
        if (v < min || v > max)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

typedef struct UnitSuffix {
        const char *suffix;
        uint64_t mul;
} UnitSuffix;

static int parse_unit_number(const char *s, const UnitSuffix *units, size_t n_units, uint64_t default_mul,
                             uint64_t *ret) {
        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        const char *p = s;
        while (isdigit((unsigned char) *p))
                p++;
        size_t numlen = (size_t) (p - s);
        if (numlen > 19)
                return -ERANGE;
        char num[21];
        memcpy(num, s, numlen);
        num[numlen] = '\0';
        uint64_t v;
        int r = parse_u64(num, &v);
        if (r < 0)
                return r;
        uint64_t mul = 0;
        if (*p == '\0')
                mul = default_mul;
        else
                for (size_t i = 0; i < n_units; i++)
                        if (streq(p, units[i].suffix)) {
                                mul = units[i].mul;
                                break;
                        }
        if (mul == 0)
                return -EINVAL;
        if (v > UINT64_MAX / mul)
                return -ERANGE;
        *ret = v * mul;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        static const UnitSuffix units[] = {
                { "ms", USEC_PER_MSEC },       { "s", USEC_PER_SEC },        { "sec", USEC_PER_SEC },
                { "m", 60 * USEC_PER_SEC },    { "min", 60 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
                { "d", 86400 * USEC_PER_SEC },
        };
        return parse_unit_number(s, units, ELEMENTSOF(units), USEC_PER_SEC, ret_usec);
}

int parse_size(const char *s, uint64_t *ret) {
        static const UnitSuffix units[] = {
                { "B", 1 },          { "K", 1ULL << 10 }, { "M", 1ULL << 20 },
                { "G", 1ULL << 30 }, { "T", 1ULL << 40 },
        };
        return parse_unit_number(s, units, ELEMENTSOF(units), 1, ret);
}

/* Exactly N decimal digits at *P, advancing it. */
static bool parse_digits(const char **p, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

int parse_utc_time(const char *s, uint64_t *ret_usec) {
        int year, mon, day, hour = 0, min = 0, sec = 0, frac = 0;
        if (!s || !parse_digits(&s, 4, &year) || *s++ != '-' || !parse_digits(&s, 2, &mon) || *s++ != '-' ||
            !parse_digits(&s, 2, &day))
                return -EINVAL;
        if (*s == 'T' || *s == ' ') {
                s++;
                if (!parse_digits(&s, 2, &hour) || *s++ != ':' || !parse_digits(&s, 2, &min))
                        return -EINVAL;
                if (*s == ':') {
                        s++;
                        if (!parse_digits(&s, 2, &sec))
                                return -EINVAL;
                        if (*s == '.') {
                                s++;
                                if (!parse_digits(&s, 6, &frac))
                                        return -EINVAL;
                        }
                }
        }
        if (*s == 'Z')
                s++;
        if (*s || year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59)
                return -EINVAL;
        struct tm tm = {
                .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = hour, .tm_min = min, .tm_sec = sec
        };
        time_t t = timegm(&tm);
        /* timegm() normalizes 2026-02-31 to March: refuse what did not round-trip. */
        if (t < 0 || tm.tm_mday != day || tm.tm_mon != mon - 1)
                return -EINVAL;
        *ret_usec = (uint64_t) t * USEC_PER_SEC + (uint64_t) frac;
        return 0;
}

int parse_bool(const char *s) {
        if (!s)
                return -EINVAL;
        if (streq(s, "true") || streq(s, "yes") || streq(s, "on") || streq(s, "1"))
                return 1;
        if (streq(s, "false") || streq(s, "no") || streq(s, "off") || streq(s, "0"))
                return 0;
        return -EINVAL;
}

const char *format_duration(char buf[static 32], uint64_t usec) {
        if (usec % (86400 * USEC_PER_SEC) == 0 && usec > 0)
                snprintf(buf, 32, "%" PRIu64 "d", usec / (86400 * USEC_PER_SEC));
        else if (usec % (3600 * USEC_PER_SEC) == 0 && usec > 0)
                snprintf(buf, 32, "%" PRIu64 "h", usec / (3600 * USEC_PER_SEC));
        else if (usec % (60 * USEC_PER_SEC) == 0 && usec > 0)
                snprintf(buf, 32, "%" PRIu64 "min", usec / (60 * USEC_PER_SEC));
        else if (usec % USEC_PER_SEC == 0)
                snprintf(buf, 32, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else
                snprintf(buf, 32, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        return buf;
}

static uint64_t now_clock(clockid_t c) {
        struct timespec ts;
        clock_gettime(c, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t now_realtime_usec(void) {
        return now_clock(CLOCK_REALTIME);
}

uint64_t now_monotonic_usec(void) {
        return now_clock(CLOCK_MONOTONIC);
}

void read_boot_id(char buf[static 37]) {
        buf[0] = '\0';
        /* LASTGOOD_BOOT_ID lets tests simulate distinct boots on one host. */
        const char *e = getenv("LASTGOOD_BOOT_ID");
        if (e && strlen(e) <= 36) {
                strcpy(buf, e);
                return;
        }
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, 36);
        close(fd);
        if (n != 36) {
                buf[0] = '\0';
                return;
        }
        buf[36] = '\0';
}

int read_kernel_release(char buf[static KERNEL_RELEASE_SIZE]) {
        /* LASTGOOD_KERNEL_RELEASE lets tests simulate a kernel update on one host. */
        const char *e = getenv("LASTGOOD_KERNEL_RELEASE");
        struct utsname u;
        if (!e) {
                if (uname(&u) < 0)
                        return -errno;
                e = u.release;
        }
        size_t n = strnlen(e, KERNEL_RELEASE_SIZE);
        if (n == 0 || n >= KERNEL_RELEASE_SIZE)
                return -EINVAL;
        memcpy(buf, e, n + 1);
        return 0;
}

const char *format_utc_stamp(char buf[static UTC_STAMP_LEN + 1], uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, UTC_STAMP_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != UTC_STAMP_LEN)
                strcpy(buf, "19700101T000000Z");
        return buf;
}

/* OFFSET < 0: read() from the file position, else pread() from OFFSET. */
static ssize_t read_until_eof(int fd, void *buf, size_t len, off_t offset) {
        size_t done = 0;
        while (done < len) {
                char *p = (char *) buf + done;
                ssize_t n = offset < 0 ? read(fd, p, len - done)
                                       : pread(fd, p, len - done, offset + (off_t) done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

ssize_t loop_read(int fd, void *buf, size_t len) {
        return read_until_eof(fd, buf, len, -1);
}

ssize_t loop_pread(int fd, void *buf, size_t len, off_t offset) {
        return offset < 0 ? -EINVAL : read_until_eof(fd, buf, len, offset);
}

int loop_write(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int random_bytes(void *buf, size_t len) {
        for (size_t got = 0; got < len;) {
                ssize_t n = getrandom((char *) buf + got, len - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) n;
        }
        return 0;
}

FILE *memstream_init(MemStream *m) {
        *m = (MemStream) {};
        m->f = open_memstream(&m->buf, &m->len);
        /* Ours alone, never shared between threads: no lock per character. */
        if (m->f)
                (void) __fsetlocking(m->f, FSETLOCKING_BYCALLER);
        return m->f;
}

int memstream_finalize(MemStream *m, char **ret, size_t *ret_len) {
        if (!m->f)
                return -ENOMEM;
        /* A failed write sets the error flag; fclose() reports only the last flush. */
        bool failed = ferror(m->f);
        failed = fclose(m->f) != 0 || failed;
        m->f = NULL;
        if (failed) {
                memstream_done(m);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(m->buf);
        if (ret_len)
                *ret_len = m->len;
        *m = (MemStream) {};
        return 0;
}

void memstream_done(MemStream *m) {
        if (m->f)
                fclose(m->f); /* updates m->buf first */
        free(m->buf);
        *m = (MemStream) {};
}

int xsnprintf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENAMETOOLONG;
        return n;
}
