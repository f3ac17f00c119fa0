/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/name-expand.h"

#include <fcntl.h>

#include "lib/rootfs.h"

typedef struct Walk {
        const NameExpandSpec *spec;
        char *const *globs;
        char **found; /* matching names, unsorted, each once */
        size_t n_seen;
        unsigned depth;
        bool capped;
} Walk;

static bool listed(const NameExpandSpec *spec, char *const *l, const char *name) {
        for (; l && *l; l++)
                if (spec->equal(*l, name))
                        return true;
        return false;
}

static int walk_dir(int dir_fd, Walk *w);

static int walk_one(int dir_fd, const char *name, void *userdata) {
        Walk *w = userdata;
        if (++w->n_seen > w->spec->scan_max) {
                w->capped = true;
                return 1;
        }
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode)) {
                if (w->spec->depth == 0)
                        return 0;
                if (w->depth >= w->spec->depth) {
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
        char buf[NAME_FILE_MAX + 1];
        if (!w->spec->file_name(name, &st, buf) || listed(w->spec, w->found, buf))
                return 0;
        for (char *const *g = w->globs; *g; g++) {
                if (!w->spec->match(*g, buf))
                        continue;
                if (strv_length(w->found) >= w->spec->max) {
                        w->capped = true;
                        return 1;
                }
                return strv_push(&w->found, buf);
        }
        return 0;
}

static int walk_dir(int dir_fd, Walk *w) {
        int r = dir_for_each_at(dir_fd, walk_one, w);
        return r < 0 ? r : 0;
}

void name_expansion_done(NameExpansion *e) {
        strv_free(e->names);
        strv_free(e->unmatched);
        *e = (NameExpansion) {};
}

int name_expand(int root_fd, const NameExpandSpec *spec, char *const *patterns, NameExpansion *ret) {
        _cleanup_strv_free_ char **names = NULL, **globs = NULL, **unmatched = NULL;
        int r;

        for (char *const *p = patterns; p && *p; p++) {
                if (!spec->is_pattern(*p))
                        return -EINVAL;
                if (name_has_glob(*p)) {
                        if (!strv_contains(globs, *p) && (r = strv_push(&globs, *p)) < 0)
                                return r;
                        continue;
                }
                if (!listed(spec, names, *p) && (r = strv_push(&names, *p)) < 0)
                        return r;
        }

        Walk w = { .spec = spec, .globs = globs };
        for (const char *const *d = spec->dirs; globs && *d && !w.capped; d++) {
                _cleanup_close_ int fd = -1;
                r = root_open_dir(root_fd, *d, false, 0, &fd);
                if (r >= 0)
                        r = walk_dir(fd, &w);
                if (r < 0 && r != -ENOENT && r != -ENOTDIR) {
                        strv_free(w.found);
                        return r;
                }
        }
        _cleanup_strv_free_ char **found = w.found;
        strv_sort(found);
        for (char **g = globs; g && *g; g++) {
                bool hit = false;
                for (char **f = found; f && *f && !hit; f++)
                        hit = spec->match(*g, *f);
                if (!hit && (r = strv_push(&unmatched, *g)) < 0)
                        return r;
        }
        bool capped = w.capped;
        for (char **f = found; f && *f; f++) {
                if (listed(spec, names, *f))
                        continue;
                if (strv_length(names) >= spec->max) {
                        capped = true;
                        break;
                }
                if ((r = strv_push(&names, *f)) < 0)
                        return r;
        }
        *ret = (NameExpansion) { .names = TAKE_PTR(names), .unmatched = TAKE_PTR(unmatched), .capped = capped };
        return 0;
}
