/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/helpdesk.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "lib/encode.h"
#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/rootfs.h"

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void helpdesk_secret_wipe(HelpdeskSecret *s) {
        explicit_bzero(s, sizeof *s);
}

void helpdesk_wipe_freep(char **p) {
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}
#define _cleanup_wipe_free_ _cleanup_(helpdesk_wipe_freep)

static int base32_value(char c) {
        if (c >= 'a' && c <= 'z')
                c = (char) (c - 'a' + 'A');
        const char *p = c ? strchr(base32_alphabet, c) : NULL;
        return p ? (int) (p - base32_alphabet) : -1;
}

static int base32_decode(const char *s, size_t len, uint8_t *out, size_t max, size_t *ret_len) {
        while (len > 0 && s[len - 1] == '=')
                len--;
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
                int v = base32_value(s[i]);
                if (v < 0)
                        return -EBADMSG;
                acc = (acc << 5) | (uint32_t) v;
                bits += 5;
                if (bits >= 8) {
                        if (n >= max)
                                return -EBADMSG;
                        bits -= 8;
                        out[n++] = (uint8_t) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        /* Leftover bits are the encoder's zero padding: a full extra
         * character (5 bits or more) means a truncated or garbled key. */
        if (bits >= 5)
                return -EBADMSG;
        *ret_len = n;
        return 0;
}

int helpdesk_key_parse(const char *s, uint8_t ret_key[static HOTP_KEY_MAX], size_t *ret_len) {
        /* Escrowed keys come back typed or pasted: drop separators first. */
        char clean[4 * HOTP_KEY_MAX];
        size_t n = 0;
        bool all_hex = true;
        for (const char *p = s; *p; p++) {
                if (strchr(" \t\r\n-", *p))
                        continue;
                if (n >= sizeof clean - 1)
                        return -EBADMSG;
                clean[n++] = *p;
                if (unhexchar(*p) < 0)
                        all_hex = false;
        }
        clean[n] = '\0';

        uint8_t key[HOTP_KEY_MAX];
        size_t len = 0;
        /* Base32 never uses 0, 1, 8 or 9, so hex wins only when it parses as
         * hex; a base32 key made only of A-F and 2-7 is astronomically rare. */
        int r = all_hex ? hex_decode_to(clean, n, key, sizeof key, &len) : -EBADMSG;
        if (r < 0)
                r = base32_decode(clean, n, key, sizeof key, &len);
        explicit_bzero(clean, sizeof clean);
        if (r >= 0 && (len < HOTP_KEY_MIN || len > HOTP_KEY_MAX))
                r = -EBADMSG;
        if (r < 0) {
                explicit_bzero(key, sizeof key);
                return r;
        }
        memcpy(ret_key, key, len);
        explicit_bzero(key, sizeof key);
        *ret_len = len;
        return 0;
}

int helpdesk_key_to_base32(const uint8_t *key, size_t len, size_t group, char **ret) {
        size_t chars = (len * 8 + 4) / 5;
        char *s = malloc(chars * 2 + 1);
        if (!s)
                return -ENOMEM;
        size_t n = 0, emitted = 0;
        uint32_t acc = 0;
        unsigned bits = 0;
        for (size_t i = 0; i <= len; i++) {
                if (i < len) {
                        acc = (acc << 8) | key[i];
                        bits += 8;
                } else if (bits > 0) {
                        acc <<= 5 - bits; /* zero-pad the last character */
                        bits = 5;
                }
                while (bits >= 5) {
                        if (group > 0 && emitted > 0 && emitted % group == 0)
                                s[n++] = ' ';
                        bits -= 5;
                        s[n++] = base32_alphabet[(acc >> bits) & 0x1f];
                        emitted++;
                }
                acc &= (1u << bits) - 1;
        }
        s[n] = '\0';
        *ret = s;
        return 0;
}

int helpdesk_secret_parse(const char *buf, size_t len, HelpdeskSecret *ret) {
        _cleanup_(helpdesk_secret_wipep) HelpdeskSecret s = { .algorithm = HOTP_SHA256 };
        bool have_key = false, have_alg = false, have_counter = false;

        if (memchr(buf, '\0', len))
                return -EBADMSG;
        const char *p = buf, *end = buf + len;
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                if (!eol)
                        eol = end;
                size_t l = (size_t) (eol - p);
                if (l > 0 && p[l - 1] == '\r')
                        l--;
                if (l == 0 || p[0] == '#') {
                        p = eol + 1;
                        continue;
                }
                char line[256];
                if (l >= sizeof line)
                        return -EBADMSG;
                memcpy(line, p, l);
                line[l] = '\0';
                p = eol + 1;

                char *eq = strchr(line, '=');
                int r = 0;
                if (!eq)
                        r = -EBADMSG;
                else {
                        *eq = '\0';
                        const char *k = line, *v = eq + 1;
                        if (streq(k, "algorithm") && !have_alg) {
                                int a = hotp_algorithm_from_string(v);
                                if (a < 0)
                                        r = -EBADMSG;
                                else
                                        s.algorithm = (HotpAlgorithm) a;
                                have_alg = true;
                        } else if (streq(k, "counter") && !have_counter) {
                                if (parse_u64(v, &s.counter) < 0)
                                        r = -EBADMSG;
                                have_counter = true;
                        } else if (streq(k, "key") && !have_key) {
                                r = hex_decode_to(v, strlen(v), s.key, sizeof s.key, &s.key_len);
                                if (r >= 0 && s.key_len < HOTP_KEY_MIN)
                                        r = -EBADMSG;
                                have_key = true;
                        } else
                                r = -EBADMSG; /* unknown or repeated key */
                }
                explicit_bzero(line, sizeof line);
                if (r < 0)
                        return r;
        }
        if (!have_key)
                return -EBADMSG;
        *ret = s;
        return 0;
}

int helpdesk_secret_format(const HelpdeskSecret *s, char **ret) {
        _cleanup_wipe_free_ char *hex = NULL;
        int r = hex_encode(s->key, s->key_len, &hex);
        if (r < 0)
                return r;
        char *out = NULL;
        if (asprintf(&out,
                     "# lastgood helpdesk secret: HOTP (RFC 4226), made by 'lastgood helpdesk enroll'.\n"
                     "# Root-only. The helpdesk keeps the key it showed; do not copy this file.\n"
                     "algorithm=%s\n"
                     "counter=%llu\n"
                     "key=%s\n",
                     hotp_algorithm_to_string(s->algorithm), (unsigned long long) s->counter, hex) < 0)
                return -ENOMEM;
        *ret = out;
        return 0;
}

static int secret_write(int dir_fd, const char *name, const HelpdeskSecret *s) {
        _cleanup_wipe_free_ char *buf = NULL;
        int r = helpdesk_secret_format(s, &buf);
        if (r < 0)
                return r;
        /* Root-only from the first byte: write_atomic_at creates the temp
         * file with this mode. */
        return write_atomic_at(dir_fd, name, buf, strlen(buf), 0600);
}

/* The directory of safe_mode.secret_file beneath root_fd and the file's name
 * in it (pointing into the policy). */
static int secret_open_parent(int root_fd, const Policy *p, bool create, int *ret_dir_fd, const char **ret_name) {
        if (!p->safe_mode.secret_file || !*p->safe_mode.secret_file)
                return -EINVAL;
        return root_open_parent(root_fd, p->safe_mode.secret_file, create, ret_dir_fd, ret_name);
}

int helpdesk_enroll(int root_fd, const Policy *p, bool force, HelpdeskSecret *ret) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        int r = secret_open_parent(root_fd, p, true, &dir_fd, &name);
        if (r < 0)
                return r;

        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                /* Re-enrolling invalidates the escrowed key: only on request. */
                if (!force)
                        return -EEXIST;
        } else if (errno != ENOENT)
                return -errno;

        _cleanup_(helpdesk_secret_wipep)
                HelpdeskSecret s = { .algorithm = HOTP_SHA256, .key_len = HELPDESK_KEY_SIZE };
        r = random_bytes(s.key, s.key_len);
        if (r < 0)
                return r;

        r = fault_point("helpdesk-enroll");
        if (r < 0)
                return r;
        r = secret_write(dir_fd, name, &s);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

/* Opens and checks the secret file in dir_fd. */
static int secret_read_at(int dir_fd, const char *name, HelpdeskSecret *ret) {
        struct stat st;
        _cleanup_close_ int fd = openat_regular(dir_fd, name, &st);
        if (fd == -EBADF)
                return -EPERM; /* not a regular file: not a secret we made */
        if (fd < 0)
                return fd;
        /* Whoever can read the key can mint codes; whoever can write it can
         * reset the counter and replay them. */
        if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
                return -EPERM;

        _cleanup_wipe_free_ char *buf = NULL;
        size_t len;
        int r = read_full_fd(fd, HELPDESK_FILE_MAX, &buf, &len);
        if (r < 0)
                return r;
        return helpdesk_secret_parse(buf, len, ret);
}

int helpdesk_load(int root_fd, const Policy *p, HelpdeskSecret *ret) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        int r = secret_open_parent(root_fd, p, false, &dir_fd, &name);
        if (r < 0)
                return r;
        return secret_read_at(dir_fd, name, ret);
}

static bool code_well_formed(const char *code) {
        size_t n = 0;
        for (const char *c = code; *c; c++, n++)
                if (*c < '0' || *c > '9')
                        return false;
        return n == HOTP_DIGITS;
}

int helpdesk_verify_code(int root_fd, const Policy *p, const char *code, bool *ret_ok) {
        return helpdesk_verify_code_counter(root_fd, p, code, ret_ok, NULL);
}

int helpdesk_verify_code_counter(int root_fd, const Policy *p, const char *code, bool *ret_ok,
                                 uint64_t *ret_counter) {
        if (!code || !code_well_formed(code)) {
                *ret_ok = false;
                return 0;
        }

        _cleanup_close_ int dir_fd = -1;
        const char *name;
        int r = secret_open_parent(root_fd, p, false, &dir_fd, &name);
        if (r < 0)
                return r;
        /* Serialise verifiers (boot vs. a manual `helpdesk verify`): both
         * could otherwise accept the same code before either wrote. The file
         * itself is replaced by rename, so lock its directory. */
        if (flock(dir_fd, LOCK_EX) < 0)
                return -errno;

        _cleanup_(helpdesk_secret_wipep) HelpdeskSecret s = {};
        r = secret_read_at(dir_fd, name, &s);
        if (r < 0)
                return r;

        uint32_t window = p->safe_mode.code_window;
        if (window < 1)
                window = 1;
        if (window > HELPDESK_WINDOW_MAX)
                window = HELPDESK_WINDOW_MAX;

        /* Walk the whole window whatever matches, so the time taken does not
         * tell how far ahead a guess landed. */
        uint64_t match = 0;
        bool found = false;
        for (uint32_t i = 0; i < window; i++) {
                if (s.counter > UINT64_MAX - i - 1)
                        break;
                char expected[HOTP_DIGITS_MAX + 1];
                r = hotp_code(s.algorithm, s.key, s.key_len, s.counter + i, HOTP_DIGITS, expected);
                if (r < 0)
                        return r;
                bool eq = hotp_code_equal(expected, code);
                explicit_bzero(expected, sizeof expected);
                if (eq && !found) {
                        match = s.counter + i;
                        found = true;
                }
        }
        if (!found) {
                *ret_ok = false;
                return 0;
        }

        /* Burn this code and every earlier one before saying yes: a power
         * cut after this point loses nothing but the safe-mode boot. */
        s.counter = match + 1;
        r = fault_point("helpdesk-counter");
        if (r < 0)
                return r;
        r = secret_write(dir_fd, name, &s);
        if (r < 0)
                return r;
        if (ret_counter)
                *ret_counter = match;
        *ret_ok = true;
        return 0;
}
