/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `lastgood confirm` — this boot is good: the health checks pass, so the
 * count resets, the incident (if any) ends, and the components' content is
 * now known good: snapshot what changed since the last known-good snapshot,
 * as far as it was in place when this boot began. Crash records this boot
 * left in pstore (a non-fatal oops) are archived as not counted, and the
 * kernel release is recorded.
 *
 * Exits 1 when a check fails: the boot stays unconfirmed and counts as
 * failed at the next boot.
 */

#include <inttypes.h>
#include <time.h>

#include "agent/context.h"
#include "config/policy-cache.h"
#include "agent/health.h"
#include "agent/record.h"
#include "agent/safe-request.h"
#include "agent/state-store.h"
#include "lib/encode.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "recovery/crash-archive.h"
#include "recovery/quarantine.h"
#include "recovery/snapshot.h"

static int run_health_checks(const Policy *p, char *failed, size_t failed_size) {
        int failures = 0;
        for (size_t i = 0; i < p->confirm.n_health_checks; i++) {
                const HealthCheck *hc = &p->confirm.health_checks[i];
                HealthOutcome o;
                int r = health_run(hc, &o);
                if (r < 0) {
                        log_error_errno(r, "Health check %s could not run: %m", hc->name);
                        o.result = HEALTH_NOT_RUN;
                }
                if (o.result == HEALTH_PASSED) {
                        log_info("Health check %s passed (%" PRIu64 " ms).", hc->name, o.duration_usec / 1000);
                        continue;
                }
                char tmo[32];
                if (o.result == HEALTH_TIMED_OUT)
                        log_error("Health check %s timed out after %s and was killed.", hc->name,
                                  format_duration(tmo, hc->timeout_usec));
                else if (o.result == HEALTH_NOT_RUN)
                        log_error("Health check %s could not be started (%s: %s).", hc->name, hc->command[0],
                                  strerror(o.status));
                else
                        log_error("Health check %s failed (status %d).", hc->name, o.status);
                if (failures == 0)
                        snprintf(failed, failed_size, "%s %s", hc->name, health_result_to_string(o.result));
                failures++;
        }
        return failures;
}

/* When this boot began, CLOCK_REALTIME of this boot (the clock that stamps
 * the ctimes of what changed during it): `boot` wrote it into the record.
 * A record from another boot (`boot` did not run in this one) cannot say:
 * the kernel's own start serves then. Never a time of an earlier boot, whose
 * clock may have been set differently. */
static uint64_t boot_started_usec(const BootState *st) {
        char boot_id[37];
        read_boot_id(boot_id);
        if (st->last_boot_usec > 0 && boot_id[0] && streq(st->boot_id, boot_id))
                return st->last_boot_usec;
        struct timespec ts;
        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        uint64_t up = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        uint64_t now = now_realtime_usec();
        log_debug("The state record is not this boot's; taking the kernel's start as the boot's start.");
        return now > up ? now - up : 0;
}

/* The content the machine just proved good becomes the known-good snapshot,
 * but only content that was in place when the boot began: what changed
 * later has not booted yet. Not in safe mode (the components did not run)
 * and not for quarantined components. Failures are logged and do not undo
 * the confirmation. */
static void snapshot_known_good(Context *ctx, const Policy *p, const BootState *st) {
        if (st->boot_mode == BOOT_MODE_SAFE) {
                log_info("Safe-mode boot: the components did not run, no known-good snapshot taken.");
                return;
        }
        uint64_t started = boot_started_usec(st);
        for (size_t i = 0; i < p->n_components; i++) {
                const Component *c = &p->components[i];
                int q = quarantine_is_active(ctx->root_fd, c->name);
                if (q < 0)
                        log_warning_errno(q,
                                          "Failed to read the quarantine registry, treating %s as quarantined "
                                          "(state unknown) and taking no snapshot of it: %m",
                                          c->name);
                if (q != 0)
                        continue;
                bool created = false;
                _cleanup_free_ char *id = NULL, *newer = NULL;
                int r = snapshot_create_if_changed(ctx->root_fd, p, c, started, &created, &id, &newer);
                if (r == -EBUSY)
                        log_warning("Content of %s kept changing while it was being archived: no snapshot taken, "
                                    "%s stays the known-good one.",
                                    c->name, id ?: "the previous snapshot");
                else if (r < 0)
                        log_warning_errno(r, "Failed to snapshot known-good content of %s, ignoring: %m", c->name);
                else if (newer) {
                        _cleanup_free_ char *esc = pct_token_encode(newer);
                        log_notice("Content of %s changed during this boot (/%s); it becomes known-good at the next "
                                   "confirmed boot.",
                                   c->name, esc ?: "?");
                } else if (created)
                        log_notice("Known-good snapshot %s of %s taken.", id, c->name);
        }
}

/* Crash records still in pstore now were written during this boot (a
 * non-fatal oops with panic_on_oops=0) or survived an earlier archive
 * attempt: either way this boot is good, so they must never count against
 * a later boot. Best effort: a failure is logged, the confirmation stands. */
static void archive_stale_crash_records(Context *ctx) {
        _cleanup_free_ char *name = NULL;
        int r = pstore_archive_and_clear_as(ctx->pstore_dir, ctx->root_fd, LASTGOOD_CRASH_DIR,
                                            CRASH_RECORD_FROM_CONFIRMED_BOOT, &name);
        if (r < 0) {
                log_warning_errno(r, "Failed to archive the crash records left in %s, ignoring: %m",
                                  ctx->pstore_dir);
                return;
        }
        if (r == 0)
                return;
        char msg[200], count[16];
        snprintf(msg, sizeof msg,
                 "%d crash record%s found in pstore (a non-fatal oops of this boot, which is confirmed): "
                 "archived, not counted",
                 r, r == 1 ? "" : "s");
        snprintf(count, sizeof count, "%d", r);
        log_notice("%s (%s/%s).", msg, LASTGOOD_CRASH_DIR, name ?: "?");
        char *const evidence[] = { "records", count, "archive", name, NULL };
        record_event(ctx->root_fd, EVENT_CRASH_RECORD_NOT_COUNTED, NULL, NULL, msg, name ? evidence : NULL);
}

/* The release this boot runs, kept so that a later failed boot can tell a
 * kernel update from a content change. Unknown: recorded as "". */
static void record_kernel_release(BootState *st) {
        char release[KERNEL_RELEASE_SIZE] = "";
        int r = read_kernel_release(release);
        if (r < 0)
                log_warning_errno(r, "Failed to read the kernel release, recording it as unknown: %m");
        state_set_str(st->confirmed_kernel, release);
}

/* The --json result: one object, whatever the outcome. */
static void print_json_result(bool confirmed, bool already, int failures, const char *first_failed,
                              bool ended_incident, uint32_t failed_boots) {
        JsonWriter w;
        json_init(&w, stdout);
        json_object_begin(&w);
        json_kv_bool(&w, "confirmed", confirmed);
        json_kv_bool(&w, "already_confirmed", already);
        json_kv_u64(&w, "failed_checks", (uint64_t) failures);
        json_kv_string(&w, "first_failed_check", first_failed);
        json_kv_bool(&w, "ended_incident", ended_incident);
        json_kv_u64(&w, "failed_boots_before", failed_boots);
        json_object_end(&w);
        putchar('\n');
}

int verb_confirm(Context *ctx, int argc, char **argv) {
        Policy *p;
        _cleanup_(state_stores_done) StateStores stores = {};
        BootState st;
        int r = context_state(ctx, &p, &stores, &st);
        if (r < 0)
                return r;

        char failed[160] = "";
        int failures = run_health_checks(p, failed, sizeof failed);
        if (failures > 0) {
                char msg[256];
                snprintf(msg, sizeof msg, "%d health check%s failed (first: %s); this boot stays unconfirmed",
                         failures, failures == 1 ? "" : "s", failed);
                log_error("%s.", msg);
                record_event(ctx->root_fd, EVENT_CONFIRM_FAILED, NULL, NULL, msg, NULL);
                /* The fleet sees the unconfirmed boot now, not at the next one. */
                record_report(ctx->root_fd, ctx->runtime_fd, p, &stores, &st, 0);
                if (ctx->json)
                        print_json_result(false, false, failures, failed, false, st.failed_boots);
                return EXIT_FAIL;
        }

        /* A healthy boot ran under this policy: it becomes the copy an
         * invalid policy falls back to (written only when it changed). */
        if (!ctx->policy_path) {
                int k = policy_save_last_good(ctx->root_fd, p);
                if (k < 0)
                        log_warning_errno(k, "Failed to store the last-known-good policy %s, ignoring: %m",
                                          LASTGOOD_POLICY_LAST_GOOD_FILE);
                /* And compiled, for the next invocations (not durable). */
                k = p->from_cache ? 0 : policy_cache_save(ctx->root_fd, p);
                if (k < 0)
                        log_warning_errno(k, "Failed to store the compiled policy %s, ignoring: %m",
                                          LASTGOOD_POLICY_CACHE_FILE);
        }

        if (r > 0 && !st.in_boot) {
                /* Nothing to do: spare the NVRAM a write. But records a
                 * power cut kept the first confirm from archiving (or an
                 * oops since) must not count later either. */
                archive_stale_crash_records(ctx);
                (void) safe_request_remove_stale(ctx->root_fd, ctx->esp_dir);
                record_report(ctx->root_fd, ctx->runtime_fd, p, &stores, &st, 0);
                if (ctx->json)
                        print_json_result(true, true, 0, NULL, false, 0);
                else
                        printf("This boot is already confirmed.\n");
                return EXIT_OK;
        }

        snapshot_known_good(ctx, p, &st);

        const BootState was_st = st; /* what the textfile says if the write below fails */
        bool ended_incident = st.ladder_step > 0 || st.failed_boots > 0;
        uint32_t was_failed = st.failed_boots;
        char boot_id[37];
        read_boot_id(boot_id);
        st.failed_boots = 0;
        st.step_failed_boots = 0;
        st.in_boot = 0;
        st.ladder_step = 0;
        st.loop_started_usec = 0;
        state_set_str(st.culprit, "");
        st.last_confirmed_usec = now_realtime_usec();
        state_set_str(st.last_confirmed_boot_id, boot_id);
        record_kernel_release(&st);
        r = state_stores_write(&stores, &st);
        for (char **e = stores.problems; e && *e; e++)
                log_warning("%s", *e);
        if (r < 0) {
                record_report(ctx->root_fd, ctx->runtime_fd, p, &stores, &was_st, 0);
                return log_error_errno(r, "Failed to record the confirmation in any state store: %m");
        }
        archive_stale_crash_records(ctx);
        (void) safe_request_remove_stale(ctx->root_fd, ctx->esp_dir);

        if (ended_incident) {
                char msg[200];
                snprintf(msg, sizeof msg, "boot confirmed after %u failed boot%s; incident %u ended",
                         was_failed, was_failed == 1 ? "" : "s", st.incident);
                record_event(ctx->root_fd, EVENT_BOOT_CONFIRMED, NULL, NULL, msg, NULL);
        }
        record_report(ctx->root_fd, ctx->runtime_fd, p, &stores, &st, 0);
        if (ctx->json)
                print_json_result(true, false, 0, NULL, ended_incident, was_failed);
        else
                printf("Boot confirmed.\n");
        return EXIT_OK;
}
