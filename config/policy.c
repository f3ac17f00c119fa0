/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy: finding and trusting the files, merging them. The keys and
 * their defaults are described once, in policy-schema.c; the YAML itself is
 * read by policy-parse.c, printed by policy-dump.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "lib/fileio.h"
#include "config/policy-cache.h"
#include "config/policy-internal.h"
#include "lib/rootfs.h"

const char *const policy_state_backend_names[3] = {
        [STATE_BACKEND_AUTO] = "auto",
        [STATE_BACKEND_EFIVAR] = "efivar",
        [STATE_BACKEND_FILE] = "file",
};
const char *const policy_quarantine_names[2] = {
        [QUARANTINE_ALLOW] = "allow",
        [QUARANTINE_NEVER] = "never",
};
const char *const policy_safe_mode_names[2] = {
        [COMPONENT_SAFE_MODE_DISABLE] = "disable",
        [COMPONENT_SAFE_MODE_KEEP] = "keep",
};
const char *const policy_ladder_names[_LADDER_STEP_MAX] = {
        [LADDER_RESTORE_CONTENT] = "restore-content",
        [LADDER_QUARANTINE] = "quarantine",
        [LADDER_SAFE_MODE] = "safe-mode",
};

#define NAME_OR_UNKNOWN(table, v) ((unsigned) (v) < ELEMENTSOF(table) ? (table)[v] : "?")

const char *const policy_fallback_names[_POLICY_FALLBACK_MAX] = {
        [POLICY_FALLBACK_NONE] = "none",
        [POLICY_FALLBACK_LAST_GOOD] = "last-good",
        [POLICY_FALLBACK_STRICT] = "strict",
};

const char *policy_fallback_to_string(PolicyFallback f) {
        return NAME_OR_UNKNOWN(policy_fallback_names, f);
}

const char *ladder_step_to_string(LadderStep s) {
        return NAME_OR_UNKNOWN(policy_ladder_names, s);
}

int ladder_step_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(policy_ladder_names); i++)
                if (streq(s, policy_ladder_names[i]))
                        return (int) i;
        return -EINVAL;
}

const char *state_backend_kind_to_string(StateBackendKind k) {
        return NAME_OR_UNKNOWN(policy_state_backend_names, k);
}

const char *quarantine_mode_to_string(QuarantineMode m) {
        return NAME_OR_UNKNOWN(policy_quarantine_names, m);
}

const char *component_safe_mode_to_string(ComponentSafeMode m) {
        return NAME_OR_UNKNOWN(policy_safe_mode_names, m);
}

int policy_init_defaults(Policy *p) {
        *p = (Policy) {};
        int r = policy_fields_init(policy_top_fields, ELEMENTSOF(policy_top_fields), p);
        if (r < 0) {
                policy_done(p);
                return r;
        }
        return 0;
}

void policy_health_check_done(HealthCheck *h) {
        policy_fields_done(policy_health_check_fields, ELEMENTSOF(policy_health_check_fields), h);
        *h = (HealthCheck) {};
}

void policy_component_done(Component *c) {
        policy_fields_done(policy_component_fields, ELEMENTSOF(policy_component_fields), c);
        *c = (Component) {};
}

static void policy_settings_done(Policy *p) {
        policy_fields_done(policy_top_fields, ELEMENTSOF(policy_top_fields), p);
}

void policy_done(Policy *p) {
        if (!p)
                return;
        policy_settings_done(p);
        strv_free(p->errors);
        strv_free(p->files);
        strv_free(p->overridden);
        strv_free(p->masked);
        strv_free(p->warnings);
        free(p->fallback_reason);
        free(p->last_good_text);
        *p = (Policy) {};
}

void policy_take_settings(Policy *p, Policy *src) {
        policy_settings_done(p);
        free(p->last_good_text); /* of the settings replaced; SRC's comes along */
        char **errors = p->errors, **files = p->files, *reason = p->fallback_reason;
        char **overridden = p->overridden, **masked = p->masked, **warnings = p->warnings;
        PolicyFallback fallback = p->fallback;
        *p = *src;
        p->errors = errors;
        p->files = files;
        p->overridden = overridden;
        p->masked = masked;
        p->warnings = warnings;
        p->fallback = fallback;
        p->fallback_reason = reason;
        strv_free(src->errors);
        strv_free(src->files);
        strv_free(src->overridden);
        strv_free(src->masked);
        strv_free(src->warnings);
        free(src->fallback_reason);
        *src = (Policy) {};
}

int policy_add_error(Policy *p, const char *file, size_t line, size_t col, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL, *full = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                return -ENOMEM;
        }
        if (asprintf(&full, "%s:%zu:%zu: %s", file, line, col, msg) < 0) {
                full = NULL;
                return -ENOMEM;
        }
        return strv_push(&p->errors, full);
}

const char *policy_format_size(char buf[static 32], uint64_t bytes) {
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                uint64_t unit = 1ULL << units[i].shift;
                if (bytes > 0 && bytes % unit == 0) {
                        snprintf(buf, 32, "%" PRIu64 "%c", bytes / unit, units[i].suffix);
                        return buf;
                }
        }
        snprintf(buf, 32, "%" PRIu64, bytes);
        return buf;
}

const Component *policy_find_component(const Policy *p, const char *name) {
        for (size_t i = 0; name && i < p->n_components; i++)
                if (streq(p->components[i].name, name))
                        return &p->components[i];
        return NULL;
}

uint32_t policy_component_threshold(const Policy *p, const Component *c) {
        return c && c->max_failed_boots > 0 ? c->max_failed_boots : p->boot.max_failed_boots;
}

static bool uid_is_trusted(uid_t uid) {
        if (uid == 0)
                return true;
#ifdef LASTGOOD_FAULT_INJECTION
        /* Test builds only: lets the suite run its fixtures as another user. */
        const char *e = getenv("LASTGOOD_TRUST_UID");
        uint64_t v;
        if (e && parse_u64(e, &v) >= 0 && v == (uint64_t) uid)
                return true;
#endif
        return false;
}

int policy_check_trust(Policy *p, const char *filename, int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        /* Refusing, as doas does with doas.conf: whoever can write the policy
         * decides what lastgood may disable or restore at boot. */
        if (uid_is_trusted(st.st_uid) && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0)
                return 0;
        int r = policy_add_error(p, filename, 1, 1,
                                 "refusing untrusted policy %s: owner uid %u, mode %04o; it must be owned by root and not writable by group or other",
                                 S_ISDIR(st.st_mode) ? "directory" : "file", (unsigned) st.st_uid,
                                 (unsigned) (st.st_mode & 07777));
        return r < 0 ? r : -EPERM;
}

/* Reads and parses one opened file; its problems go to p->errors. Returns
 * -ENOMEM or 0. */
static int policy_load_fd(Policy *p, const char *filename, int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return policy_add_error(p, filename, 1, 1, "cannot stat: %m");
        if (!S_ISREG(st.st_mode))
                return policy_add_error(p, filename, 1, 1, "not a regular file");
        int r = policy_check_trust(p, filename, fd);
        if (r == -EPERM)
                return 0;
        if (r < 0)
                return r;

        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        r = read_full_fd(fd, POLICY_MAX_FILE_SIZE, &buf, &len);
        if (r == -EFBIG)
                return policy_add_error(p, filename, 1, 1, "file is larger than %u bytes", POLICY_MAX_FILE_SIZE);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                errno = -r;
                return policy_add_error(p, filename, 1, 1, "cannot read: %m");
        }
        r = policy_parse_buffer(p, filename, buf, len);
        if (r < 0)
                return r;
        if (r == 0)
                return strv_push(&p->files, filename);
        return 0;
}

static int policy_load_path(Policy *p, int root_fd, const char *path, bool missing_ok) {
        /* O_NONBLOCK: a FIFO planted as a policy file must not hang the boot;
         * it is then refused as not a regular file. */
        int flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
        _cleanup_close_ int fd = root_fd >= 0 ? root_openat(root_fd, path, flags, 0) : open(path, flags);
        if (root_fd < 0 && fd < 0)
                fd = -errno;
        if (fd == -ENOENT && missing_ok)
                return 0;
        if (fd == -ENOMEM)
                return fd;
        if (fd < 0) {
                errno = -fd;
                return policy_add_error(p, path, 1, 1, "cannot open: %m");
        }
        return policy_load_fd(p, path, fd);
}

bool policy_is_dropin_name(const char *n) {
        size_t l = strlen(n);
        return n[0] != '.' && l > 5 && streq(n + l - 5, ".yaml") && !strchr(n, '/');
}

static bool is_dropin_name(int dir_fd, const char *n) {
        return policy_is_dropin_name(n);
}

/* Opens the directory PATH holding policy files: it must be as trusted as
 * the files, as whoever may write it may add files or rename others over
 * them. 0 and *ret_fd (-1 when PATH is absent), -EPERM when refused (the
 * reason is in p->errors), -ENOMEM. */
static int policy_open_trusted_dir(Policy *p, int root_fd, const char *path, int *ret_fd) {
        _cleanup_close_ int dfd = root_openat(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
        int r;
        if (dfd == -ENOENT) {
                *ret_fd = -1;
                return 0;
        }
        if (dfd == -ENOMEM)
                return dfd;
        if (dfd < 0) {
                errno = -dfd;
                r = policy_add_error(p, path, 1, 1, "cannot open: %m");
                return r < 0 ? r : -EPERM;
        }
        r = policy_check_trust(p, path, dfd);
        if (r < 0 && r != -EPERM) {
                errno = -r;
                r = policy_add_error(p, path, 1, 1, "cannot stat: %m");
                return r < 0 ? r : -EPERM;
        }
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(dfd);
        return 0;
}

/* Opens the file the drop-in LINK (in the directory DIR) points to, TARGET:
 * only a regular file, reached without another symlink, in a directory as
 * trusted as policy.d (whoever may write that directory may swap the file).
 * 0, *ret_fd and *ret_path (the file's path: errors name the file to fix);
 * -EPERM when refused (the reason is in p->errors); -ENOMEM. */
static int policy_open_link_target(Policy *p, int root_fd, const char *dir, const char *link,
                                   const char *target, int *ret_fd, char **ret_path) {
        _cleanup_free_ char *path = NULL, *tdir = NULL;
        int r;
        if (target[0] == '/')
                path = strdup(target);
        else if (asprintf(&path, "%s/%s", dir, target) < 0)
                path = NULL;
        if (!path)
                return -ENOMEM;
        if (!path_is_normalized_absolute(path) || streq(path, "/")) {
                r = policy_add_error(p, link, 1, 1,
                                     "refusing symlink to '%s': a drop-in link must name a file by a normalized "
                                     "path (absolute, or relative without '.' or '..')",
                                     target);
                return r < 0 ? r : -EPERM;
        }
        const char *slash = strrchr(path, '/');
        tdir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!tdir)
                return -ENOMEM;
        int tdfd;
        r = policy_open_trusted_dir(p, root_fd, tdir, &tdfd);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = -1;
        if (tdfd >= 0) {
                fd = openat(tdfd, slash + 1, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        fd = -errno;
                close(tdfd);
        } else
                fd = -ENOENT;
        if (fd < 0) {
                /* Fail closed: an enabled profile whose file is gone was meant
                 * to be in effect. */
                errno = -fd;
                r = fd == -ELOOP ? policy_add_error(p, link, 1, 1,
                                                    "refusing symlink to '%s': it is itself a symlink", target)
                                 : policy_add_error(p, link, 1, 1, "symlink to '%s': cannot open: %m", target);
                return r < 0 ? r : -EPERM;
        }
        *ret_fd = TAKE_FD(fd);
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* Reads the drop-in NAME of the directory DIR (open as dfd; PATH is DIR/NAME),
 * or, when PRETEND is set, as if NAME were a symlink to PRETEND. *ret_masked:
 * it is a link to /dev/null, nothing was read. -ENOMEM or 0. */
static int policy_load_dropin(Policy *p, int root_fd, int dfd, const char *dir, const char *name,
                              const char *path, const char *pretend, bool *ret_masked) {
        _cleanup_free_ char *target = NULL, *tpath = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        *ret_masked = false;
        if (pretend) {
                target = strdup(pretend);
                if (!target)
                        return -ENOMEM;
        } else {
                struct stat st;
                if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno == ENOENT ? 0 /* gone since listed */
                                               : policy_add_error(p, path, 1, 1, "cannot stat: %m");
                if (S_ISLNK(st.st_mode)) {
                        r = readlink_malloc_at(dfd, name, &target);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                errno = -r;
                                return policy_add_error(p, path, 1, 1, "cannot read the symlink: %m");
                        }
                }
        }
        if (target && streq(target, LASTGOOD_MASK_TARGET)) {
                *ret_masked = true;
                return 0;
        }
        if (target) {
                r = policy_open_link_target(p, root_fd, dir, path, target, &fd, &tpath);
                if (r == -EPERM)
                        return 0;
                if (r < 0)
                        return r;
                return policy_load_fd(p, tpath, fd);
        }
        /* O_NONBLOCK: a FIFO is refused as not a regular file, it does not hang the boot. */
        fd = openat(dfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : policy_add_error(p, path, 1, 1, "cannot open: %m");
        return policy_load_fd(p, path, fd);
}

/* The drop-in directories, the one that wins a name first. */
static const char *const policy_dropin_dirs[2] = { POLICY_DROPIN_DIR, POLICY_VENDOR_DROPIN_DIR };

/* Lists the drop-ins of policy_dropin_dirs[i] into names[i] (dfd[i] open, or
 * -1 when absent or refused). -ENOMEM or another errno, else 0. */
static int policy_list_dropins(Policy *p, int root_fd, int dfd[static 2], char **names[static 2]) {
        int r, vfd = -1;
        /* /usr/lib/lastgood is trusted as /etc/lastgood is (whoever may write
         * it may rename another policy.d into place). */
        r = policy_open_trusted_dir(p, root_fd, LASTGOOD_VENDOR_DIR, &vfd);
        if (r < 0 && r != -EPERM)
                return r;
        bool vendor_ok = r == 0;
        if (vfd >= 0)
                close(vfd);
        for (size_t i = 0; i < 2; i++) {
                if (i == 1 && !vendor_ok)
                        continue;
                r = policy_open_trusted_dir(p, root_fd, policy_dropin_dirs[i], &dfd[i]);
                if (r == -EPERM)
                        /* A writable directory lets anyone add a drop-in: all of it goes. */
                        continue;
                if (r < 0)
                        return r;
                if (dfd[i] < 0)
                        continue;
                r = dir_list_at(dfd[i], is_dropin_name, POLICY_MAX_DROPINS, &names[i]);
                if (r == -E2BIG) {
                        closep(&dfd[i]);
                        r = policy_add_error(p, policy_dropin_dirs[i], 1, 1,
                                             "more than %u drop-ins, ignoring them all", POLICY_MAX_DROPINS);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Applies CHANGE to the names of /etc/lastgood/policy.d. */
static int policy_dropin_names_change(char ***names, const PolicyDropinChange *change) {
        if (!change)
                return 0;
        bool has = strv_contains(*names, change->name);
        if (change->link_target && !has) {
                int r = strv_push(names, change->name);
                if (r < 0)
                        return r;
                strv_sort(*names);
        } else if (!change->link_target && has) {
                size_t n = 0;
                for (char **s = *names; *s; s++)
                        if (streq(*s, change->name))
                                free(*s);
                        else
                                (*names)[n++] = *s;
                (*names)[n] = NULL;
        }
        return 0;
}

static int policy_load_dropins(Policy *p, int root_fd, const PolicyDropinChange *change) {
        int dfd[2] = { -1, -1 };
        char **names[2] = {};
        _cleanup_strv_free_ char **all = NULL;
        int r = policy_list_dropins(p, root_fd, dfd, names);
        if (r >= 0)
                r = policy_dropin_names_change(&names[0], change);
        /* One list sorted by name; each name read from the first directory that has it. */
        for (size_t i = 0; i < 2 && r >= 0; i++)
                for (char **n = names[i]; n && *n && r >= 0; n++)
                        if (!strv_contains(all, *n))
                                r = strv_push(&all, *n);
        if (r >= 0 && strv_length(all) > POLICY_MAX_DROPINS)
                r = policy_add_error(p, POLICY_DROPIN_DIR, 1, 1,
                                     "more than %u drop-ins in all, ignoring them all", POLICY_MAX_DROPINS);
        else if (r >= 0) {
                strv_sort(all);
                for (char **n = all; n && *n && r >= 0; n++) {
                        bool in_etc = strv_contains(names[0], *n), in_vendor = strv_contains(names[1], *n);
                        size_t di = in_etc ? 0 : 1;
                        const char *pretend =
                                change && di == 0 && streq(*n, change->name) ? change->link_target : NULL;
                        _cleanup_free_ char *path = NULL, *vpath = NULL;
                        bool masked;
                        if (asprintf(&path, "%s/%s", policy_dropin_dirs[di], *n) < 0 ||
                            asprintf(&vpath, "%s/%s", POLICY_VENDOR_DROPIN_DIR, *n) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        r = policy_load_dropin(p, root_fd, dfd[di], policy_dropin_dirs[di], *n, path,
                                               pretend, &masked);
                        if (r >= 0 && masked)
                                r = strv_push(&p->masked, in_vendor ? vpath : path);
                        else if (r >= 0 && in_etc && in_vendor)
                                r = strv_push(&p->overridden, vpath);
                }
        }
        for (size_t i = 0; i < 2; i++) {
                closep(&dfd[i]);
                strv_free(names[i]);
        }
        return r < 0 ? r : 0;
}

/* No usable last-known-good copy: nothing security-relevant may be weaker
 * than the strictest reading of what the broken file could have said. */
static void policy_make_strict(Policy *p) {
        p->safe_mode.require_code = true;
        p->safe_mode.allow_cmdline = false;
        for (size_t i = 0; i < p->n_components; i++) {
                p->components[i].quarantine = QUARANTINE_NEVER;
                p->components[i].safe_mode = COMPONENT_SAFE_MODE_KEEP;
        }
}

/* P (loaded beneath root_fd) had errors: replace it with the last-known-good
 * copy, or make it strict. -ENOMEM or 0. */
static int policy_fall_back(Policy *p, int root_fd) {
        _cleanup_free_ char *reason = strdup(p->errors[0]);
        if (!reason)
                return -ENOMEM;
        Policy copy;
        int r = policy_init_defaults(&copy);
        if (r < 0)
                return r;
        r = policy_load_path(&copy, root_fd, LASTGOOD_POLICY_LAST_GOOD_FILE, /* missing_ok= */ true);
        if (r < 0) {
                policy_done(&copy);
                return r;
        }
        if (!copy.errors && strv_length(copy.files) == 1) {
                char **files = TAKE_PTR(copy.files);
                policy_take_settings(p, &copy);
                strv_free(p->files);
                p->files = files;
                /* None of the layered files is in effect now. */
                strv_free(p->overridden);
                strv_free(p->masked);
                p->overridden = p->masked = NULL;
                p->fallback = POLICY_FALLBACK_LAST_GOOD;
        } else {
                /* A copy that is itself unusable says so beside the policy's errors. */
                for (char **e = copy.errors; e && *e; e++)
                        if (strv_push(&p->errors, *e) < 0) {
                                policy_done(&copy);
                                return -ENOMEM;
                        }
                policy_done(&copy);
                policy_make_strict(p);
                p->fallback = POLICY_FALLBACK_STRICT;
        }
        p->fallback_reason = TAKE_PTR(reason);
        return 0;
}

int policy_dump_text(const Policy *p, char **ret, size_t *ret_len) {
        /* Compiled with it: the usual healthy confirm dumps nothing. */
        if (p->last_good_text) {
                *ret = strdup(p->last_good_text);
                *ret_len = strlen(p->last_good_text);
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        if (!f)
                return -ENOMEM;
        policy_dump(p, f, /* json= */ false);
        return memstream_finalize(&m, ret, ret_len);
}

int policy_save_last_good(int root_fd, const Policy *p) {
        /* Built-in defaults (no file read) are no admin's policy: a first
         * broken one then means strict settings, not the defaults. */
        if (p->errors || p->fallback != POLICY_FALLBACK_NONE || !p->files)
                return 0;
        _cleanup_free_ char *buf = NULL, *old = NULL;
        size_t len = 0, old_len = 0;
        int r = policy_dump_text(p, &buf, &len);
        if (r < 0)
                return r;
        r = read_full_root(root_fd, LASTGOOD_POLICY_LAST_GOOD_FILE, POLICY_MAX_FILE_SIZE, &old, &old_len);
        if (r >= 0 && old_len == len && memcmp(old, buf, len) == 0)
                return 0; /* the usual case: nothing changed, nothing written */
        r = write_atomic_root(root_fd, LASTGOOD_POLICY_LAST_GOOD_FILE, buf, len, 0600);
        return r < 0 ? r : 1;
}

static int policy_load_full(int root_fd, const char *explicit_path, const PolicyDropinChange *change, Policy *ret) {
        Policy p;
        int r = policy_init_defaults(&p);
        if (r < 0)
                return r;
        if (explicit_path)
                /* A host path the admin named: missing is an error here. */
                r = policy_load_path(&p, -1, explicit_path, /* missing_ok= */ false);
        else {
                /* The compiled policy is of the files as they are: not of
                 * a change being tried (profile enable, disable). */
                Policy compiled;
                r = change ? 0 : policy_cache_load(root_fd, &compiled);
                if (r < 0) {
                        policy_done(&p);
                        return r;
                }
                if (r > 0) {
                        policy_done(&p);
                        compiled.from_cache = true;
                        *ret = compiled;
                        return 0;
                }
                int cfd = -1;
                r = policy_open_trusted_dir(&p, root_fd, LASTGOOD_CONFIG_DIR, &cfd);
                if (cfd >= 0)
                        close(cfd);
                if (r == 0)
                        r = policy_load_path(&p, root_fd, POLICY_MAIN_FILE, /* missing_ok= */ true);
                if (r >= 0)
                        r = policy_load_dropins(&p, root_fd, change);
                if (r == -EPERM)
                        r = 0; /* refused, and said so in p.errors */
                if (r >= 0 && p.errors)
                        r = policy_fall_back(&p, root_fd);
        }
        if (r < 0) {
                policy_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int policy_load(int root_fd, const char *explicit_path, Policy *ret) {
        return policy_load_full(root_fd, explicit_path, NULL, ret);
}

int policy_load_with_change(int root_fd, const PolicyDropinChange *change, Policy *ret) {
        return policy_load_full(root_fd, NULL, change, ret);
}
