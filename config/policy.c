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
        free(p->fallback_reason);
        *p = (Policy) {};
}

void policy_take_settings(Policy *p, Policy *src) {
        policy_settings_done(p);
        char **errors = p->errors, **files = p->files, *reason = p->fallback_reason;
        PolicyFallback fallback = p->fallback;
        *p = *src;
        p->errors = errors;
        p->files = files;
        p->fallback = fallback;
        p->fallback_reason = reason;
        strv_free(src->errors);
        strv_free(src->files);
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

static bool is_dropin_name(int dir_fd, const char *n) {
        size_t l = strlen(n);
        return n[0] != '.' && l > 5 && streq(n + l - 5, ".yaml");
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

static int policy_load_dropins(Policy *p, int root_fd) {
        int dfd;
        int r = policy_open_trusted_dir(p, root_fd, POLICY_DROPIN_DIR, &dfd);
        if (r < 0 || dfd < 0)
                /* Refused (a writable policy.d lets anyone add a drop-in: all
                 * of it goes), or absent. */
                return r == -EPERM ? 0 : r;
        _cleanup_strv_free_ char **names = NULL;
        r = dir_list_at(dfd, is_dropin_name, POLICY_MAX_DROPINS, &names);
        close(dfd);
        if (r == -E2BIG)
                return policy_add_error(p, POLICY_DROPIN_DIR, 1, 1,
                                        "more than %u drop-ins, ignoring them all", POLICY_MAX_DROPINS);
        if (r < 0)
                return r;
        size_t n = strv_length(names);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", POLICY_DROPIN_DIR, names[i]) < 0)
                        return -ENOMEM;
                r = policy_load_path(p, root_fd, path, /* missing_ok= */ true);
                if (r < 0)
                        return r;
        }
        return 0;
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

int policy_save_last_good(int root_fd, const Policy *p) {
        /* Built-in defaults (no file read) are no admin's policy: a first
         * broken one then means strict settings, not the defaults. */
        if (p->errors || p->fallback != POLICY_FALLBACK_NONE || !p->files)
                return 0;
        _cleanup_free_ char *buf = NULL, *old = NULL;
        size_t len = 0, old_len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        policy_dump(p, f, /* json= */ false);
        if (fclose(f) != 0)
                return -ENOMEM;
        int r = read_full_root(root_fd, LASTGOOD_POLICY_LAST_GOOD_FILE, POLICY_MAX_FILE_SIZE, &old, &old_len);
        if (r >= 0 && old_len == len && memcmp(old, buf, len) == 0)
                return 0; /* the usual case: nothing changed, nothing written */
        r = write_atomic_root(root_fd, LASTGOOD_POLICY_LAST_GOOD_FILE, buf, len, 0600);
        return r < 0 ? r : 1;
}

int policy_load(int root_fd, const char *explicit_path, Policy *ret) {
        Policy p;
        int r = policy_init_defaults(&p);
        if (r < 0)
                return r;
        if (explicit_path)
                /* A host path the admin named: missing is an error here. */
                r = policy_load_path(&p, -1, explicit_path, /* missing_ok= */ false);
        else {
                Policy compiled;
                r = policy_cache_load(root_fd, &compiled);
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
                        r = policy_load_dropins(&p, root_fd);
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
