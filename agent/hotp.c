/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/hotp.h"

#include <nettle/hmac.h>
#include <nettle/memops.h>

static const char *const algorithm_names[_HOTP_ALGORITHM_MAX] = {
        [HOTP_SHA256] = "sha256",
        [HOTP_SHA1] = "sha1",
};

const char *hotp_algorithm_to_string(HotpAlgorithm a) {
        return a >= 0 && a < _HOTP_ALGORITHM_MAX ? algorithm_names[a] : "?";
}

int hotp_algorithm_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(algorithm_names); i++)
                if (s && streq(s, algorithm_names[i]))
                        return (int) i;
        return -EINVAL;
}

int hotp_truncated(HotpAlgorithm alg, const uint8_t *key, size_t key_len, uint64_t counter, uint32_t *ret) {
        if (!key || key_len < HOTP_KEY_MIN || key_len > HOTP_KEY_MAX)
                return -EINVAL;

        uint8_t msg[8];
        for (int i = 7; i >= 0; i--) {
                msg[i] = (uint8_t) (counter & 0xff);
                counter >>= 8;
        }

        uint8_t digest[SHA256_DIGEST_SIZE];
        size_t digest_len;
        switch (alg) {
        case HOTP_SHA256: {
                struct hmac_sha256_ctx ctx;
                hmac_sha256_set_key(&ctx, key_len, key);
                hmac_sha256_update(&ctx, sizeof msg, msg);
                hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
                digest_len = SHA256_DIGEST_SIZE;
                explicit_bzero(&ctx, sizeof ctx); /* it holds the keyed state */
                break;
        }
        case HOTP_SHA1: {
                struct hmac_sha1_ctx ctx;
                hmac_sha1_set_key(&ctx, key_len, key);
                hmac_sha1_update(&ctx, sizeof msg, msg);
                hmac_sha1_digest(&ctx, SHA1_DIGEST_SIZE, digest);
                digest_len = SHA1_DIGEST_SIZE;
                explicit_bzero(&ctx, sizeof ctx);
                break;
        }
        default:
                return -EINVAL;
        }

        /* RFC 4226 5.3: offset from the low nibble of the last byte. */
        unsigned off = digest[digest_len - 1] & 0x0f;
        uint32_t v = ((uint32_t) (digest[off] & 0x7f) << 24) | ((uint32_t) digest[off + 1] << 16) |
                     ((uint32_t) digest[off + 2] << 8) | (uint32_t) digest[off + 3];
        explicit_bzero(digest, sizeof digest);
        *ret = v;
        return 0;
}

int hotp_code(HotpAlgorithm alg, const uint8_t *key, size_t key_len, uint64_t counter, unsigned digits,
              char ret[static HOTP_DIGITS_MAX + 1]) {
        if (digits < HOTP_DIGITS_MIN || digits > HOTP_DIGITS_MAX)
                return -EINVAL;
        uint32_t v;
        int r = hotp_truncated(alg, key, key_len, counter, &v);
        if (r < 0)
                return r;
        /* The low DIGITS decimal digits of v, zero-padded: v mod 10^digits. */
        for (unsigned i = digits; i > 0; i--) {
                ret[i - 1] = (char) ('0' + v % 10);
                v /= 10;
        }
        ret[digits] = '\0';
        return 0;
}

bool hotp_code_equal(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la != lb)
                return false;
        /* nettle's memeql_sec reads every byte whatever differs first. */
        return memeql_sec(a, b, la) != 0;
}
