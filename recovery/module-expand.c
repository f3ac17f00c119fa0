/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/module-expand.h"

/* "foo-bar.ko.zst" -> "foo_bar"; false when NAME is no module file. */
static bool module_file_name(const char *name, const struct stat *st, char buf[static NAME_FILE_MAX + 1]) {
        static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };
        if (!S_ISREG(st->st_mode))
                return false;
        size_t len = strlen(name);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t sl = strlen(suffixes[i]);
                if (len <= sl || !streq(name + len - sl, suffixes[i]))
                        continue;
                size_t n = len - sl;
                if (!name_is_module_n(name, n))
                        return false;
                for (size_t k = 0; k < n; k++)
                        buf[k] = name[k] == '-' ? '_' : name[k];
                buf[n] = '\0';
                return true;
        }
        return false;
}

int module_expand(int root_fd, char *const *patterns, ModuleExpansion *ret) {
        static const char *const dirs[] = { MODULE_EXPAND_DIR, NULL };
        static const NameExpandSpec spec = {
                .dirs = dirs,
                .depth = MODULE_EXPAND_DEPTH,
                .max = MODULE_EXPAND_MAX,
                .scan_max = MODULE_EXPAND_SCAN_MAX,
                .file_name = module_file_name,
                .is_pattern = name_is_module_pattern,
                .match = name_module_match,
                /* Kept as written ('-' or '_'): modprobe reads both alike. */
                .equal = name_module_equal,
        };
        return name_expand(root_fd, &spec, patterns, ret);
}
