/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/module-expand.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "lib/names.h"
#include "lib/rootfs.h"

typedef struct Walk {
        char *const *globs;
        char **found; /* matching names, unsorted, each once */
        size_t n_seen;
        unsigned depth;
        bool capped;
} Walk;

/* "foo-bar.ko.zst" -> "foo_bar"; false when NAME is no module file. */
static bool module_file_name(const char *name, char buf[static NAME_MODULE_MAX + 1]) {
        static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };
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

static int walk_dir(int dir_fd, Walk *w);

static bool module_listed(char *const *l, const char *name) {
        for (; l && *l; l++)
                if (name_module_equal(*l, name))
                        return true;
        return false;
}

static int walk_one(int dir_fd, const char *name, void *userdata) {
        Walk *w = userdata;
        if (++w->n_seen > MODULE_EXPAND_SCAN_MAX) {
                w->capped = true;
                return 1;
        }
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode)) {
                if (w->depth >= MODULE_EXPAND_DEPTH) {
                        w->capped = true;
                        return 0;
                }
                _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return errno == ENOENT ? 0 : -errno;
                w->depth++;
                int r = walk_dir(fd, w);
                w->depth--;
                return r;
        }
        char mod[NAME_MODULE_MAX + 1];
        if (!S_ISREG(st.st_mode) || !module_file_name(name, mod) || strv_contains(w->found, mod))
                return 0;
        for (char *const *g = w->globs; *g; g++) {
                if (!name_module_match(*g, mod))
                        continue;
                if (strv_length(w->found) >= MODULE_EXPAND_MAX) {
                        w->capped = true;
                        return 1;
                }
                return strv_push(&w->found, mod);
        }
        return 0;
}

static int walk_dir(int dir_fd, Walk *w) {
        int r = dir_for_each_at(dir_fd, walk_one, w);
        return r < 0 ? r : 0;
}

void module_expansion_done(ModuleExpansion *e) {
        strv_free(e->names);
        strv_free(e->unmatched);
        *e = (ModuleExpansion) {};
}

int module_expand(int root_fd, char *const *patterns, ModuleExpansion *ret) {
        _cleanup_strv_free_ char **names = NULL, **globs = NULL, **unmatched = NULL;
        int r;

        for (char *const *p = patterns; p && *p; p++) {
                if (!name_is_module_pattern(*p))
                        return -EINVAL;
                if (name_has_glob(*p)) {
                        if (!strv_contains(globs, *p) && (r = strv_push(&globs, *p)) < 0)
                                return r;
                        continue;
                }
                /* Kept as written ('-' or '_'): modprobe reads both alike. */
                if (!module_listed(names, *p) && (r = strv_push(&names, *p)) < 0)
                        return r;
        }

        Walk w = { .globs = globs };
        if (globs) {
                _cleanup_close_ int fd = -1;
                r = root_open_dir(root_fd, MODULE_EXPAND_DIR, false, 0, &fd);
                if (r >= 0)
                        r = walk_dir(fd, &w);
                if (r < 0 && r != -ENOENT) {
                        strv_free(w.found);
                        return r;
                }
        }
        _cleanup_strv_free_ char **found = w.found;
        strv_sort(found);
        for (char **g = globs; g && *g; g++) {
                bool hit = false;
                for (char **f = found; f && *f && !hit; f++)
                        hit = name_module_match(*g, *f);
                if (!hit && (r = strv_push(&unmatched, *g)) < 0)
                        return r;
        }
        bool capped = w.capped;
        for (char **f = found; f && *f; f++) {
                if (module_listed(names, *f))
                        continue;
                if (strv_length(names) >= MODULE_EXPAND_MAX) {
                        capped = true;
                        break;
                }
                if ((r = strv_push(&names, *f)) < 0)
                        return r;
        }
        *ret = (ModuleExpansion) { .names = TAKE_PTR(names), .unmatched = TAKE_PTR(unmatched), .capped = capped };
        return 0;
}
