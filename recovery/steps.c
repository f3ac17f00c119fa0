/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/steps.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>

#include "lib/log.h"
#include "lib/paths.h"
#include "lib/rootfs.h"
#include "recovery/manifest.h"
#include "recovery/module-expand.h"
#include "recovery/unit-expand.h"
#include "recovery/quarantine.h"
#include "recovery/safemode.h"
#include "recovery/snapshot.h"

static void msg(StepResult *res, const char *fmt, ...) _printf_(2, 3);
static void msg(StepResult *res, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(res->message, sizeof res->message, fmt, ap);
        va_end(ap);
}

static void evidence(StepResult *res, const char *key, const char *fmt, ...) _printf_(3, 4);
static void evidence(StepResult *res, const char *key, const char *fmt, ...) {
        if (res->n_evidence >= ELEMENTSOF(res->evidence))
                return;
        StepEvidence *e = &res->evidence[res->n_evidence++];
        e->key = key;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->value, sizeof e->value, fmt, ap);
        va_end(ap);
}

/* The culprit content's digest (manifest_content_digest()), taken before a
 * step replaces or moves it: the fleet's metrics name the bad content
 * version by it. Left out when it cannot be computed: the step goes on. */
static void evidence_content_digest(int root_fd, const Component *comp, StepResult *res) {
        _cleanup_strv_free_ char **roots = NULL;
        char hex[MANIFEST_DIGEST_HEX + 1];
        int r = manifest_roots(comp->content, &roots);
        if (r >= 0)
                r = manifest_content_digest(root_fd, roots, comp->exclude, hex);
        if (r < 0) {
                log_debug_errno(r, "%s: no content digest, ignoring: %m", comp->name);
                return;
        }
        evidence(res, STEP_EVIDENCE_CONTENT_DIGEST, "sha256:%s", hex);
}

const char *step_result_evidence(const StepResult *res, const char *key) {
        for (size_t i = 0; i < res->n_evidence; i++)
                if (streq(res->evidence[i].key, key))
                        return res->evidence[i].value;
        return NULL;
}

static int step_restore(int root_fd, const Policy *p, const Culprit *c, uint32_t incident, StepResult *res) {
        const Component *comp = c->component;
        if (!c->changed) {
                msg(res, "%s: content is unchanged since its known-good snapshot; nothing to restore", comp->name);
                return -EALREADY;
        }
        char keep[PATH_MAX];
        if (xsnprintf(keep, sizeof keep, LASTGOOD_QUARANTINE_DIR "/%s/%u/replaced", comp->name, incident) < 0)
                return -ENAMETOOLONG;
        evidence_content_digest(root_fd, comp, res);
        _cleanup_free_ char *id = NULL;
        /* The newest verified snapshot: it holds only content a confirmed boot
         * began with (snapshot.h), whatever the time stamps say. */
        int r = snapshot_restore(root_fd, p, comp, NULL, /* before_usec= */ 0, keep, &id);
        if (r == -ENOENT) {
                msg(res, "%s: no verified known-good snapshot; nothing to restore", comp->name);
                return -EALREADY;
        }
        if (r < 0) {
                msg(res, "%s: restoring the known-good content failed: %s", comp->name, strerror(-r));
                return r;
        }
        msg(res, "restored %s content from known-good snapshot %s (%s); the replaced content is kept in %s",
            comp->name, id, c->evidence, keep);
        evidence(res, "snapshot", "%s", id);
        evidence(res, "replaced_kept_in", "%s", keep);
        return 0;
}

static int step_quarantine(int root_fd, const Culprit *c, uint32_t incident, StepResult *res) {
        const Component *comp = c->component;
        if (comp->quarantine == QUARANTINE_NEVER) {
                msg(res, "%s has quarantine: never; not disabled", comp->name);
                return -EPERM;
        }
        evidence_content_digest(root_fd, comp, res);
        QuarantineResult qr = {};
        int r = quarantine_apply(root_fd, comp, incident, c->evidence, &qr);
        if (r < 0) {
                msg(res, "%s: quarantine failed: %s", comp->name, strerror(-r));
                return r;
        }
        /* A glob stands for the installed modules it matches: say when that was none. */
        char globs[sizeof qr.unmatched_globs + sizeof qr.unmatched_unit_globs + 320] = "";
        if (qr.unmatched_globs[0])
                snprintf(globs, sizeof globs,
                         "; kernel_modules %s matched no installed module, nothing "
                         "blacklisted for it",
                         qr.unmatched_globs);
        if (qr.modules_capped)
                snprintf(globs + strlen(globs), sizeof globs - strlen(globs),
                         "; a kernel_modules glob matched more than %d modules, only those were blacklisted",
                         MODULE_EXPAND_MAX);
        if (qr.unmatched_unit_globs[0])
                snprintf(globs + strlen(globs), sizeof globs - strlen(globs),
                         "; units %s matched no installed unit, nothing masked for it", qr.unmatched_unit_globs);
        if (qr.units_capped)
                snprintf(globs + strlen(globs), sizeof globs - strlen(globs),
                         "; a units glob matched more than %d units, only those were masked", UNIT_EXPAND_MAX);
        msg(res,
            "quarantined %s (modules blacklisted, units masked, content kept aside)%s — %s; "
            "undo with: lastgood quarantine release %s",
            comp->name, globs, c->evidence, comp->name);
        evidence(res, "modules_blacklisted", "%u", qr.n_modules);
        evidence(res, "units_masked", "%u", qr.n_units);
        evidence(res, "content_moved", "%u", qr.n_content);
        return 0;
}

static int step_safe_mode(int root_fd, int runtime_fd, const Policy *p, const Culprit *c, StepResult *res) {
        char reason[600];
        snprintf(reason, sizeof reason, "recovery ladder: %s",
                 c->component ? c->evidence : "crash loop, no suspect");
        int r = safemode_apply(root_fd, runtime_fd, p, reason);
        if (r < 0) {
                msg(res, "safe mode failed: %s", strerror(-r));
                return r;
        }
        msg(res, "safe mode for this boot: security components with safe_mode: disable are kept from starting (%s)",
            c->component ? c->component->name : "no suspect");
        return 0;
}

int steps_run(int root_fd, int runtime_fd, const Policy *p, LadderStep step, const Culprit *c,
              uint32_t incident, StepResult *ret) {
        StepResult res = { .step = step };
        int r = 0;
        if (step != LADDER_SAFE_MODE) {
                r = root_ensure_writable(root_fd);
                if (r < 0)
                        msg(&res, "the root file system could not be made writable: %s", strerror(-r));
        }
        if (r >= 0)
                switch (step) {
                case LADDER_RESTORE_CONTENT:
                        r = step_restore(root_fd, p, c, incident, &res);
                        break;
                case LADDER_QUARANTINE:
                        r = step_quarantine(root_fd, c, incident, &res);
                        break;
                case LADDER_SAFE_MODE:
                        r = step_safe_mode(root_fd, runtime_fd, p, c, &res);
                        break;
                default:
                        msg(&res, "not a ladder step");
                        r = -EINVAL;
                }
        snprintf(res.action, sizeof res.action, "%s%s", ladder_step_to_string(step),
                 r == -EALREADY || r == -EPERM ? ":skipped"
                 : r < 0                       ? ":failed"
                                               : "");
        *ret = res;
        return r;
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
