/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "context.h"
#include "log.h"

/* Placeholder until the owning module lands. */
int verb_helpdesk(Context *ctx, int argc, char **argv) {
        log_error("lastgood helpdesk: not available in this build");
        return -EOPNOTSUPP;
}
