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
#include "lib/log.h"

int verb_boot(Context *ctx, int argc, char **argv) {
        BootReport rep = {};
        int r = bootflow_run(ctx, &rep);
        if (r < 0)
                log_error_errno(r, "lastgood: internal error, continuing the boot: %m");

        /* One line on the console, for humans and for the VM tests. */
        bool recovery = rep.mode == BOOT_MODE_RECOVERY;
        const char *step = recovery ? rep.step : "";
        printf("lastgood: boot %" PRIu64 ": mode=%s%s%s failed_boots=%u/%u%s%s\n", rep.total_boots,
               boot_mode_to_string(rep.mode), step[0] ? ":" : "", step, rep.failed_boots, rep.threshold,
               rep.summary[0] ? " — " : "", rep.summary);
        fflush(stdout);
        /* Loud where it matters: recovery and safe mode also go to the kernel
         * log (dmesg, and the journal once it runs). */
        if (rep.mode == BOOT_MODE_SAFE)
                log_notice("SAFE MODE — security components are off for this boot: %s", rep.summary);
        else if (rep.mode != BOOT_MODE_NORMAL)
                log_notice("RECOVERY%s%s: %s", rep.step[0] ? " " : "", rep.step, rep.summary);
        return EXIT_OK; /* fail open: the boot must go on */
}
