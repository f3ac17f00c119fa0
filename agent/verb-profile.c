/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood profile list | enable NAME | disable NAME
 *
 * The profiles lastgood ships are drop-ins in /usr/share/lastgood/profiles/
 * (NAME.yaml). Enabling one makes /etc/lastgood/policy.d/NAME.yaml a symlink
 * to it, as `systemctl enable` does, rather than a copy: a profile corrected
 * in a lastgood update (a sensor release renames its modules or moves its
 * content) then reaches every machine that enabled it, and a broken update
 * is caught when the policy loads, like any drop-in (the last-known-good
 * policy stays in use, status says why). A copy would freeze the profile as
 * it was on the day it was enabled, without anyone hearing of it. The link
 * is trusted only as the loader trusts it (config/policy.h): the profiles
 * directory must be as trusted as policy.d.
 *
 * Before anything changes, the policy is loaded as if the change were made:
 * a profile that would make the merged policy invalid is refused with the
 * errors, and nothing changes (the same for `disable`, when removing the
 * link would break a policy that is valid now). One lock (the policy.d
 * directory) serialises concurrent runs; the link is made and removed
 * atomically and durably (lib/fileio.h).
 *
 * Exit status: 0 done (or nothing to do), 1 refused or failed, 2 usage or an
 * unknown profile.
 */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "agent/audit.h"
#include "agent/context.h"
#include "agent/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/rootfs.h"

typedef enum ProfileState {
        PROFILE_DISABLED,
        PROFILE_ENABLED,    /* policy.d/NAME.yaml links to the shipped file */
        PROFILE_MASKED,     /* policy.d/NAME.yaml links to /dev/null */
        PROFILE_OVERRIDDEN, /* policy.d/NAME.yaml is something else: a local file wins the name */
        PROFILE_VENDOR,     /* not in policy.d, but a package's drop-in of that name is read */
        _PROFILE_STATE_MAX,
} ProfileState;

static const char *const profile_state_names[_PROFILE_STATE_MAX] = {
        [PROFILE_DISABLED] = "disabled",     [PROFILE_ENABLED] = "enabled",
        [PROFILE_MASKED] = "masked",         [PROFILE_OVERRIDDEN] = "overridden",
        [PROFILE_VENDOR] = "vendor-drop-in",
};

/* NAME.yaml in policy.d (dfd, -1: absent) and the vendor directory. */
static ProfileState profile_state(int dfd, int vfd, const char *file, const char *target) {
        struct stat st;
        if (dfd >= 0 && fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (symlink_points_to_at(dfd, file, target))
                        return PROFILE_ENABLED;
                if (symlink_points_to_at(dfd, file, LASTGOOD_MASK_TARGET))
                        return PROFILE_MASKED;
                return PROFILE_OVERRIDDEN;
        }
        if (vfd >= 0 && fstatat(vfd, file, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                return PROFILE_VENDOR;
        return PROFILE_DISABLED;
}

static bool is_profile_file(int dir_fd, const char *name) {
        struct stat st;
        return policy_is_dropin_name(name) && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
               S_ISREG(st.st_mode);
}

static int open_dir_or_absent(int root_fd, const char *path, int *ret_fd) {
        int r = root_open_dir(root_fd, path, false, 0, ret_fd);
        if (r == -ENOENT || r == -ENOTDIR) {
                *ret_fd = -1;
                return 0;
        }
        return r;
}

static int profile_list(Context *ctx) {
        _cleanup_close_ int pfd = -1, dfd = -1, vfd = -1;
        _cleanup_strv_free_ char **names = NULL;
        int r = open_dir_or_absent(ctx->root_fd, LASTGOOD_PROFILES_DIR, &pfd);
        if (r >= 0)
                r = open_dir_or_absent(ctx->root_fd, POLICY_DROPIN_DIR, &dfd);
        if (r >= 0)
                r = open_dir_or_absent(ctx->root_fd, POLICY_VENDOR_DROPIN_DIR, &vfd);
        if (r >= 0 && pfd >= 0)
                r = dir_list_at(pfd, is_profile_file, POLICY_MAX_DROPINS, &names);
        if (r < 0)
                return log_error_errno(r, "Failed to list the profiles in %s: %m", LASTGOOD_PROFILES_DIR);

        JsonWriter w;
        if (ctx->json) {
                json_init(&w, stdout);
                json_object_begin(&w);
                json_kv_string(&w, "directory", LASTGOOD_PROFILES_DIR);
                json_key(&w, "profiles");
                json_array_begin(&w);
        } else if (!names)
                printf("No profiles in %s.\n", LASTGOOD_PROFILES_DIR);
        else
                printf("%-28s %s\n", "PROFILE", "STATE");
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *target = NULL;
                if (asprintf(&target, "%s/%s", LASTGOOD_PROFILES_DIR, *n) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory.");
                ProfileState s = profile_state(dfd, vfd, *n, target);
                size_t l = strlen(*n) - strlen(".yaml");
                if (ctx->json) {
                        _cleanup_free_ char *name = strndup(*n, l);
                        if (!name)
                                return log_error_errno(-ENOMEM, "Out of memory.");
                        json_object_begin(&w);
                        json_kv_string(&w, "name", name);
                        json_kv_string(&w, "path", target);
                        json_kv_string(&w, "state", profile_state_names[s]);
                        json_kv_bool(&w, "enabled", s == PROFILE_ENABLED);
                        json_object_end(&w);
                } else
                        printf("%-28.*s %s%s\n", (int) l, *n, profile_state_names[s],
                               s == PROFILE_OVERRIDDEN ? " (by a local file in " POLICY_DROPIN_DIR ")"
                               : s == PROFILE_VENDOR ? " (a package's file of that name in " POLICY_VENDOR_DROPIN_DIR
                                                       " is read instead)"
                                                     : "");
        }
        if (ctx->json) {
                json_array_end(&w);
                json_object_end(&w);
                fputc('\n', stdout);
        }
        return EXIT_OK;
}

/* Prints why the policy as changed would be invalid. */
static void print_errors(const Policy *p) {
        for (char **e = p->errors; e && *e; e++)
                fprintf(stderr, "%s\n", *e);
}

static void print_result(Context *ctx, const char *name, const char *action, bool changed, const char *link,
                         const char *target) {
        if (ctx->json) {
                JsonWriter w;
                json_init(&w, stdout);
                json_object_begin(&w);
                json_kv_string(&w, "profile", name);
                json_kv_string(&w, "action", action);
                json_kv_bool(&w, "changed", changed);
                json_kv_string(&w, "link", link);
                json_kv_string(&w, "target", target);
                json_object_end(&w);
                fputc('\n', stdout);
        } else if (!changed)
                printf("Profile %s is already %s.\n", name, action);
        else
                printf("Profile %s %s: %s%s%s. It takes effect at the next boot; `lastgood policy check` shows "
                       "the policy.\n",
                       name, action, link, target ? " -> " : " removed", target ?: "");
}

/* The event of a change, naming who made it (the policy decides what lastgood
 * may disable at boot: who changed it belongs in the log). */
static void record_change(Context *ctx, const char *name, bool enable, const char *link, const char *target) {
        Event e = { .type = enable ? EVENT_PROFILE_ENABLED : EVENT_PROFILE_DISABLED,
                    .action = enable ? "profile-enable" : "profile-disable" };
        char msg[512];
        snprintf(msg, sizeof msg, "profile %s %s by %s", name, enable ? "enabled" : "disabled",
                 audit_event_add(&e));
        e.message = msg;
        event_add(&e, "profile", name);
        event_add(&e, "link", link);
        if (target)
                event_add(&e, "target", target);
        record_append(ctx->root_fd, &e);
}

static int profile_change(Context *ctx, const char *name, bool enable) {
        _cleanup_free_ char *file = NULL, *target = NULL, *link = NULL;
        if (!name_is_component(name))
                return context_usage_error(ctx, "invalid profile name '%s'", name);
        if (asprintf(&file, "%s.yaml", name) < 0 || asprintf(&target, "%s/%s", LASTGOOD_PROFILES_DIR, file) < 0 ||
            asprintf(&link, "%s/%s", POLICY_DROPIN_DIR, file) < 0)
                return log_error_errno(-ENOMEM, "Out of memory.");

        _cleanup_close_ int pfd = -1, dfd = -1, vfd = -1;
        int r = open_dir_or_absent(ctx->root_fd, LASTGOOD_PROFILES_DIR, &pfd);
        if (r < 0)
                return log_error_errno(r, "Failed to open %s: %m", LASTGOOD_PROFILES_DIR);
        bool shipped = pfd >= 0 && is_profile_file(pfd, file);

        if (enable) {
                if (!shipped) {
                        log_error("Unknown profile '%s': no %s (see `lastgood profile list`).", name, target);
                        return EXIT_USAGE;
                }
                r = mkdir_durable_root(ctx->root_fd, POLICY_DROPIN_DIR, 0755, &dfd);
        } else
                r = open_dir_or_absent(ctx->root_fd, POLICY_DROPIN_DIR, &dfd);
        if (r < 0)
                return log_error_errno(r, "Failed to open %s: %m", POLICY_DROPIN_DIR);
        /* Held until we are done: the validation must see what the change
         * applies to (fixed temp names in symlink_atomic_at() need it too). */
        if (dfd >= 0 && flock(dfd, LOCK_EX) < 0)
                return log_error_errno(-errno, "Failed to lock %s: %m", POLICY_DROPIN_DIR);
        r = open_dir_or_absent(ctx->root_fd, POLICY_VENDOR_DROPIN_DIR, &vfd);
        if (r < 0)
                return log_error_errno(r, "Failed to open %s: %m", POLICY_VENDOR_DROPIN_DIR);

        ProfileState s = profile_state(dfd, vfd, file, target);
        if (!enable && !shipped && s != PROFILE_ENABLED) {
                log_error("Unknown profile '%s': no %s (see `lastgood profile list`).", name, target);
                return EXIT_USAGE;
        }
        if (s == PROFILE_MASKED || s == PROFILE_OVERRIDDEN) {
                /* Not ours to replace or remove: the admin put it there. */
                log_error("Refusing to %s profile %s: %s is %s, not lastgood's link; remove it first.",
                          enable ? "enable" : "disable", name, link,
                          s == PROFILE_MASKED ? "a mask (a symlink to " LASTGOOD_MASK_TARGET ")" : "a local file");
                return EXIT_FAIL;
        }
        if (enable == (s == PROFILE_ENABLED)) {
                print_result(ctx, name, enable ? "enabled" : "disabled", false, link, NULL);
                return EXIT_OK;
        }
        if (s == PROFILE_VENDOR && enable)
                log_notice("%s/%s (a package's) is overridden by the profile from now on.",
                           POLICY_VENDOR_DROPIN_DIR, file);

        /* Validate first: the merged policy with the change must be valid.
         * Removing a link may break a later drop-in that relied on it; that
         * is refused only when the policy is valid now (disabling must stay
         * possible while something else is wrong). */
        Policy before = {}, after = {};
        PolicyDropinChange change = { .name = file, .link_target = enable ? target : NULL };
        r = policy_load_with_change(ctx->root_fd, &change, &after);
        if (r >= 0 && !enable && after.errors)
                r = policy_load(ctx->root_fd, NULL, &before);
        if (r < 0) {
                policy_done(&after);
                return log_error_errno(r, "Failed to load the policy: %m");
        }
        bool refuse = after.errors && (enable || !before.errors);
        if (refuse) {
                print_errors(&after);
                log_error("Refusing to %s profile %s: the policy would be invalid (above); nothing was changed.",
                          enable ? "enable" : "disable", name);
        }
        policy_done(&after);
        policy_done(&before);
        if (refuse)
                return EXIT_FAIL;

        r = enable ? symlink_atomic_at(dfd, file, target) : unlink_durable_at(dfd, file);
        if (r < 0)
                return log_error_errno(r, "Failed to %s %s: %m", enable ? "create" : "remove", link);
        record_change(ctx, name, enable, link, enable ? target : NULL);
        print_result(ctx, name, enable ? "enabled" : "disabled", true, link, enable ? target : NULL);
        return EXIT_OK;
}

int verb_profile(Context *ctx, int argc, char **argv) {
        if (streq(argv[1], "list")) {
                if (argc != 2)
                        return context_usage_error(ctx, "'list' takes no arguments");
                return profile_list(ctx);
        }
        if (streq(argv[1], "enable") || streq(argv[1], "disable")) {
                if (argc != 3)
                        return context_usage_error(ctx, "'%s' takes one profile name", argv[1]);
                return profile_change(ctx, argv[2], streq(argv[1], "enable"));
        }
        return context_usage_error(ctx, "unknown sub-verb '%s'", argv[1]);
}
