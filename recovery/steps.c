/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/steps.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>

#include "agent/record.h"
#include "lib/rootfs.h"
#include "lib/log.h"
#include "recovery/pstore.h"
#include "recovery/quarantine.h"
#include "recovery/safemode.h"
#include "recovery/snapshot.h"

#define CRASH_ARCHIVE_DIR "/var/lib/lastgood/crashes"
#define QUARANTINE_DIR "/var/lib/lastgood/quarantine"

static void msg(StepResult *res, const char *fmt, ...) _printf_(2, 3);
static void msg(StepResult *res, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(res->message, sizeof res->message, fmt, ap);
        va_end(ap);
}

static int step_restore(const LadderInput *in, const Culprit *c, uint32_t incident, StepResult *res) {
        const Component *comp = c->component;
        if (!c->changed) {
                msg(res, "%s: content is unchanged since its known-good snapshot; nothing to restore", comp->name);
                return -EALREADY;
        }
        char keep[PATH_MAX];
        if (xsnprintf(keep, sizeof keep, QUARANTINE_DIR "/%s/%u/replaced", comp->name, incident) < 0)
                return -ENAMETOOLONG;
        _cleanup_free_ char *id = NULL;
        int r = snapshot_restore(in->root_fd, in->policy, comp, NULL, c->changed_usec, keep, &id);
        if (r == -ENOENT) {
                msg(res, "%s: no verified known-good snapshot taken before the change; nothing to restore",
                    comp->name);
                return -EALREADY;
        }
        if (r < 0) {
                msg(res, "%s: restoring the known-good content failed: %s", comp->name, strerror(-r));
                return r;
        }
        msg(res, "restored %s content from known-good snapshot %s (%s); the replaced content is kept in %s",
            comp->name, id, c->why, keep);
        return 0;
}

static int step_quarantine(const LadderInput *in, const Culprit *c, uint32_t incident, StepResult *res) {
        const Component *comp = c->component;
        if (comp->quarantine == QUARANTINE_NEVER) {
                msg(res, "%s has quarantine: never; not disabled", comp->name);
                return -EPERM;
        }
        QuarantineResult qr = {};
        int r = quarantine_apply(in->root_fd, comp, incident, c->why, &qr);
        if (r < 0) {
                msg(res, "%s: quarantine failed: %s", comp->name, strerror(-r));
                return r;
        }
        msg(res, "quarantined %s (modules blacklisted, units masked, content kept aside) — %s; "
                 "undo with: lastgood quarantine release %s",
            comp->name, c->why, comp->name);
        return 0;
}

static int step_safe_mode(const LadderInput *in, const Culprit *c, StepResult *res) {
        char reason[600];
        snprintf(reason, sizeof reason, "recovery ladder: %s", c->component ? c->why : "crash loop, no suspect");
        int r = safemode_apply_runtime(in->runtime_fd, in->policy, reason);
        if (r < 0) {
                msg(res, "safe mode failed: %s", strerror(-r));
                return r;
        }
        msg(res, "safe mode for this boot: security components with safe_mode: disable are kept from starting (%s)",
            c->component ? c->component->name : "no suspect");
        return 0;
}

int steps_run(const LadderInput *in, LadderStep step, const Culprit *c, uint32_t incident, const CrashEvidence *ev,
              StepResult *res) {
        int r;
        if (step != LADDER_SAFE_MODE) {
                r = root_ensure_writable(in->root_fd);
                if (r < 0) {
                        msg(res, "the root file system could not be made writable: %s", strerror(-r));
                        return r;
                }
        }
        switch (step) {
        case LADDER_RESTORE_CONTENT:
                r = step_restore(in, c, incident, res);
                break;
        case LADDER_QUARANTINE:
                r = step_quarantine(in, c, incident, res);
                break;
        case LADDER_SAFE_MODE:
                r = step_safe_mode(in, c, res);
                break;
        default:
                return -EINVAL;
        }
        const char *type = step == LADDER_RESTORE_CONTENT ? "recovery-restore"
                           : step == LADDER_QUARANTINE   ? "recovery-quarantine"
                                                         : "recovery-safe-mode";
        char action[64];
        snprintf(action, sizeof action, "%s%s", ladder_step_to_string(step),
                 r == -EALREADY || r == -EPERM ? ":skipped" : r < 0 ? ":failed" : "");
        steps_record_event(in, type, c->component ? c->component->name : NULL, action, res->message, ev, c);
        if (r >= 0)
                record_count_recovery(in->root_fd, c->component ? c->component->name : "none",
                                     ladder_step_to_string(step));
        return r;
}

void steps_record_event(const LadderInput *in, const char *type, const char *component, const char *action,
                        const char *message, const CrashEvidence *ev, const Culprit *c) {
        char thr[16];
        _cleanup_strv_free_ char **evidence = NULL;
        if (ev && ev->found) {
                (void) !strv_push(&evidence, "crash_record");
                (void) !strv_push(&evidence, ev->summary);
        }
        if (c && c->component) {
                (void) !strv_push(&evidence, "culprit_evidence");
                (void) !strv_push(&evidence, c->why);
                (void) !strv_push(&evidence, "attributed");
                (void) !strv_push(&evidence, c->attributed ? "true" : "false");
                (void) !strv_push(&evidence, "changed");
                (void) !strv_push(&evidence, c->changed ? "true" : "false");
        } else if (c && c->why[0]) {
                (void) !strv_push(&evidence, "why");
                (void) !strv_push(&evidence, c->why);
        }
        snprintf(thr, sizeof thr, "%u", in->policy->boot.max_failed_boots);
        (void) !strv_push(&evidence, "max_failed_boots");
        (void) !strv_push(&evidence, thr);
        record_event(in->root_fd, type, component, action, message, evidence);
}

void steps_archive_crash_records(const LadderInput *in, const CrashEvidence *ev) {
        if (!ev->found)
                return;
        _cleanup_free_ char *name = NULL;
        int r = root_ensure_writable(in->root_fd);
        if (r >= 0)
                r = pstore_archive_and_clear(in->pstore_dir, in->root_fd, CRASH_ARCHIVE_DIR, &name);
        if (r < 0)
                log_warning_errno(r, "Failed to archive the crash records from %s, ignoring: %m", in->pstore_dir);
}

void steps_recover_interrupted(int root_fd, const Policy *p) {
        /* Nothing pending costs one failed open each. Something pending
         * needs the root read-write, which the initramfs mounts read-only:
         * remount and retry once. */
        int r = snapshot_recover_interrupted(root_fd, p);
        if (r == -EROFS && root_ensure_writable(root_fd) >= 0)
                r = snapshot_recover_interrupted(root_fd, p);
        if (r < 0)
                log_warning_errno(r, "Failed to finish an interrupted restore, ignoring: %m");
        r = quarantine_recover_interrupted(root_fd);
        if (r == -EROFS && root_ensure_writable(root_fd) >= 0)
                r = quarantine_recover_interrupted(root_fd);
        if (r < 0)
                log_warning_errno(r, "Failed to finish an interrupted quarantine, ignoring: %m");
}
