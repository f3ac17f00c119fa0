/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * HOTP one-time codes, RFC 4226, over nettle's HMAC.
 *
 * lastgood's helpdesk codes are 8 digits over HMAC-SHA-256 (HOTP_SHA256).
 * HMAC-SHA-1 (HOTP_SHA1) is the RFC's own algorithm: kept for its test
 * vectors (Appendix D) and for tokens that only speak SHA-1.
 *
 * Pinned behaviour (RFC 4226 section 5.3): the counter is hashed as 8 bytes
 * big endian; dynamic truncation takes the low nibble of the last digest byte
 * as offset and the 31 bits at that offset; the code is that value modulo
 * 10^digits, zero-padded.
 */

#include <stdint.h>

#include "lib/util.h"

typedef enum HotpAlgorithm {
        HOTP_SHA256,
        HOTP_SHA1,
        _HOTP_ALGORITHM_MAX,
} HotpAlgorithm;

#define HOTP_DIGITS 8     /* lastgood's code length */
#define HOTP_DIGITS_MIN 6 /* RFC 4226: at least 6 */
#define HOTP_DIGITS_MAX 9 /* the 31-bit truncated value has 10 digits at most */
#define HOTP_KEY_MIN 16   /* RFC 4226 section 4 R6: at least 128 bits */
#define HOTP_KEY_MAX 64   /* one HMAC block: longer keys would be hashed first */

const char *hotp_algorithm_to_string(HotpAlgorithm a); /* "sha256", "sha1" */
int hotp_algorithm_from_string(const char *s);         /* -EINVAL if unknown */

/*
 * The 31-bit dynamic-truncation value ("Snum" in the RFC) for COUNTER.
 * -EINVAL on a bad algorithm or a key outside HOTP_KEY_MIN..HOTP_KEY_MAX.
 */
int hotp_truncated(HotpAlgorithm alg, const uint8_t *key, size_t key_len, uint64_t counter, uint32_t *ret) _wur_;

/*
 * The DIGITS-digit code for COUNTER, as a NUL-terminated string of ASCII
 * digits in ret (at least HOTP_DIGITS_MAX + 1 bytes). -EINVAL as above, or
 * when digits is outside HOTP_DIGITS_MIN..HOTP_DIGITS_MAX.
 */
int hotp_code(HotpAlgorithm alg, const uint8_t *key, size_t key_len, uint64_t counter, unsigned digits,
              char ret[static HOTP_DIGITS_MAX + 1]) _wur_;

/* Constant-time equality of two NUL-terminated codes of the same length
 * (different lengths compare unequal; the length itself is not secret). */
bool hotp_code_equal(const char *a, const char *b);
