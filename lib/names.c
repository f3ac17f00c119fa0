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
