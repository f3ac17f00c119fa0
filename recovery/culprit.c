/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/culprit.h"

#include <inttypes.h>
#include <stdarg.h>

#include "lib/log.h"
#include "recovery/quarantine.h"
#include "recovery/snapshot.h"

int crash_evidence_collect(int root_fd, const Policy *p, const char *pstore_dir, CrashEvidence *ret) {
        CrashEvidence e = {};
        int r = pstore_read(pstore_dir, &e.report);
        if (r < 0)
                return r;
        e.found = e.report.found;
        if (e.found) {
                crash_report_summary(&e.report, e.summary, sizeof e.summary);
                e.fatal = pstore_points_at(&e.report, e.points_at, sizeof e.points_at);
        }
        *ret = e;
        return 0;
}

void crash_evidence_weigh(const CrashEvidence *e, const Component *c, CrashVerdict *ret) {
        CrashIdentity id = { .kernel_modules = c->kernel_modules,
                             .processes = c->processes,
                             .bpf_programs = c->bpf_programs };
        if (!e->found) {
                *ret = (CrashVerdict) {};
                return;
        }
        pstore_weigh(&e->report, &id, ret);
}

static bool verdict_attributes(const CrashVerdict *v) {
        return v->strength >= CRASH_STRENGTH_MEDIUM;
}

static void culprit_set_verdict(Culprit *c, const CrashVerdict *v) {
        c->attributed = verdict_attributes(v);
        c->strength = v->strength;
        c->cleared = v->cleared;
        snprintf(c->evidence, sizeof c->evidence, "%s", v->why);
}

void crash_evidence_done(CrashEvidence *e) {
        crash_report_done(&e->report);
}

void culprit_done(Culprit *c) {
        (void) c;
}

static void why_append(Culprit *c, const char *fmt, ...) _printf_(2, 3);
static void why_append(Culprit *c, const char *fmt, ...) {
        size_t n = strlen(c->why);
        if (n >= sizeof c->why - 1)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why + n, sizeof c->why - n, fmt, ap);
        va_end(ap);
}

static void format_age(uint64_t now, uint64_t then, char buf[static 32]) {
        uint64_t d = now > then ? now - then : 0;
        if (d < 3600 * USEC_PER_SEC)
                snprintf(buf, 32, "%" PRIu64 "min", d / (60 * USEC_PER_SEC));
        else if (d < 72 * 3600 * USEC_PER_SEC)
                snprintf(buf, 32, "%" PRIu64 "h", d / (3600 * USEC_PER_SEC));
        else
                snprintf(buf, 32, "%" PRIu64 "d", d / (86400 * USEC_PER_SEC));
}

int culprit_find(int root_fd, const Policy *p, const CrashEvidence *ev, uint64_t loop_started_usec, Culprit *ret) {
        Culprit best = {};
        const Component *attributed = NULL, *recent = NULL;
        uint64_t recent_usec = 0;
        CrashVerdict attr_v = {};
        uint64_t now = now_realtime_usec();
        uint64_t ref = loop_started_usec ?: now;

        for (size_t i = 0; i < p->n_components; i++) {
                const Component *c = &p->components[i];
                int q = quarantine_is_active(root_fd, c->name);
                if (q < 0) {
                        /* Fail closed: a damaged registry must not put a
                         * quarantined component back among the suspects. */
                        log_warning_errno(q,
                                          "Failed to read the quarantine registry, treating %s as quarantined "
                                          "(state unknown): %m",
                                          c->name);
                        why_append(&best, "%s: quarantine state unknown (registry unreadable), not a suspect; ",
                                   c->name);
                }
                if (q != 0)
                        continue; /* already out of the way: not what crashes now */

                /* Strong or medium evidence attributes; the strongest wins,
                 * the first listed among equals. */
                CrashVerdict v;
                crash_evidence_weigh(ev, c, &v);
                if (verdict_attributes(&v) && (!attributed || v.strength > attr_v.strength)) {
                        attributed = c;
                        attr_v = v;
                }

                bool changed = false;
                uint64_t changed_usec = 0;
                int r = snapshot_content_changed(root_fd, p, c, /* refresh_cache= */ true, &changed, &changed_usec);
                if (r < 0) {
                        log_warning_errno(r, "Failed to compare %s with its known-good snapshot, ignoring it: %m",
                                          c->name);
                        continue;
                }
                if (!changed)
                        continue;
                /* A suspect changed within the window before the loop began
                 * (or after: the update that started it). */
                bool in_window = changed_usec + p->recovery.suspect_window_usec >= ref;
                char age[32];
                format_age(now, changed_usec, age);
                if (!in_window && p->recovery.require_suspect) {
                        why_append(&best, "%s changed %s ago (outside the %s window); ", c->name, age,
                                   format_duration((char[32]) {}, p->recovery.suspect_window_usec));
                        continue;
                }
                if (!recent || changed_usec > recent_usec) {
                        recent = c;
                        recent_usec = changed_usec;
                }
        }

        /* Attribution outranks recency. */
        if (attributed) {
                best.component = attributed;
                culprit_set_verdict(&best, &attr_v);
                bool ch = false;
                uint64_t cu = 0;
                if (snapshot_content_changed(root_fd, p, attributed, /* refresh_cache= */ true, &ch, &cu) >= 0) {
                        best.changed = ch;
                        best.changed_usec = cu;
                }
                best.why[0] = '\0';
                why_append(&best, "crash record: %s; %s", attr_v.why, ev->summary);
                if (best.changed)
                        why_append(&best, "; content changed since its known-good snapshot");
        } else if (recent) {
                best.component = recent;
                best.changed = true;
                best.changed_usec = recent_usec;
                CrashVerdict v;
                crash_evidence_weigh(ev, recent, &v);
                culprit_set_verdict(&best, &v);
                char age[32];
                format_age(now, recent_usec, age);
                best.why[0] = '\0';
                why_append(&best,
                           "most recently changed component: content changed %s ago, after its known-good "
                           "snapshot",
                           age);
                /* the verdict first: the summary that follows is long */
                if (ev->found)
                        why_append(&best, "%s%s; the crash record names none of the components (%s)",
                                   best.evidence[0] ? "; " : "", best.evidence, ev->summary);
        } else {
                if (!best.why[0])
                        why_append(&best, "no component's content changed since its known-good snapshot");
                else
                        best.why[strlen(best.why) - 2] = '\0';
                if (ev->found)
                        why_append(&best, "%s%s; the crash record names none of the components (%s)",
                                   ev->fatal ? "; cleared: the crash was in " : "",
                                   ev->fatal ? ev->points_at : "", ev->summary);
                else
                        why_append(&best, "; no crash record");
        }
        *ret = best;
        return 0;
}

int culprit_from_name(int root_fd, const Policy *p, const char *name, const CrashEvidence *ev, Culprit *ret) {
        Culprit c = {};
        c.component = policy_find_component(p, name);
        if (!c.component) {
                /* The policy changed under the incident: start over. */
                return culprit_find(root_fd, p, ev, 0, ret);
        }
        CrashVerdict v;
        crash_evidence_weigh(ev, c.component, &v);
        culprit_set_verdict(&c, &v);
        if (snapshot_content_changed(root_fd, p, c.component, /* refresh_cache= */ true, &c.changed,
                                     &c.changed_usec) < 0)
                c.changed = false;
        why_append(&c, "culprit of the ongoing incident: %s", name);
        if (ev->found)
                why_append(&c, "; %s%s%s", ev->summary, c.evidence[0] ? "; " : "", c.evidence);
        *ret = c;
        return 0;
}
