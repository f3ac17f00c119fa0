/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: the real loader replaces this file. */
#include "policy.h"

int policy_init_defaults(Policy *p) {
        *p = (Policy) {
                .version = 1,
                .boot = { .max_failed_boots = 3, .state = STATE_BACKEND_AUTO, .count_unknown_failures = true },
                .recovery = { .ladder = { LADDER_RESTORE_CONTENT, LADDER_QUARANTINE, LADDER_SAFE_MODE }, .n_ladder = 3,
                              .attributed_crash_threshold = 1, .require_suspect = true,
                              .suspect_window_usec = 72 * 3600 * USEC_PER_SEC },
                .snapshots = { .keep = 3, .max_bytes = 1ULL << 30, .max_entries = 1000000, .max_expanded_bytes = 8ULL << 30 },
                .safe_mode = { .allow_cmdline = true, .code_window = 10 },
        };
        p->boot.state_file = strdup("/var/lib/lastgood/state");
        p->snapshots.dir = strdup("/var/lib/lastgood/snapshots");
        p->safe_mode.secret_file = strdup("/var/lib/lastgood/helpdesk.secret");
        p->report.prometheus_textfile = strdup("/var/lib/prometheus/node-exporter/lastgood.prom");
        return 0;
}
void policy_done(Policy *p) {
        free(p->boot.state_file);
        free(p->boot.state_device);
        free(p->snapshots.dir);
        free(p->safe_mode.secret_file);
        free(p->report.prometheus_textfile);
        strv_free(p->errors);
        strv_free(p->files);
}
int policy_load(int root_fd, const char *explicit_path, Policy *ret) {
        return policy_init_defaults(ret);
}
const Component *policy_find_component(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->n_components; i++)
                if (streq(p->components[i].name, name))
                        return &p->components[i];
        return NULL;
}
uint32_t policy_component_threshold(const Policy *p, const Component *c) {
        return c && c->max_failed_boots ? c->max_failed_boots : p->boot.max_failed_boots;
}
const char *ladder_step_to_string(LadderStep s) {
        static const char *const t[] = { "restore-content", "quarantine", "safe-mode" };
        return s < _LADDER_STEP_MAX ? t[s] : "?";
}
const char *state_backend_kind_to_string(StateBackendKind k) {
        static const char *const t[] = { "auto", "efivar", "file" };
        return t[k];
}
