/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/encode.h"

/* 0-15 for a hex digit, 16 for anything else, without branching on the
 * digit's case (manifests decode a sha256 per file). */
static inline uint8_t hex_value(unsigned char c) {
        if ((unsigned) (c - '0') < 10u)
                return (uint8_t) (c - '0');
        c |= 0x20; /* 'A'-'F' -> 'a'-'f' */
        if ((unsigned) (c - 'a') < 6u)
                return (uint8_t) (c - 'a' + 10);
        return 16;
}

int unhexchar(char c) {
        uint8_t v = hex_value((unsigned char) c);
        return v < 16 ? v : -EINVAL;
}

char hexchar(unsigned x) {
        return "0123456789abcdef"[x & 15];
}

void hex_encode_to(const void *data, size_t len, char *out) {
        const uint8_t *p = data;
        for (size_t i = 0; i < len; i++) {
                out[2 * i] = hexchar(p[i] >> 4);
                out[2 * i + 1] = hexchar(p[i]);
        }
        out[2 * len] = '\0';
}

int hex_encode(const void *data, size_t len, char **ret) {
        char *s = malloc(2 * len + 1);
        if (!s)
                return -ENOMEM;
        hex_encode_to(data, len, s);
        *ret = s;
        return 0;
}

int hex_decode_to(const char *s, size_t len, void *out, size_t max, size_t *ret_len) {
        uint8_t *o = out;
        if (len % 2 != 0 || len / 2 > max)
                return -EBADMSG;
        for (size_t i = 0; i < len; i += 2) {
                uint8_t hi = hex_value((unsigned char) s[i]), lo = hex_value((unsigned char) s[i + 1]);
                if ((hi | lo) & 16)
                        return -EBADMSG;
                o[i / 2] = (uint8_t) (hi << 4 | lo);
        }
        *ret_len = len / 2;
        return 0;
}

int hex_decode(const char *s, size_t len, void **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *out = malloc(len / 2 + 1);
        if (!out)
                return -ENOMEM;
        size_t n;
        int r = hex_decode_to(s, len, out, len / 2, &n);
        if (r < 0)
                return r;
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        *ret_len = n;
        return 0;
}

/* One decoded %XX at S (S[0] == '%'); -EBADMSG for a bad digit or %00.
 * UPPER_ONLY: the canonical form of the token dialect. */
static int pct_byte(const char *s, bool upper_only, char *ret) {
        int hi = unhexchar(s[1]), lo = hi >= 0 ? unhexchar(s[2]) : -EINVAL;
        if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -EBADMSG;
        if (upper_only && ((s[1] >= 'a' && s[1] <= 'f') || (s[2] >= 'a' && s[2] <= 'f')))
                return -EBADMSG;
        *ret = (char) (hi << 4 | lo);
        return 0;
}

/* Runs WRITE into a memory stream and hands out the text. */
static int to_string(void (*write)(FILE *f, const char *s), const char *s, char **ret) {
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        if (!f)
                return -ENOMEM;
        write(f, s);
        return memstream_finalize(&m, ret, NULL);
}

/* ---- token ---- */

static bool token_byte_is_raw(unsigned char c) {
        return c > 0x20 && c < 0x7f && c != '%';
}

/* Both line dialects: "-" alone means "none" there, so a value "-" is %2D;
 * bytes RAW accepts stay, every other one is %XX. */
static void pct_write(FILE *f, const char *s, bool (*raw)(unsigned char c)) {
        if (streq(s, "-")) {
                fputs("%2D", f);
                return;
        }
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (raw(*p))
                        fputc(*p, f);
                else
                        fprintf(f, "%%%02X", *p);
}

void pct_token_write(FILE *f, const char *s) {
        pct_write(f, s ?: "", token_byte_is_raw);
}

char *pct_token_encode(const char *s) {
        char *ret;
        return to_string(pct_token_write, s, &ret) < 0 ? NULL : ret;
}

int pct_token_decode(const char *token, char **ret) {
        size_t n = strlen(token);
        _cleanup_free_ char *out = malloc(n + 1);
        if (!out)
                return -ENOMEM;
        /* Most tokens (paths) hold no escape: check and copy in one go. */
        size_t plain = 0;
        while (plain < n && token_byte_is_raw((unsigned char) token[plain]))
                plain++;
        if (plain == n && !(n == 1 && token[0] == '-')) {
                memcpy(out, token, n + 1);
                *ret = TAKE_PTR(out);
                return 0;
        }
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) token[i];
                if (c == '%') {
                        if (pct_byte(token + i, true, &out[o]) < 0)
                                return -EBADMSG;
                        /* Canonical only: a byte that needs no escape is
                         * never escaped, but "-" alone is. */
                        if (token_byte_is_raw((unsigned char) out[o]) && !(n == 3 && out[o] == '-'))
                                return -EBADMSG;
                        o++;
                        i += 2;
                } else if (token_byte_is_raw(c))
                        out[o++] = (char) c;
                else
                        return -EBADMSG;
        }
        out[o] = '\0';
        if (streq(out, "-") && n == 1)
                return -EBADMSG; /* the encoder writes "-" as %2D */
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---- field ---- */

static bool field_byte_is_plain(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("._/@:+,=-", c));
}

void pct_field_write(FILE *f, const char *s) {
        if (!s || !*s)
                fputc('-', f); /* a field is never empty */
        else
                pct_write(f, s, field_byte_is_plain);
}

int pct_field_decode(const char *field, char **ret) {
        if (streq(field, "-")) {
                *ret = strdup("");
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_free_ char *out = malloc(strlen(field) + 1);
        if (!out)
                return -ENOMEM;
        size_t n = 0;
        for (const char *p = field; *p; p++) {
                if (*p == '%') {
                        if (pct_byte(p, false, &out[n]) < 0)
                                return -EBADMSG;
                        n++;
                        p += 2;
                } else if (field_byte_is_plain((unsigned char) *p))
                        out[n++] = *p;
                else
                        return -EBADMSG;
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---- filename ---- */

int pct_filename_encode(const char *path, size_t max, char **ret) {
        size_t n = 0;
        const char *s = path[0] == '/' ? path + 1 : path;
        for (const char *p = s; *p; p++)
                n += *p == '/' || *p == '%' ? 3 : 1;
        if (n > max)
                return -ENAMETOOLONG;
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return -ENOMEM;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p == '%') {
                        *o++ = '%';
                        *o++ = "0123456789ABCDEF"[(unsigned char) *p >> 4];
                        *o++ = "0123456789ABCDEF"[(unsigned char) *p & 15];
                } else
                        *o++ = *p;
        *o = '\0';
        *ret = out;
        return 0;
}

int utf16le_to_ascii(const void *buf, size_t size, char *ret, size_t ret_size) {
        const uint8_t *b = buf;
        if (size % 2 != 0)
                return -EBADMSG;
        /* Checked whole before RET is written. */
        size_t n = 0;
        for (size_t i = 0; i < size; i += 2, n++) {
                unsigned u = b[i] | (unsigned) b[i + 1] << 8;
                if (u == 0)
                        break;
                if (u < 0x20 || u > 0x7e)
                        return -EBADMSG;
        }
        if (n + 1 > ret_size)
                return -ENOBUFS;
        for (size_t i = 0; i < n; i++)
                ret[i] = (char) b[2 * i];
        ret[n] = '\0';
        return 0;
}
