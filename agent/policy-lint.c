/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `policy check`'s warnings: entries that name nothing on this machine
 * (agent/policy-lint.h).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "agent/policy-lint.h"
#include "lib/fileio.h"
#include "lib/names.h"
#include "lib/rootfs.h"
#include "recovery/unit-expand.h"

#define LINT_KMOD_SONAME "libkmod.so.2"
#define LINT_MODULES_DIR "/lib/modules"
/* The module index as kmod_dump_index() prints it: a real kernel's is
 * ~0.5 MB; bounded against a hostile tree. */
#define LINT_INDEX_MAX (64u * 1024u * 1024u)

/* "[WHERE: ]warning: [component 'C': ]MSG" onto p->warnings. */
_printf_(4, 0) static int warnv(Policy *p, const char *where, const Component *c, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL, *s = NULL;
        if (vasprintf(&msg, fmt, ap) < 0) {
                msg = NULL;
                return -ENOMEM;
        }
        if (asprintf(&s, "%s%swarning: %s%s%s%s", where ?: "", where ? ": " : "", c ? "component '" : "",
                     c ? c->name : "", c ? "': " : "", msg) < 0) {
                s = NULL;
                return -ENOMEM;
        }
        return strv_push(&p->warnings, s);
}

/* A warning about the check itself. */
_printf_(2, 3) static int warn(Policy *p, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = warnv(p, NULL, NULL, fmt, ap);
        va_end(ap);
        return r;
}

/* A warning about entry INDEX of C's list KEY, at the place it was written. */
_printf_(6, 7) static int warn_at(Policy *p, const PolicyOrigins *o, const Component *c, const char *key,
                                  size_t index, const char *fmt, ...) {
        const char *where = o ? policy_origin(o, c->name, key, index) : NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = warnv(p, where ?: "<policy>", c, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- content -------------------------------------------------------------- */

static int lint_content(int root_fd, Policy *p, const PolicyOrigins *o, const Component *c) {
        for (size_t i = 0; c->content && c->content[i]; i++) {
                int fd = root_openat(root_fd, c->content[i], O_PATH | O_CLOEXEC, 0);
                if (fd >= 0) {
                        close(fd);
                        continue;
                }
                if (fd == -ENOMEM)
                        return fd;
                errno = -fd;
                int r = fd == -ENOENT || fd == -ENOTDIR
                                ? warn_at(p, o, c, "content", i,
                                          "content path '%s' does not exist on this machine", c->content[i])
                                : warn_at(p, o, c, "content", i, "content path '%s' cannot be looked up: %m",
                                          c->content[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- units ---------------------------------------------------------------- */

static bool unit_installed(int root_fd, const char *unit) {
        static const char *const dirs[] = { UNIT_EXPAND_DIRS };
        char template[NAME_FILE_MAX + 1] = "";
        const char *at = strchr(unit, '@'), *dot = strrchr(unit, '.');
        if (at && dot && dot > at + 1 && (size_t) (at + 1 - unit) + strlen(dot) < sizeof template)
                /* "getty@tty1.service" is an instance of "getty@.service". */
                snprintf(template, sizeof template, "%.*s%s", (int) (at + 1 - unit), unit, dot);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_close_ int dfd = -1;
                if (root_open_dir(root_fd, dirs[i], false, 0, &dfd) < 0)
                        continue;
                if (exists_at(dfd, unit, NULL) > 0 || (template[0] && exists_at(dfd, template, NULL) > 0))
                        return true;
        }
        return false;
}

static int lint_units(int root_fd, Policy *p, const PolicyOrigins *o, const Component *c) {
        for (size_t i = 0; c->units && c->units[i]; i++) {
                const char *u = c->units[i];
                int r = 0;
                if (!name_has_glob(u)) {
                        if (!unit_installed(root_fd, u))
                                r = warn_at(p, o, c, "units", i,
                                            "unit '%s' is not installed (no unit file in /etc/systemd/system, "
                                            "/run/systemd/system, /usr/lib/systemd/system, /lib/systemd/system)",
                                            u);
                } else {
                        char *one[] = { (char *) u, NULL };
                        NameExpansion e = {};
                        r = unit_expand(root_fd, one, &e);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                errno = -r;
                                r = warn_at(p, o, c, "units", i, "units matching '%s' cannot be looked up: %m", u);
                        } else if (e.unmatched)
                                r = warn_at(p, o, c, "units", i, "no installed unit matches '%s'", u);
                        name_expansion_done(&e);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- kernel modules (libkmod, dlopen) -------------------------------------- */

typedef struct Kmod {
        void *dl;
        struct kmod_ctx *ctx;
        typeof(kmod_new) *ctx_new;
        typeof(kmod_unref) *unref;
        typeof(kmod_set_log_fn) *set_log_fn;
        typeof(kmod_dump_index) *dump_index;
        char **names; /* the names in modules.dep and modules.builtin */
} Kmod;

static void kmod_done(Kmod *k) {
        if (k->ctx)
                k->unref(k->ctx);
        if (k->dl)
                dlclose(k->dl);
        strv_free(k->names);
        *k = (Kmod) {};
}

static void kmod_log_nothing(void *data, int priority, const char *file, int line, const char *fn,
                             const char *format, va_list args) {
        /* Its messages would interleave with ours; failures are reported as warnings. */
}

/* 0 loaded, -ELIBACC no libkmod (its dlerror() in BUF). */
static int kmod_open_library(Kmod *k, char *buf, size_t size) {
        k->dl = dlopen(LINT_KMOD_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!k->dl) {
                snprintf(buf, size, "%s", dlerror() ?: "?");
                return -ELIBACC;
        }
#define SYM(field, name)                                                             \
        do {                                                                         \
                if (!(k->field = (typeof(k->field)) dlsym(k->dl, #name))) {          \
                        snprintf(buf, size, "%s lacks %s", LINT_KMOD_SONAME, #name); \
                        return -ELIBACC;                                             \
                }                                                                    \
        } while (0)
        SYM(ctx_new, kmod_new);
        SYM(unref, kmod_unref);
        SYM(set_log_fn, kmod_set_log_fn);
        SYM(dump_index, kmod_dump_index);
#undef SYM
        return 0;
}

/* Appends the first word of each line of the index TYPE to k->names. */
static int kmod_read_index(Kmod *k, enum kmod_index type) {
        _cleanup_close_ int fd = memfd_create("lastgood-kmod-index", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (k->dump_index(k->ctx, type, fd) < 0)
                return -ENOENT;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_full_fd(fd, LINT_INDEX_MAX, &buf, &len);
        if (r < 0)
                return r;
        /* One allocation for all: strv_push() per name would be quadratic. */
        size_t n = strv_length(k->names), lines = 1;
        for (size_t i = 0; i < len; i++)
                lines += buf[i] == '\n';
        char **names = realloc(k->names, (n + lines + 1) * sizeof(char *));
        if (!names)
                return -ENOMEM;
        k->names = names;
        names[n] = NULL;
        for (char *line = buf, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                line[strcspn(line, " \t:")] = '\0';
                if (!*line)
                        continue;
                if (!(names[n] = strdup(line)))
                        return -ENOMEM;
                names[++n] = NULL;
        }
        return 0;
}

static int lint_modules(Kmod *k, Policy *p, const PolicyOrigins *o, const Component *c, const char *kver) {
        for (size_t i = 0; c->kernel_modules && c->kernel_modules[i]; i++) {
                const char *m = c->kernel_modules[i];
                bool glob = name_has_glob(m), found = false;
                int r = 0;
                for (char **n = k->names; n && *n && !found; n++)
                        found = glob ? name_module_match(m, *n) : name_module_equal(m, *n);
                if (!found && glob)
                        r = warn_at(p, o, c, "kernel_modules", i,
                                    "no kernel module installed for kernel %s matches '%s'", kver, m);
                else if (!found)
                        r = warn_at(p, o, c, "kernel_modules", i,
                                    "kernel module '%s' is not installed for kernel %s", m, kver);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* 1 ready, 0 modules cannot be checked (said in a warning), -ENOMEM. */
static int kmod_setup(Kmod *k, int root_fd, Policy *p, const char *kver, int *dir_fd) {
        char err[256] = "";
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/%s", LINT_MODULES_DIR, kver) < 0)
                return -ENOMEM;
        if (!kver[0] || kver[0] == '.' || strchr(kver, '/') || root_open_dir(root_fd, dir, false, 0, dir_fd) < 0)
                return warn(p,
                            "%s does not exist on this machine: kernel_modules not checked "
                            "(--kernel KVER names another release)",
                            dir);
        if (kmod_open_library(k, err, sizeof err) < 0)
                return warn(p, "%s could not be loaded (%s): kernel_modules not checked", LINT_KMOD_SONAME, err);
        /* libkmod takes a path: the directory opened beneath the root, by
         * its fd, so nothing is resolved outside the root. No configuration
         * files: only what is installed counts, not aliases of the host's. */
        char fdpath[64];
        static const char *const no_config[] = { NULL };
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", *dir_fd);
        k->ctx = k->ctx_new(fdpath, no_config);
        if (!k->ctx)
                return -ENOMEM;
        k->set_log_fn(k->ctx, kmod_log_nothing, NULL);
        /* The index, not a lookup per name: kmod_module_new_from_name_lookup()
         * is kmod 30's (RHEL 9 has 28), and globs need the names anyway. */
        int r = kmod_read_index(k, KMOD_INDEX_MODULES_DEP);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return warn(p, "%s has no module index (run depmod %s): kernel_modules not checked", dir, kver);
        /* No builtin index is fine: then nothing is built in. */
        r = kmod_read_index(k, KMOD_INDEX_MODULES_BUILTIN);
        return r == -ENOMEM ? r : 1;
}

int policy_lint(int root_fd, Policy *p, const PolicyOrigins *o, const char *kernel) {
        struct utsname u;
        _cleanup_close_ int mod_dir_fd = -1;
        Kmod k = {};
        int kmod_ready = -1, r = 0;
        if (!kernel) {
                if (uname(&u) < 0)
                        return -errno;
                kernel = u.release;
        }
        for (size_t i = 0; i < p->n_components && r >= 0; i++) {
                const Component *c = &p->components[i];
                r = lint_content(root_fd, p, o, c);
                if (r >= 0)
                        r = lint_units(root_fd, p, o, c);
                if (r >= 0 && c->kernel_modules && c->kernel_modules[0] && kmod_ready < 0)
                        /* Only a policy naming modules loads libkmod. */
                        r = kmod_ready = kmod_setup(&k, root_fd, p, kernel, &mod_dir_fd);
                if (r >= 0 && kmod_ready > 0)
                        r = lint_modules(&k, p, o, c, kernel);
        }
        kmod_done(&k);
        return r < 0 ? r : 0;
}
