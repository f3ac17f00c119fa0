/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/unit-expand.h"

/* A unit file, or a link to one (an alias, a mask): the name is the unit. */
static bool unit_file_name(const char *name, const struct stat *st, char buf[static NAME_FILE_MAX + 1]) {
        if (!(S_ISREG(st->st_mode) || S_ISLNK(st->st_mode)) || !name_is_unit(name))
                return false;
        strcpy(buf, name); /* name_is_unit(): at most NAME_FILE_MAX bytes */
        return true;
}

static bool unit_match(const char *pattern, const char *name) {
        return name_glob_match(pattern, name, 0);
}

static bool unit_equal(const char *a, const char *b) {
        return streq(a, b);
}

int unit_expand(int root_fd, char *const *patterns, NameExpansion *ret) {
        static const char *const dirs[] = { UNIT_EXPAND_DIRS, NULL };
        static const NameExpandSpec spec = {
                .dirs = dirs,
                .max = UNIT_EXPAND_MAX,
                .scan_max = UNIT_EXPAND_SCAN_MAX,
                .file_name = unit_file_name,
                .is_pattern = name_is_unit_pattern,
                .match = unit_match,
                .equal = unit_equal,
        };
        return name_expand(root_fd, &spec, patterns, ret);
}
