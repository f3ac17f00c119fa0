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

bool name_glob_match(const char *pattern, const char *s, NameMatchFlags flags) {
        if (!pattern || !s)
                return false;
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
                         * continuation of S matches it. */
                        if (*p == '\0' || (flags & NAME_MATCH_TRUNCATED))
                                return true;
                } else if (*p != '\0' && glob_one(&p, *s, flags)) {
                        s++;
                        continue;
                }
                if (!star_p || *star_s == '\0')
                        return false;
                p = star_p;
                s = ++star_s;
        }
}

bool name_module_match(const char *pattern, const char *name) {
        return name_glob_match(pattern, name, NAME_MATCH_MODULE);
}

bool name_is_unit(const char *s) {
        static const char *const suffixes[] = { ".service",   ".socket", ".device", ".mount",
                                                ".automount", ".swap",   ".target", ".path",
                                                ".timer",     ".slice",  ".scope" };
        if (!s)
                return false;
        size_t n = strlen(s);
        if (n < 1 || n > NAME_FILE_MAX || s[0] == '.' || !chars_in(s, n, ":_.@\\-"))
                return false;
        const char *dot = strrchr(s, '.');
        if (!dot)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (streq(dot, suffixes[i]))
                        return true;
        return false;
}

bool name_is_content_path(const char *s) {
        static const char *const virtual[] = { "/proc", "/sys", "/dev", "/run" };
        static const char *const ours[] = { LASTGOOD_STATE_DIR, MODPROBE_CONF_DIR, SYSTEMD_SYSTEM_DIR };
        if (!s || !path_is_normalized_absolute(s))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(virtual); i++)
                if (path_is_under(s, virtual[i]))
                        return false;
        if (path_is_under(s, LASTGOOD_STATE_DIR))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(ours); i++)
                if (path_is_under(ours[i], s))
                        return false;
        for (const char *p = s + 1; *p;) {
                size_t len = strcspn(p, "/");
                if (len > NAME_FILE_MAX)
                        return false;
                p += len;
                if (*p == '/')
                        p++;
        }
        return true;
}
