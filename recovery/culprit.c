/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recovery/culprit.h"

#include <inttypes.h>
#include <stdarg.h>

#include "lib/log.h"
#include "recovery/quarantine.h"

int crash_evidence_collect(const char *pstore_dir, CrashEvidence *ret) {
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

void crash_evidence_done(CrashEvidence *e) {
        crash_report_done(&e->report);
}

void crash_evidence_weigh(const CrashEvidence *e, const Component *c, CrashVerdict *ret) {
        CrashIdentity id = { .kernel_modules = c->kernel_modules,
                             .processes = c->processes,
                             .panic_messages = c->panic_messages,
                             .bpf_programs = c->bpf_programs };
        if (!e->found) {
                *ret = (CrashVerdict) {};
                return;
        }
        pstore_weigh(&e->report, &id, ret);
}

const char *suspect_reason_to_string(SuspectReason r) {
        static const char *const t[_SUSPECT_REASON_MAX] = {
                [SUSPECT_NONE] = "none",
                [SUSPECT_ATTRIBUTED] = "attributed",
                [SUSPECT_CHANGED] = "changed",
        };
        return r >= 0 && r < _SUSPECT_REASON_MAX ? t[r] : NULL;
}

void culprit_done(Culprit *c) {
        free(c->components);
        c->components = NULL;
        c->n_components = 0;
}

static void appendf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void appendf(char *buf, size_t size, const char *fmt, ...) {
        size_t n = strnlen(buf, size);
        if (n >= size - 1)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + n, size - n, fmt, ap);
        va_end(ap);
}

static void change_words(const ContentChange *ch, char *buf, size_t size) {
        uint64_t n = ch->n_changed + ch->n_removed;
        if (!ch->baseline)
                appendf(buf, size, "no known-good snapshot to compare with");
        else if (!ch->changed)
                appendf(buf, size, "unchanged since the last confirmed boot");
        else if (n == 0)
                appendf(buf, size, "changed since the last confirmed boot (its snapshot's manifest is unusable)");
        else
                appendf(buf, size, "changed since the last confirmed boot: %" PRIu64 " file%s", n,
                        n == 1 ? "" : "s");
}

/* Weighs one component. Never fails: what cannot be known is said. */
static void weigh_component(int root_fd, const Policy *p, const CrashEvidence *e, const Component *c,
                            ComponentEvidence *ret) {
        ComponentEvidence ce = { .component = c };
        char *w = ce.words;
        size_t ws = sizeof ce.words;

        crash_evidence_weigh(e, c, &ce.verdict);
        bool attributed = ce.verdict.strength >= CRASH_STRENGTH_MEDIUM;

        ce.quarantined = quarantine_is_active(root_fd, c->name);
        if (ce.quarantined < 0)
                /* Fail closed: a damaged registry must not put a quarantined
                 * component back among the suspects by change. */
                log_warning_errno(ce.quarantined,
                                  "Failed to read the quarantine registry, treating %s as quarantined "
                                  "(state unknown): %m",
                                  c->name);
        else if (ce.quarantined == 0) {
                int r = snapshot_content_changed(root_fd, p, c, /* refresh_cache= */ true, &ce.change);
                if (r < 0)
                        log_warning_errno(r, "Failed to compare %s with its known-good snapshot, ignoring: %m",
                                          c->name);
                else
                        ce.change_known = true;
        }

        bool changed = ce.change_known && ce.change.changed;
        if (attributed) {
                ce.suspect = SUSPECT_ATTRIBUTED;
                appendf(w, ws, "attributed: %s", ce.verdict.why);
        } else if (ce.quarantined != 0) {
                appendf(w, ws, "%s, not a suspect unless a crash record names it",
                        ce.quarantined < 0 ? "quarantine state unknown (registry unreadable)" : "quarantined");
                if (ce.verdict.cleared)
                        appendf(w, ws, "; %s", ce.verdict.why);
        } else if (ce.verdict.cleared) {
                /* The kernel left a record pointing elsewhere: recency
                 * blames nothing (unless the admin turned that off). */
                if (changed && !p->recovery.require_suspect)
                        ce.suspect = SUSPECT_CHANGED;
                appendf(w, ws, "%s", ce.verdict.why);
                if (ce.change_known) {
                        appendf(w, ws, "; ");
                        change_words(&ce.change, w, ws);
                }
                if (ce.suspect == SUSPECT_CHANGED)
                        appendf(w, ws, "; a suspect anyway (recovery.require_suspect is false)");
        } else {
                if (changed)
                        ce.suspect = SUSPECT_CHANGED;
                if (ce.change_known)
                        change_words(&ce.change, w, ws);
                else
                        appendf(w, ws, "content not compared (error)");
                if (e->found && !e->fatal)
                        appendf(w, ws, "; the crash record has no oops or panic report");
                if (ce.verdict.why[0])
                        appendf(w, ws, "; %s", ce.verdict.why); /* weak evidence: said, never used */
        }
        *ret = ce;
}

/* Is A a better suspect than B (NULL: none yet)? */
static bool better(const ComponentEvidence *a, const ComponentEvidence *b, const char *preferred) {
        if (a->suspect == SUSPECT_NONE)
                return false;
        if (!b)
                return true;
        if (a->suspect != b->suspect)
                return a->suspect == SUSPECT_ATTRIBUTED;
        if (a->suspect == SUSPECT_ATTRIBUTED && a->verdict.strength != b->verdict.strength)
                return a->verdict.strength > b->verdict.strength;
        bool ap = preferred && streq(a->component->name, preferred);
        bool bp = preferred && streq(b->component->name, preferred);
        if (ap != bp)
                return ap;
        /* Two changed components, no crash record: the newer change is
         * restored first (restoring is low impact; if the loop goes on, the
         * other one is the suspect at the next boot). */
        return a->suspect == SUSPECT_CHANGED && a->change.newest_ctime_usec > b->change.newest_ctime_usec;
}

int culprit_find(int root_fd, const Policy *p, const CrashEvidence *e, const char *preferred, Culprit *ret) {
        Culprit c = {};
        if (p->n_components > 0) {
                c.components = calloc(p->n_components, sizeof(ComponentEvidence));
                if (!c.components)
                        return -ENOMEM;
        }
        c.n_components = p->n_components;

        const ComponentEvidence *best = NULL;
        for (size_t i = 0; i < p->n_components; i++) {
                weigh_component(root_fd, p, e, &p->components[i], &c.components[i]);
                if (better(&c.components[i], best, preferred))
                        best = &c.components[i];
                appendf(c.why, sizeof c.why, "%s%s: %s", i > 0 ? "; " : "", p->components[i].name,
                        c.components[i].words);
        }
        if (p->n_components == 0)
                appendf(c.why, sizeof c.why, "the policy lists no components");
        if (!e->found)
                appendf(c.why, sizeof c.why, "; no crash record");

        if (best) {
                c.component = best->component;
                c.reason = best->suspect;
                c.attributed = best->suspect == SUSPECT_ATTRIBUTED;
                c.strength = best->verdict.strength;
                c.changed = best->change_known && best->change.changed;
                snprintf(c.evidence, sizeof c.evidence, "%s", best->words);
        }
        *ret = c;
        return 0;
}
