/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Globs of the policy → the concrete names installed beneath the root, for
 * the steps that write what takes no globs (modprobe.d lines, unit masks).
 * One walk for every kind (module-expand, unit-expand); a spec says where to
 * look and how a file name becomes a name.
 *
 * A plain name is kept as written (blocked even when not installed: a later
 * package may bring it). A glob is matched against the names of the files in
 * the spec's directories (opened beneath the root fd: a symlink on the way
 * cannot lead out of it), and, up to the spec's depth, below them; entries
 * are looked at without following symlinks and a symlinked directory is
 * never entered. Bounded: at most spec->max names, spec->scan_max directory
 * entries; capped is then set (the caller says so).
 */

#include <sys/stat.h>

#include "lib/names.h"

typedef struct NameExpandSpec {
        const char *const *dirs; /* beneath the root, NULL-terminated; a missing one holds nothing */
        unsigned depth;          /* levels of subdirectories walked (0: none, and not a cap) */
        size_t max;              /* names in all, at most */
        size_t scan_max;         /* directory entries looked at, at most */
        /* The name the file FILE (lstat: ST) stands for, in BUF; false: none. */
        bool (*file_name)(const char *file, const struct stat *st, char buf[static NAME_FILE_MAX + 1]);
        bool (*is_pattern)(const char *s);                    /* a valid entry (name or glob) */
        bool (*match)(const char *pattern, const char *name); /* a glob against a name */
        bool (*equal)(const char *a, const char *b);          /* two spellings of one name */
} NameExpandSpec;

typedef struct NameExpansion {
        char **names;     /* the plain names as written, then the globs' matches (sorted); each once */
        char **unmatched; /* globs that matched nothing installed */
        bool capped;      /* more than spec->max names, or the walk was cut short */
} NameExpansion;

/* Expands PATTERNS (NULL: none) as SPEC says. An entry SPEC does not accept
 * is -EINVAL. Returns 0, -EINVAL, -ENOMEM, or -errno of a directory that
 * could not be read. */
int name_expand(int root_fd, const NameExpandSpec *spec, char *const *patterns, NameExpansion *ret) _wur_;
void name_expansion_done(NameExpansion *e);
