/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "context.h"
#include "log.h"

int verb_boot(Context *ctx, int argc, char **argv) {
        log_error("not yet");
        return 0;
}
