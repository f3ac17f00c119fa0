/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/safemode.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/names.h"
#include "lib/rootfs.h"
#include "recovery/module-expand.h"
#include "recovery/unit-expand.h"

#define MARKER_MAX_SIZE (256u * 1024u)

/* Text that reaches a console: no control characters (no terminal escape
 * sequences from a crash record or a request), and for agetty a backslash
 * is an escape introducer, so it is doubled. */
static void put_sanitized(FILE *f, const char *s, bool issue) {
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *) (s ?: ""); *p && n < SAFEMODE_MAX_REASON; p++, n++) {
                if (*p < 0x20 || *p == 0x7f)
                        fputc('?', f);
                else if (*p == '\\' && issue)
                        fputs("\\\\", f);
                else
                        fputc(*p, f);
        }
}

static void put_list(FILE *f, const char *key, char *const *l) {
        fprintf(f, "%s:", key);
        for (; l && *l; l++) {
                fputc(' ', f);
                put_sanitized(f, *l, false);
        }
        fputc('\n', f);
}

static bool is_mask_at(int dir_fd, const char *name) {
        return symlink_points_to_at(dir_fd, name, "/dev/null");
}

static int mask_runtime(int root_fd, const char *dir, const char *unit) {
        _cleanup_close_ int dir_fd = -1;
        int r = root_open_dir(root_fd, dir, true, 0755, &dir_fd);
        if (r < 0)
                return r;
        struct stat st;
        if (fstatat(dir_fd, unit, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                /* Already masked (a second run in this boot), or a runtime
                 * unit or link someone else made: not ours to replace, and
                 * the system.control mask outranks it anyway. */
                return is_mask_at(dir_fd, unit) ? 0 : -EEXIST;
        if (errno != ENOENT)
                return -errno;
        r = fault_point("safemode-mask");
        if (r < 0)
                return r;
        if (symlinkat("/dev/null", dir_fd, unit) < 0)
                return -errno;
        return 0;
}

static int unmask_runtime(int root_fd, const char *dir, const char *unit) {
        _cleanup_close_ int dir_fd = -1;
        int r = root_open_dir(root_fd, dir, false, 0, &dir_fd);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (!is_mask_at(dir_fd, unit))
                return 0;
        if (unlinkat(dir_fd, unit, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int keep_first(int r, int k) {
        return r < 0 ? r : k;
}

int safemode_apply_runtime(int root_fd, const Policy *p, const char *reason) {
        return safemode_apply(root_fd, root_fd, p, reason);
}

static int push_unique(char ***l, const char *s) {
        return strv_contains(*l, s) ? 0 : strv_push(l, s);
}

/* What ENTRIES (a component's kernel_modules or units) stand for: the valid
 * ones (IS_PATTERN) expanded by EXPAND into *NAMES, globs that matched
 * nothing into *UNMATCHED, the others into *SKIPPED. Best effort: when the
 * expansion fails, the plain names still go, the globs are reported, and
 * *ERR keeps the first error. Returns 0 or -ENOMEM. */
static int expand_into(int root_fd, char *const *entries, bool (*is_pattern)(const char *),
                       int (*expand)(int, char *const *, NameExpansion *), char ***names, char ***unmatched,
                       char ***skipped, bool *capped, int *err) {
        _cleanup_(name_expansion_done) NameExpansion x = {};
        _cleanup_strv_free_ char **valid = NULL;
        int r;
        for (char *const *e = entries; e && *e; e++)
                if ((r = push_unique(is_pattern(*e) ? &valid : skipped, *e)) < 0)
                        return r;
        r = expand(root_fd, valid, &x);
        if (r < 0) {
                *err = keep_first(*err, r);
                for (char **e = valid; e && *e; e++)
                        if ((r = push_unique(name_has_glob(*e) ? unmatched : names, *e)) < 0)
                                return r;
        }
        *capped = *capped || x.capped;
        for (char **e = x.names; e && *e; e++)
                if ((r = push_unique(names, *e)) < 0)
                        return r;
        for (char **e = x.unmatched; e && *e; e++)
                if ((r = push_unique(unmatched, *e)) < 0)
                        return r;
        return 0;
}

int safemode_apply(int modules_root_fd, int root_fd, const Policy *p, const char *reason) {
        _cleanup_strv_free_ char **components = NULL, **modules = NULL, **units = NULL, **skipped = NULL,
                                 **unmatched = NULL, **unmatched_units = NULL;
        bool capped = false, units_capped = false;
        int r = 0, k;

        for (size_t i = 0; p && i < p->n_components; i++) {
                const Component *c = &p->components[i];
                if (c->safe_mode != COMPONENT_SAFE_MODE_DISABLE)
                        continue;
                if ((k = strv_push(&components, c->name ?: "?")) < 0)
                        return k;
                /* A name that could inject a modprobe.d line or name a path
                 * is never written; a glob stands for the installed modules or
                 * units it matches (modprobe and unit masks take no globs). */
                k = expand_into(modules_root_fd, c->kernel_modules, name_is_module_pattern, module_expand,
                                &modules, &unmatched, &skipped, &capped, &r);
                if (k < 0)
                        return k;
                k = expand_into(modules_root_fd, c->units, name_is_unit_pattern, unit_expand, &units,
                                &unmatched_units, &skipped, &units_capped, &r);
                if (k < 0)
                        return k;
        }

        /* 1. modprobe.d beneath /run: one generated file. */
        _cleanup_(memstream_done) MemStream ms = {};
        FILE *f = memstream_init(&ms);
        if (!f)
                return -ENOMEM;
        fputs("# Generated by lastgood for this safe-mode boot only (/run is not persistent).\n", f);
        for (char **m = modules; m && *m; m++)
                fprintf(f, "blacklist %s\ninstall %s /bin/false\n", *m, *m);
        _cleanup_free_ char *conf = NULL;
        size_t conf_size;
        if (memstream_finalize(&ms, &conf, &conf_size) < 0)
                return -ENOMEM;
        if (modules)
                r = keep_first(r, write_atomic_root(root_fd, LASTGOOD_SAFEMODE_MODPROBE_CONF, conf,
                                                    conf_size, 0644));

        /* 2. runtime masks, in both directories (see safemode.h). */
        for (char **u = units; u && *u; u++) {
                k = mask_runtime(root_fd, SYSTEMD_RUNTIME_DIR, *u);
                if (k != -EEXIST)
                        r = keep_first(r, k);
                /* Here a foreign file is a failure: nothing would mask the unit. */
                r = keep_first(r, mask_runtime(root_fd, SYSTEMD_RUNTIME_CONTROL_DIR, *u));
        }

        /* 3. loud: the marker and the console banner. */
        uint64_t now = now_realtime_usec();
        time_t t = (time_t) (now / USEC_PER_SEC);
        struct tm tm;
        char when[64] = "?";
        if (gmtime_r(&t, &tm))
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);

        f = memstream_init(&ms);
        if (!f)
                return -ENOMEM;
        fputs("lastgood safe mode: this boot runs without the components below.\n", f);
        fputs("reason: ", f);
        put_sanitized(f, reason, false);
        fprintf(f, "\nsince: %s (%" PRIu64 ")\n", when, now);
        put_list(f, "components", components);
        put_list(f, "modules", modules);
        put_list(f, "units", units);
        if (unmatched)
                put_list(f, "kernel_modules globs matching no installed module", unmatched);
        if (capped)
                fprintf(f, "kernel_modules globs matched more than %d modules: only those are listed\n",
                        MODULE_EXPAND_MAX);
        if (unmatched_units)
                put_list(f, "units globs matching no installed unit", unmatched_units);
        if (units_capped)
                fprintf(f, "units globs matched more than %d units: only those are listed\n", UNIT_EXPAND_MAX);
        if (skipped)
                put_list(f, "skipped (unsafe names)", skipped);
        _cleanup_free_ char *marker = NULL;
        size_t marker_size;
        if (memstream_finalize(&ms, &marker, &marker_size) < 0)
                return -ENOMEM;
        r = keep_first(r, write_atomic_root(root_fd, LASTGOOD_SAFEMODE_MARKER, marker, marker_size, 0644));

        f = memstream_init(&ms);
        if (!f)
                return -ENOMEM;
        fputs("\n*** lastgood: SAFE MODE - security components are disabled for this boot only ***\n", f);
        fputs("*** Disabled:", f);
        for (char **c = components; c && *c; c++) {
                fputc(' ', f);
                put_sanitized(f, *c, true);
        }
        if (!components)
                fputs(" (none)", f);
        fputs("\n*** Reason: ", f);
        put_sanitized(f, reason, true);
        fprintf(f, "\n*** Since %s. Run `lastgood status` for details. ***\n\n", when);
        _cleanup_free_ char *banner = NULL;
        size_t banner_size;
        if (memstream_finalize(&ms, &banner, &banner_size) < 0)
                return -ENOMEM;
        r = keep_first(r, write_atomic_root(root_fd, LASTGOOD_SAFEMODE_BANNER, banner, banner_size, 0644));
        r = keep_first(r, write_atomic_root(root_fd, LASTGOOD_SAFEMODE_RUN_ISSUE, banner, banner_size, 0644));

        return r < 0 ? r : (int) strv_length(components);
}

bool safemode_is_active(int root_fd) {
        _cleanup_close_ int fd = root_openat(root_fd, LASTGOOD_SAFEMODE_MARKER, O_RDONLY, 0);
        return fd >= 0;
}

int safemode_describe(int root_fd, char **ret_text) {
        size_t len;
        return read_full_root(root_fd, LASTGOOD_SAFEMODE_MARKER, MARKER_MAX_SIZE, ret_text, &len);
}

static int unlink_root(int root_fd, const char *path) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        int r = root_open_parent(root_fd, path, false, &dir_fd, &name);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int safemode_clear_runtime(int root_fd) {
        _cleanup_free_ char *text = NULL;
        int r = safemode_describe(root_fd, &text);
        if (r < 0 && r != -ENOENT)
                return r;

        /* The marker names the masked units; only /dev/null links go. */
        const char *line = text ? strstr(text, "\nunits:") : NULL;
        if (line) {
                line += strlen("\nunits:");
                _cleanup_free_ char *list = strndup(line, strcspn(line, "\n"));
                if (!list)
                        return -ENOMEM;
                char *save = NULL;
                for (char *u = strtok_r(list, " ", &save); u; u = strtok_r(NULL, " ", &save)) {
                        if (!name_is_unit(u))
                                continue;
                        r = unmask_runtime(root_fd, SYSTEMD_RUNTIME_DIR, u);
                        if (r < 0)
                                return r;
                        r = unmask_runtime(root_fd, SYSTEMD_RUNTIME_CONTROL_DIR, u);
                        if (r < 0)
                                return r;
                }
        }
        /* The legacy name too: a safe mode an older lastgood began this boot. */
        static const char *const files[] = { LASTGOOD_SAFEMODE_MODPROBE_CONF,
                                             LASTGOOD_SAFEMODE_MODPROBE_CONF_LEGACY, LASTGOOD_SAFEMODE_RUN_ISSUE,
                                             LASTGOOD_SAFEMODE_BANNER, LASTGOOD_SAFEMODE_MARKER };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                r = unlink_root(root_fd, files[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}
