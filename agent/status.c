/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/status.h"

#include <unistd.h>

#include "lib/log.h"
#include "recovery/quarantine.h"
#include "recovery/safemode.h"
#include "recovery/snapshot.h"

void status_data_done(StatusData *s) {
        for (size_t i = 0; i < s->n_components; i++)
                free(s->components[i].newest_snapshot);
        free(s->components);
        free(s->backend_location);
        free(s->state_problem);
        *s = (StatusData) {};
}

static int collect_components(int root_fd, const Policy *p, bool check_content, StatusData *s) {
        s->components = calloc(p->n_components ?: 1, sizeof(ComponentStatus));
        if (!s->components)
                return -ENOMEM;
        s->n_components = p->n_components;
        /* Read once for all components: the registry and the store. */
        _cleanup_strv_free_ char **quarantined = NULL;
        int q = quarantine_active_names(root_fd, &quarantined);
        if (q == -ENOMEM)
                return q;
        _cleanup_close_ int store_fd = -1;
        (void) !snapshot_store_open_read(root_fd, p, &store_fd);
        for (size_t i = 0; i < p->n_components; i++) {
                const Component *c = &p->components[i];
                ComponentStatus *cs = &s->components[i];
                cs->name = c->name;
                /* An unreadable registry: quarantined, state unknown. */
                cs->quarantined = q < 0 || strv_contains(quarantined, c->name);
                cs->quarantine_unknown = q < 0;

                /* Bad ones are never restored: the newest good one. */
                char id[SNAPSHOT_ID_LEN + 1];
                if (store_fd >= 0 &&
                    snapshot_newest_good_info_at(store_fd, c->name, id, &cs->newest_snapshot_usec) >= 0) {
                        cs->newest_snapshot = strdup(id);
                        if (!cs->newest_snapshot)
                                return -ENOMEM;
                }
                if (check_content && !cs->quarantined) {
                        ContentChange ch;
                        if (snapshot_content_changed(root_fd, p, c, /* refresh_cache= */ false, &ch) >= 0) {
                                cs->changed_known = true;
                                cs->changed = ch.changed;
                                cs->n_changed = ch.n_changed + ch.n_removed;
                        }
                }
        }
        return 0;
}

int status_collect_from(int root_fd, const Policy *p, const StateStores *stores, const BootState *st,
                        bool check_content, StatusData *ret) {
        StatusData s = { .policy = p, .st = *st, .state_ok = true, .threshold = p->boot.max_failed_boots };
        const StateStore *cur = state_stores_current(stores);
        s.backend = cur ? store_kind_to_string(cur->kind) : "none";
        s.backend_location = strdup(cur ? cur->location : "");
        if (stores->problems && stores->problems[0]) {
                s.state_problem = strdup(stores->problems[strv_length(stores->problems) - 1]);
                s.state_ok = false;
        }
        if (st->culprit[0]) {
                const Component *c = policy_find_component(p, st->culprit);
                s.threshold = policy_component_threshold(p, c);
        }
        s.safe_mode_active = safemode_is_active(root_fd) || (st->boot_mode == BOOT_MODE_SAFE && st->in_boot);
        s.record_found = stores->read_from >= 0;
        s.confirmed = s.record_found && !st->in_boot && st->last_confirmed_usec > 0;
        int r = collect_components(root_fd, p, check_content, &s);
        if (r < 0 || !s.backend_location) {
                status_data_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int status_collect(int root_fd, const Policy *p, bool check_content, StatusData *ret) {
        _cleanup_(state_stores_done) StateStores stores = {};
        int r = state_stores_open(root_fd, p, false, &stores);
        if (r < 0)
                return r;
        BootState st = {};
        r = state_stores_read(&stores, &st);
        if (r < 0 && r != -EBADMSG)
                log_debug_errno(r, "Failed to read state: %m");
        /* A reader who may not see the key or a record (not root) would get
         * an unauthenticated, distrusted or empty record: made-up values.
         * The key of someone else (-EPERM) is only tampering for root. */
        if (stores.key_error == -EACCES || stores.read_error == -EACCES ||
            (stores.key_error == -EPERM && geteuid() != 0))
                return -EACCES;
        return status_collect_from(root_fd, p, &stores, &st, check_content, ret);
}
