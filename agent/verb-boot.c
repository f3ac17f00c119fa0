/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `lastgood boot` — the early-boot entry point.
 *
 * Counts this boot durably before returning, decides this boot's mode
 * (normal, recovery, safe) and performs the recovery step that is due. It
 * always exits 0: whatever goes wrong inside, the boot goes on. Errors are
 * logged (to the kernel log too) and recorded in the state record.
 */

#include <inttypes.h>

#include "agent/bootflow.h"
#include "agent/context.h"
#include "lib/json.h"
#include "lib/log.h"

/* `boot --json`: one object (lastgood(8), BOOT JSON). Written to stdout
 * only; a failed write changes nothing about the boot. */
static void print_json(const BootReport *rep, bool internal_error) {
        JsonWriter w;
        json_init(&w, stdout);
        json_object_begin(&w);
        json_kv_u64(&w, "total_boots", rep->total_boots);
        json_kv_string(&w, "mode", boot_mode_to_string(rep->mode));
        /* The step taken (a skipped one leaves the mode normal). */
        json_kv_string(&w, "action", rep->mode != BOOT_MODE_NORMAL && rep->step[0] ? rep->step : NULL);
        json_kv_u64(&w, "failed_boots", rep->failed_boots);
        json_kv_u64(&w, "threshold", rep->threshold);
        json_kv_string(&w, "summary", rep->summary);
        json_kv_bool(&w, "already_counted", rep->again);
        json_kv_bool(&w, "internal_error", internal_error);
        json_kv_string(&w, "culprit", rep->culprit[0] ? rep->culprit : NULL);
        json_kv_string(&w, "suspect", rep->suspect[0] ? rep->suspect : NULL);
        json_kv_string(&w, "culprit_evidence", rep->culprit_evidence[0] ? rep->culprit_evidence : NULL);
        json_kv_string(&w, "crash_record", rep->crash_record[0] ? rep->crash_record : NULL);
        json_kv_string(&w, "evidence_summary", rep->why[0] ? rep->why : NULL);
        json_key(&w, "evidence");
        json_object_begin(&w);
        for (char **k = rep->evidence; k && k[0] && k[1]; k += 2)
                json_kv_string(&w, k[0], k[1]);
        json_object_end(&w);
        json_object_end(&w);
        putchar('\n');
}

int verb_boot(Context *ctx, int argc, char **argv) {
        _cleanup_(boot_report_done) BootReport rep = {};
        int r = bootflow_run(ctx, &rep);
        if (r < 0)
                log_error_errno(r, "lastgood: internal error, continuing the boot: %m");

        /* One line on the console, for humans and for the VM tests. */
        bool recovery = rep.mode == BOOT_MODE_RECOVERY;
        const char *step = recovery ? rep.step : "";
        if (ctx->json)
                print_json(&rep, r < 0);
        else
                printf("lastgood: boot %" PRIu64 ": mode=%s%s%s failed_boots=%u/%u%s%s\n", rep.total_boots,
                       boot_mode_to_string(rep.mode), step[0] ? ":" : "", step, rep.failed_boots,
                       rep.threshold, rep.summary[0] ? " — " : "", rep.summary);
        fflush(stdout);
        /* Loud where it matters: recovery and safe mode also go to the kernel
         * log (dmesg, and the journal once it runs). */
        if (rep.mode == BOOT_MODE_SAFE)
                log_notice("SAFE MODE — security components are off for this boot: %s", rep.summary);
        else if (rep.mode != BOOT_MODE_NORMAL)
                log_notice("RECOVERY%s%s: %s", rep.step[0] ? " " : "", rep.step, rep.summary);
        return EXIT_OK; /* fail open: the boot must go on */
}
