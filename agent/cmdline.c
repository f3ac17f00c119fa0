/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/cmdline.h"

#include <fcntl.h>

#include "lib/fileio.h"

int cmdline_get(const char *cmdline, const char *key, char **ret) {
        _cleanup_free_ char *buf = NULL;
        if (!cmdline) {
                _cleanup_close_ int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                int r = read_full_fd(fd, 64 * 1024, &buf, NULL);
                if (r < 0)
                        return r;
                cmdline = buf;
        }

        size_t klen = strlen(key);
        _cleanup_free_ char *found = NULL;
        const char *p = cmdline;
        for (;;) {
                while (*p == ' ' || *p == '\t' || *p == '\n')
                        p++;
                if (!*p)
                        break;
                /* One word, honouring double quotes anywhere in it. */
                _cleanup_free_ char *word = malloc(strlen(p) + 1);
                if (!word)
                        return -ENOMEM;
                size_t n = 0;
                bool quoted = false;
                for (; *p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
                        if (*p == '"')
                                quoted = !quoted;
                        else
                                word[n++] = *p;
                }
                word[n] = '\0';
                if (strneq(word, key, klen) && (word[klen] == '=' || word[klen] == '\0')) {
                        free(found);
                        found = strdup(word[klen] == '=' ? word + klen + 1 : "");
                        if (!found)
                                return -ENOMEM;
                }
        }
        if (!found)
                return 0;
        *ret = TAKE_PTR(found);
        return 1;
}
