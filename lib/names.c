/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/names.h"

#include "lib/paths.h"
#include "lib/rootfs.h"

/* ASCII only: isalnum() would follow the locale. */
static bool char_is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The N bytes at S are letters, digits or one of EXTRA (never NUL). */
static bool chars_in(const char *s, size_t n, const char *extra) {
        for (size_t i = 0; i < n; i++)
                if (!char_is_alnum(s[i]) && (s[i] == '\0' || !strchr(extra, s[i])))
                        return false;
        return true;
}

bool name_is_component(const char *s) {
        if (!s)
                return false;
        size_t n = strlen(s);
        /* The quarantine directory holds the registry beside one directory
         * per component. */
        return n >= 1 && n <= NAME_COMPONENT_MAX && s[0] != '.' && chars_in(s, n, "_.-") &&
               !streq(s, LASTGOOD_QUARANTINE_REGISTRY_NAME);
}

bool name_is_module_n(const char *s, size_t n) {
        return s && n >= 1 && n <= NAME_MODULE_MAX && chars_in(s, n, "_-");
}

bool name_is_module(const char *s) {
        return s && name_is_module_n(s, strlen(s));
}

bool name_module_equal(const char *a, const char *b) {
        for (;; a++, b++) {
                char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
                if (x != y)
                        return false;
                if (x == '\0')
                        return true;
        }
}

static char fold(char c, NameMatchFlags flags) {
        return (flags & NAME_MATCH_MODULE) && c == '-' ? '_' : c;
}

/* One pattern element at *PP against C; *PP moves past it. A '[' without
 * its ']' is a literal '[', as in fnmatch(3). */
static bool glob_one(const char **pp, char c, NameMatchFlags flags) {
        const char *p = *pp;
        char fc = fold(c, flags);
        if ((flags & NAME_MATCH_PATHNAME) && c == '/') {
                /* Only a '/' of the pattern separates components. */
                *pp = p + 1;
                return *p == '/';
        }
        if (*p == '?') {
                *pp = p + 1;
                return true;
        }
        if (*p == '[') {
                const char *q = p + 1;
                bool negate = *q == '!' || *q == '^';
                if (negate)
                        q++;
                bool hit = false;
                const char *start = q;
                for (; *q && (*q != ']' || q == start); q++) {
                        char lo = *q;
                        if (q[1] == '-' && q[2] && q[2] != ']') {
                                if (c >= lo && c <= q[2])
                                        hit = true;
                                q += 2;
                        } else if (fold(lo, flags) == fc)
                                hit = true;
                }
                if (*q == ']') {
                        *pp = q + 1;
                        return hit != negate;
                }
                /* no closing ']': a literal '[' */
        }
        if (*p == '\\' && p[1])
                p++;
        *pp = p + 1;
        return fold(*p, flags) == fc;
}

/* name_glob_match() for a PATTERN without '*', '?', '[' or '\\' (most
 * exclude paths): the same answers from string compares, which the walk
 * asks once per entry. */
static bool literal_match(const char *pattern, const char *s, NameMatchFlags flags) {
        size_t pl = strlen(pattern), sl = strlen(s);
        if (pl == sl)
                return memcmp(pattern, s, pl) == 0;
        if (pl < sl) /* S lies below what matched */
                return (flags & NAME_MATCH_LEADING_DIR) && s[pl] == '/' && memcmp(pattern, s, pl) == 0;
        /* S is a leading part of the pattern. */
        return ((flags & NAME_MATCH_TRUNCATED) || ((flags & NAME_MATCH_ANCESTOR) && pattern[sl] == '/')) &&
               memcmp(pattern, s, sl) == 0;
}

bool name_glob_match(const char *pattern, const char *s, NameMatchFlags flags) {
        if (!pattern || !s)
                return false;
        if (!(flags & NAME_MATCH_MODULE) && !strpbrk(pattern, "*?[\\"))
                return literal_match(pattern, s, flags);
        /* Classic star backtracking: on a mismatch, only the last '*' takes
         * one more character, so the cost stays O(|pattern| * |s|). */
        const char *p = pattern, *star_p = NULL, *star_s = NULL;
        for (;;) {
                if (*p == '*') {
                        while (*p == '*')
                                p++;
                        star_p = p;
                        star_s = s;
                        continue;
                }
                if (*s == '\0') {
                        /* A truncated name: whatever pattern is left, some
                         * continuation of S matches it. A directory above a
                         * match: the pattern goes on with a component. */
                        if (*p == '\0' || (flags & NAME_MATCH_TRUNCATED) ||
                            ((flags & NAME_MATCH_ANCESTOR) && *p == '/'))
                                return true;
                } else if (*p == '\0' && *s == '/' && (flags & NAME_MATCH_LEADING_DIR))
                        return true; /* S lies below what matched */
                else if (*p != '\0' && glob_one(&p, *s, flags)) {
                        s++;
                        continue;
                }
                /* With PATHNAME a '*' never takes a '/', and since an
                 * earlier one cannot either, the components line up: this
                 * was the last chance. */
                if (!star_p || *star_s == '\0' || ((flags & NAME_MATCH_PATHNAME) && *star_s == '/'))
                        return false;
                p = star_p;
                s = ++star_s;
        }
}

bool name_module_match(const char *pattern, const char *name) {
        return name_glob_match(pattern, name, NAME_MATCH_MODULE);
}

bool name_has_glob(const char *s) {
        return s && strpbrk(s, "*?[");
}

typedef bool (*CharClassFn)(char c);

static bool char_is_module(char c) {
        return char_is_alnum(c) || c == '_' || c == '-';
}

static bool char_is_comm(char c) {
        return c >= 0x20 && c < 0x7f;
}

static bool char_is_bpf(char c) {
        return char_is_alnum(c) || c == '_' || c == '.';
}

/* Walks the glob S as name_glob_match() reads it: every character it can
 * match literally (inside brackets too) must be in CLASS; '\' escapes only
 * when ESCAPES, and never inside brackets (fnmatch(3) and name_glob_match()
 * would read it differently there). A '[' must have its ']'. *ret_chars: the
 * characters a matching name needs ('*' needs none); *ret_ends_star: the
 * last element is a '*'. */
static bool pattern_scan(const char *s, CharClassFn class, bool escapes, size_t *ret_chars, bool *ret_ends_star) {
        size_t n = 0;
        bool star = false;
        for (const char *p = s; *p;) {
                star = *p == '*';
                if (*p == '*' || *p == '?') {
                        n += *p == '?';
                        p++;
                        continue;
                }
                if (*p == '[') {
                        const char *q = p + 1;
                        if (*q == '!' || *q == '^')
                                q++;
                        const char *start = q;
                        for (; *q && (*q != ']' || q == start); q++) {
                                if (*q == '\\' || !class(*q))
                                        return false;
                                if (q[1] == '-' && q[2] && q[2] != ']') {
                                        if (q[2] == '\\' || !class(q[2]) || q[2] < q[0])
                                                return false; /* a reversed range matches nothing */
                                        q += 2;
                                }
                        }
                        if (*q != ']')
                                return false;
                        n++;
                        p = q + 1;
                        continue;
                }
                if (*p == '\\') {
                        if (!escapes || !p[1])
                                return false;
                        p++;
                }
                if (!class(*p))
                        return false;
                n++;
                p++;
        }
        *ret_chars = n;
        *ret_ends_star = star;
        return true;
}

static bool pattern_ok(const char *s, CharClassFn class, bool escapes, size_t *ret_chars, bool *ret_ends_star) {
        size_t len = s ? strlen(s) : 0;
        return len >= 1 && len <= NAME_PATTERN_MAX && pattern_scan(s, class, escapes, ret_chars, ret_ends_star);
}

bool name_is_module_pattern(const char *s) {
        size_t n;
        bool star;
        if (!name_has_glob(s))
                return name_is_module(s);
        /* No module name is longer than NAME_MODULE_MAX: a pattern that
         * needs more characters matches nothing. */
        return pattern_ok(s, char_is_module, false, &n, &star) && n <= NAME_MODULE_MAX;
}

void name_module_pattern_normalize(char *s) {
        bool bracket = false;
        for (char *p = s; p && *p; p++) {
                if (!bracket && *p == '[') {
                        bracket = true;
                        if (p[1] == '!' || p[1] == '^')
                                p++;
                        continue;
                }
                if (bracket && *p == ']')
                        bracket = false;
                else if (!bracket && *p == '-')
                        *p = '_';
        }
}

bool name_is_process_pattern(const char *s) {
        size_t n;
        bool star;
        if (!pattern_ok(s, char_is_comm, true, &n, &star))
                return false;
        size_t len = strlen(s);
        if (s[0] == ' ' || (s[len - 1] == ' ' && (len < 2 || s[len - 2] != '\\')))
                return false; /* invisible in a crash record's "Comm: x Not tainted" */
        return n <= NAME_COMM_MAX || star;
}

bool name_is_panic_pattern(const char *s) {
        size_t n;
        bool star;
        if (!pattern_ok(s, char_is_comm, true, &n, &star))
                return false;
        size_t len = strlen(s);
        return s[0] != ' ' && (s[len - 1] != ' ' || (len >= 2 && s[len - 2] == '\\'));
}

bool name_is_bpf_pattern(const char *s) {
        size_t n;
        bool star;
        return pattern_ok(s, char_is_bpf, false, &n, &star);
}

/* S ends in a unit type suffix (".service", …) after at least one character. */
static bool unit_suffix_ok(const char *s) {
        static const char *const suffixes[] = { ".service",   ".socket", ".device", ".mount",
                                                ".automount", ".swap",   ".target", ".path",
                                                ".timer",     ".slice",  ".scope" };
        const char *dot = strrchr(s, '.');
        if (!dot || dot == s)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (streq(dot, suffixes[i]))
                        return true;
        return false;
}

bool name_is_unit(const char *s) {
        if (!s)
                return false;
        size_t n = strlen(s);
        if (n < 1 || n > NAME_FILE_MAX || s[0] == '.' || !chars_in(s, n, ":_.@\\-"))
                return false;
        return unit_suffix_ok(s);
}

static bool char_is_unit_glob(char c) {
        /* A unit name's characters but '\' (an escape in a glob; systemd's
         * "\x2d" spelling needs a plain name). */
        return char_is_alnum(c) || (c != '\0' && strchr(":_.@-", c));
}

bool name_is_unit_pattern(const char *s) {
        size_t n;
        bool star;
        if (!name_has_glob(s))
                return name_is_unit(s);
        if (s[0] == '.' || !pattern_ok(s, char_is_unit_glob, false, &n, &star) || !unit_suffix_ok(s))
                return false;
        /* The suffix is literal: "foo.*" would mask every type, "foo*" too. */
        return !name_has_glob(strrchr(s, '.'));
}

const char *name_content_path_refusal(const char *s) {
        static const char *const virtual[] = { "/proc", "/sys", "/dev", "/run" };
        /* Lastgood's own state and configuration, and the file that keeps
         * quarantined modules from loading: content at or below one of them
         * would let a restore roll back the recovery itself, or the policy. */
        static const char *const own[] = { LASTGOOD_STATE_DIR, LASTGOOD_CONFIG_DIR,
                                           LASTGOOD_QUARANTINE_MODPROBE_CONF };
        /* Directories lastgood writes into: never content, nor an ancestor. */
        static const char *const written[] = { MODPROBE_CONF_DIR, SYSTEMD_SYSTEM_DIR };
        /* The system's own directories (the one list, lastgood-policy(5)):
         * restoring or moving one aside rolls back far more than a component.
         * What lies below them may be content ("/etc/sensor", "/usr/lib/sensor"). */
        static const char *const system[] = {
                "/",
                "/bin",
                "/boot",
                "/boot/efi",
                "/efi",
                "/etc",
                "/etc/default",
                "/etc/systemd",
                "/home",
                "/lib",
                "/lib/modules",
                "/lib32",
                "/lib64",
                "/opt",
                "/root",
                "/sbin",
                "/srv",
                "/tmp",
                "/usr",
                "/usr/bin",
                "/usr/lib",
                "/usr/lib/modules",
                "/usr/lib/systemd",
                "/usr/lib64",
                "/usr/libexec",
                "/usr/local",
                "/usr/sbin",
                "/usr/share",
                "/var",
                "/var/lib",
                "/var/opt",
                "/var/tmp",
        };
        if (!s || !path_is_normalized_absolute(s))
                return "not a normalized absolute path";
        if (name_has_glob(s))
                return "a glob (content paths are literal)";
        for (const char *p = s + 1; *p;) {
                size_t len = strcspn(p, "/");
                if (len > NAME_FILE_MAX)
                        return "a path with a component too long for lastgood's file names";
                p += len;
                if (*p == '/')
                        p++;
        }
        for (size_t i = 0; i < ELEMENTSOF(virtual); i++)
                if (path_is_under(s, virtual[i]))
                        return "in a virtual file system (/proc, /sys, /dev, /run)";
        for (size_t i = 0; i < ELEMENTSOF(system); i++)
                if (streq(s, system[i]))
                        return "a system directory";
        for (size_t i = 0; i < ELEMENTSOF(written); i++)
                if (path_is_under(written[i], s))
                        return "a directory lastgood writes into, or holds one";
        for (size_t i = 0; i < ELEMENTSOF(own); i++)
                if (path_is_under(s, own[i]) || path_is_under(own[i], s))
                        return "lastgood's own state or configuration, or holds it";
        return NULL;
}

bool name_is_content_path(const char *s) {
        return !name_content_path_refusal(s);
}

static bool char_is_path(char c) {
        /* Any byte of a file name (UTF-8 included) but '/' and controls. */
        return (unsigned char) c >= 0x20 && c != 0x7f && c != '/';
}

bool name_is_exclude_pattern(const char *s) {
        if (!s || !path_is_normalized_absolute(s) || streq(s, "/"))
                return false;
        for (const char *p = s + 1; *p;) {
                size_t len = strcspn(p, "/");
                char component[NAME_FILE_MAX + 1];
                size_t n;
                bool star;
                if (len > NAME_FILE_MAX)
                        return false;
                memcpy(component, p, len);
                component[len] = '\0';
                /* Escapes allowed (a file name may hold a '*'), but not one
                 * that would eat the '/' after it. */
                if (!pattern_scan(component, char_is_path, true, &n, &star))
                        return false;
                p += len;
                if (*p == '/')
                        p++;
        }
        return true;
}

bool name_exclude_is_under(const char *pattern, const char *content) {
        if (!pattern || !content || streq(content, "/"))
                return false;
        /* Compare as the glob reads it: an escaped character is itself, an
         * unescaped glob character can match anything, so it cannot vouch
         * for the content prefix. */
        const char *p = pattern;
        for (const char *c = content; *c; c++, p++) {
                if (*p == '\\')
                        p++;
                else if (strchr("*?[", *p))
                        return false;
                if (*p != *c)
                        return false;
        }
        return p[0] == '/' && p[1] != '\0';
}

bool name_exclude_match(char *const *exclude, const char *path, NameMatchFlags flags) {
        if (!path)
                return false;
        if (path[0] == '/')
                path++;
        for (char *const *e = exclude; e && *e; e++)
                /* Entries are absolute (name_is_exclude_pattern()). */
                if ((*e)[0] == '/' && name_glob_match(*e + 1, path, NAME_MATCH_PATHNAME | flags))
                        return true;
        return false;
}
