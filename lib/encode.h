/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Encodings of bytes as text, one function per dialect:
 *
 *   hex            lowercase on output, either case on input (keys, hashes)
 *   pct "token"    a whitespace-free token of a line-based file (manifests,
 *                  the restore intent): every byte outside 0x21..0x7e and
 *                  '%' is %XX (uppercase); a whole token "-" is %2D, since
 *                  "-" means "none" there. Decoding takes only the canonical
 *                  form (what the encoder writes), so one value has one
 *                  spelling and a file cannot be edited to mean the same.
 *   pct "field"    a field of the quarantine registry: only [A-Za-z0-9] and
 *                  "._/@:+,=-" stay as they are, everything else is %XX;
 *                  the empty string is "-", a value "-" is %2D.
 *   pct "filename" a path as one file name: '/' and '%' become %XX (the
 *                  leading '/' is dropped): "/opt/v/defs" -> "opt%2Fv%2Fdefs".
 *
 * Decoders refuse %00 (the values are C strings) and anything malformed
 * with -EBADMSG.
 */

#include <stdio.h>

#include "lib/util.h"

/* The value of one hex digit (either case), -EINVAL when C is none. */
int unhexchar(char c);
char hexchar(unsigned x); /* the lowercase digit of x & 15 */

/* LEN bytes as 2 * LEN lowercase hex digits and a NUL at OUT. */
void hex_encode_to(const void *data, size_t len, char *out);
int hex_encode(const void *data, size_t len, char **ret) _wur_;
/* Decodes exactly LEN hex digits of S into OUT (room for MAX bytes).
 * -EBADMSG when LEN is odd, a digit is not hex, or it needs more than MAX. */
int hex_decode_to(const char *s, size_t len, void *out, size_t max, size_t *ret_len) _wur_;
/* The same into a new buffer, NUL-terminated after the bytes. */
int hex_decode(const char *s, size_t len, void **ret, size_t *ret_len) _wur_;

void pct_token_write(FILE *f, const char *s);
/* NULL on OOM: also names hostile paths in messages ("esc ?: \"?\""). */
char *pct_token_encode(const char *s);
int pct_token_decode(const char *token, char **ret) _wur_;

void pct_field_write(FILE *f, const char *s);
int pct_field_decode(const char *field, char **ret) _wur_;

/* -ENAMETOOLONG when the name would be longer than MAX bytes. */
int pct_filename_encode(const char *path, size_t max, char **ret) _wur_;

/* A UTF-16LE string as UEFI variables carry them (e.g. systemd-boot's
 * LoaderDevicePartUUID), up to its NUL or the end of BUF, into RET as
 * printable ASCII. -EBADMSG for an odd size or any unit outside 0x20..0x7e,
 * -ENOBUFS when it does not fit in RET_SIZE (with its NUL). */
int utf16le_to_ascii(const void *buf, size_t size, char *ret, size_t ret_size) _wur_;
