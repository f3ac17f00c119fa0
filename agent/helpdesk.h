/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpdesk one-time codes: a per-machine HOTP secret (RFC 4226, see hotp.h)
 * that lets a helpdesk put one machine into safe mode over the phone, each
 * code usable once.
 *
 * The machine's secret file (policy safe_mode.secret_file, beneath the root,
 * root-owned, mode 0600) is a small text file, rewritten atomically:
 *
 *   # lastgood helpdesk secret …        comments and blank lines are ignored
 *   algorithm=sha256                    sha256 (default) | sha1
 *   counter=0                           the next counter the machine expects
 *   key=<hex>                           16..64 bytes; enroll makes 32
 *
 * The helpdesk keeps the key (shown once by `lastgood helpdesk enroll`, as
 * hex and base32) and its own counter.
 */

#include <stdint.h>

#include "agent/hotp.h"
#include "config/policy.h"
#include "lib/util.h"

#define HELPDESK_KEY_SIZE 32     /* what enroll generates */
#define HELPDESK_FILE_MAX 4096   /* the secret file and escrow files are tiny */
#define HELPDESK_WINDOW_MAX 1000 /* bound on the look-ahead, whatever the policy says */

typedef struct HelpdeskSecret {
        HotpAlgorithm algorithm;
        uint8_t key[HOTP_KEY_MAX];
        size_t key_len;
        uint64_t counter; /* the next counter the machine accepts */
} HelpdeskSecret;

/* Overwrites the key material (call before the struct goes out of scope). */
void helpdesk_secret_wipe(HelpdeskSecret *s);
/* Cleanup attributes: _cleanup_(helpdesk_secret_wipep) HelpdeskSecret s;
 * _cleanup_(helpdesk_wipe_freep) char *buf; (a string that held a key). */
static inline void helpdesk_secret_wipep(HelpdeskSecret *s) {
        helpdesk_secret_wipe(s);
}
void helpdesk_wipe_freep(char **p);

/* Parses the secret file format above. -EBADMSG on anything unexpected
 * (unknown or repeated key, bad hex, key length out of range, no key). */
int helpdesk_secret_parse(const char *buf, size_t len, HelpdeskSecret *ret) _wur_;
/* Formats S in the secret file format; *ret is malloc()ed (wipe, then free). */
int helpdesk_secret_format(const HelpdeskSecret *s, char **ret) _wur_;

/* Parses an escrowed key as enroll shows it: hex, or base32 (RFC 4648,
 * any case, '=' padding optional); spaces, tabs, newlines and '-' are
 * ignored. Writes at most HOTP_KEY_MAX bytes. -EBADMSG when it is neither or
 * its length is outside HOTP_KEY_MIN..HOTP_KEY_MAX. */
int helpdesk_key_parse(const char *s, uint8_t ret_key[static HOTP_KEY_MAX], size_t *ret_len) _wur_;

/* The escrow display's base32 (its hex is lib/encode.h's hex_encode());
 * *ret is malloc()ed. Unpadded and, when group > 0, split into groups of
 * that many characters by spaces. */
int helpdesk_key_to_base32(const uint8_t *key, size_t len, size_t group, char **ret) _wur_;

/*
 * Makes a new secret: HELPDESK_KEY_SIZE bytes from getrandom(), SHA-256,
 * counter 0, written atomically (mode 0600) to p->safe_mode.secret_file
 * beneath root_fd, creating its directory. Refuses with -EEXIST when the file
 * exists, unless force. On success *ret holds the new secret (for display).
 */
int helpdesk_enroll(int root_fd, const Policy *p, bool force, HelpdeskSecret *ret) _wur_;

/*
 * Reads p->safe_mode.secret_file beneath root_fd. Refuses (-EPERM) a file
 * that is not a regular file owned by the caller's uid (root), or that group
 * or others may read or write; -ELOOP for a symlink; -ENOENT when not
 * enrolled; -EBADMSG when unparsable.
 */
int helpdesk_load(int root_fd, const Policy *p, HelpdeskSecret *ret) _wur_;

/*
 * Checks a helpdesk CODE (exactly HOTP_DIGITS ASCII digits) against the
 * counters counter .. counter + p->safe_mode.code_window - 1 (at least one,
 * at most HELPDESK_WINDOW_MAX), comparing in constant time. On a match the
 * next counter (the matching one + 1) is written durably BEFORE *ret_ok is
 * set, so a code is accepted at most once, even across a power cut.
 *
 * Returns 0 with *ret_ok = true (accepted) or false (wrong, reused or
 * malformed code: nothing changed). Negative errno when the code could not be
 * checked or the counter could not be persisted (the code is then NOT
 * accepted): the errors of helpdesk_load(), or of the write (-EROFS, -ENOSPC…).
 */
int helpdesk_verify_code(int root_fd, const Policy *p, const char *code, bool *ret_ok) _wur_;
/* The same, and on acceptance *ret_counter (NULL: not wanted) is the accepted
 * code's counter — the N of `lastgood helpdesk code --counter N`, which the
 * event of the safe boot names so the helpdesk can match it to its call. */
int helpdesk_verify_code_counter(int root_fd, const Policy *p, const char *code, bool *ret_ok,
                                 uint64_t *ret_counter) _wur_;
