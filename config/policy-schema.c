/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one description of the policy's keys: type, range, default and place
 * of each. policy-parse.c checks files against it, policy-dump.c prints it,
 * and the walkers below give the defaults, the deep copy and the free.
 */
#include "config/policy-internal.h"

#define F(k, t, off, ...) \
        { .key = (k), .type = (t), .offset = (off), __VA_ARGS__ }
#define P(member) offsetof(Policy, member)
#define ENUM(table) .names = (table), .n_names = ELEMENTSOF(table)
#define SUB(table) .sub = (table), .n_sub = ELEMENTSOF(table)
#define LIST(count, type) .count_offset = P(count), .item_size = sizeof(type)
#define SEC(x) ((uint64_t) USEC_PER_SEC * (x))

static const Field boot_fields[] = {
        F("max_failed_boots", FT_U32, P(boot.max_failed_boots), .min = 1, .max = 50, .def = 3),
        F("state", FT_ENUM, P(boot.state), ENUM(policy_state_backend_names), .def = STATE_BACKEND_AUTO),
        F("state_device", FT_DEVICE, P(boot.state_device)),
        F("state_file", FT_PATH, P(boot.state_file), .def_str = LASTGOOD_STATE_FILE_DEFAULT),
        F("count_unknown_failures", FT_BOOL, P(boot.count_unknown_failures), .def = true),
};

#define HC(member) offsetof(HealthCheck, member)
const Field policy_health_check_fields[3] = {
        F("name", FT_NAME, HC(name), .required = true),
        F("command", FT_COMMAND, HC(command), .required = true),
        F("timeout", FT_DURATION, HC(timeout_usec), .min = SEC(1), .max = SEC(3600), .def = SEC(90)),
};

static const Field confirm_fields[] = {
        F("health_checks", FT_HEALTH_CHECKS, P(confirm.health_checks), SUB(policy_health_check_fields),
          LIST(confirm.n_health_checks, HealthCheck)),
};

#define C(member) offsetof(Component, member)
const Field policy_component_fields[11] = {
        F("name", FT_NAME, C(name), .required = true),
        F("content", FT_DATA_PATH_LIST, C(content)),
        F("exclude", FT_EXCLUDE_LIST, C(exclude)),
        F("kernel_modules", FT_MODULE_LIST, C(kernel_modules)),
        F("processes", FT_PROCESS_LIST, C(processes)),
        F("bpf_programs", FT_BPF_LIST, C(bpf_programs)),
        F("panic_messages", FT_PANIC_LIST, C(panic_messages)),
        F("units", FT_UNIT_LIST, C(units)),
        F("quarantine", FT_ENUM, C(quarantine), ENUM(policy_quarantine_names), .def = QUARANTINE_ALLOW),
        F("safe_mode", FT_ENUM, C(safe_mode), ENUM(policy_safe_mode_names), .def = COMPONENT_SAFE_MODE_DISABLE),
        F("max_failed_boots", FT_U32, C(max_failed_boots), .min = 1, .max = 50,
          .inherit_key = "boot.max_failed_boots", .inherit_offset = P(boot.max_failed_boots)),
};

static const Field recovery_fields[] = {
        /* The default ladder is every step, in the order of LadderStep. */
        F("ladder", FT_LADDER, P(recovery.ladder), ENUM(policy_ladder_names), .count_offset = P(recovery.n_ladder)),
        F("restore_threshold", FT_U32, P(recovery.restore_threshold), .min = 1, .max = 50, .def = 1),
        F("attributed_crash_threshold", FT_U32, P(recovery.attributed_crash_threshold), .min = 1, .max = 50,
          .def = 1),
        F("require_suspect", FT_BOOL, P(recovery.require_suspect), .def = true),
        F("suspect_window", FT_DURATION, P(recovery.suspect_window_usec), .min = 0, .max = SEC(365 * 86400),
          .def = SEC(72 * 3600)),
        F("safe_mode_without_suspect", FT_BOOL, P(recovery.safe_mode_without_suspect), .def = false),
};

static const Field snapshots_fields[] = {
        F("dir", FT_DATA_PATH, P(snapshots.dir), .def_str = LASTGOOD_SNAPSHOT_DIR_DEFAULT),
        F("keep", FT_U32, P(snapshots.keep), .min = 1, .max = 100, .def = 3),
        F("max_bytes", FT_SIZE, P(snapshots.max_bytes), .min = 1ULL << 20, .max = 1ULL << 40, .def = 1ULL << 30),
        F("max_entries", FT_U64, P(snapshots.max_entries), .min = 1, .max = 100000000, .def = 1000000),
        F("max_expanded_bytes", FT_SIZE, P(snapshots.max_expanded_bytes), .min = 1ULL << 20,
          .max = 16ULL << 40, .def = 8ULL << 30),
};

static const Field safe_mode_fields[] = {
        F("allow_cmdline", FT_BOOL, P(safe_mode.allow_cmdline), .def = true),
        F("require_code", FT_BOOL, P(safe_mode.require_code), .def = true),
        F("code_window", FT_U32, P(safe_mode.code_window), .min = 1, .max = 100, .def = 10),
        F("secret_file", FT_PATH, P(safe_mode.secret_file), .def_str = LASTGOOD_HELPDESK_SECRET_DEFAULT),
};

static const Field report_fields[] = {
        F("prometheus_textfile", FT_PATH_OR_EMPTY, P(report.prometheus_textfile),
          .def_str = "/var/lib/prometheus/node-exporter/lastgood.prom"),
};

/* Sections share the Policy as their base: their offsets are from it. */
const Field policy_top_fields[8] = {
        F("version", FT_VERSION, P(version), .min = 1, .max = 1, .def = 1),
        F("boot", FT_SECTION, 0, SUB(boot_fields)),
        F("confirm", FT_SECTION, 0, SUB(confirm_fields)),
        F("components", FT_COMPONENTS, P(components), SUB(policy_component_fields), LIST(n_components, Component)),
        F("recovery", FT_SECTION, 0, SUB(recovery_fields)),
        F("snapshots", FT_SECTION, 0, SUB(snapshots_fields)),
        F("safe_mode", FT_SECTION, 0, SUB(safe_mode_fields)),
        F("report", FT_SECTION, 0, SUB(report_fields)),
};

#define CHECK_SIZE(table) \
        _Static_assert(ELEMENTSOF(table) <= POLICY_MAX_FIELDS, #table " has more than POLICY_MAX_FIELDS keys")
CHECK_SIZE(policy_top_fields);
CHECK_SIZE(boot_fields);
CHECK_SIZE(confirm_fields);
CHECK_SIZE(policy_health_check_fields);
CHECK_SIZE(policy_component_fields);
CHECK_SIZE(recovery_fields);
CHECK_SIZE(snapshots_fields);
CHECK_SIZE(safe_mode_fields);
CHECK_SIZE(report_fields);

static size_t *count_at(void *base, const Field *f) {
        return (size_t *) ((char *) base + f->count_offset);
}

int policy_fields_init(const Field *fields, size_t n_fields, void *base) {
        for (size_t i = 0; i < n_fields; i++) {
                const Field *f = &fields[i];
                void *v = policy_field_at(base, f);
                switch (f->type) {
                case FT_SECTION: {
                        int r = policy_fields_init(f->sub, f->n_sub, base);
                        if (r < 0)
                                return r;
                        break;
                }
                case FT_VERSION:
                case FT_U32:
                        *(uint32_t *) v = (uint32_t) f->def;
                        break;
                case FT_U64:
                case FT_DURATION:
                case FT_SIZE:
                        *(uint64_t *) v = f->def;
                        break;
                case FT_BOOL:
                        *(bool *) v = f->def != 0;
                        break;
                case FT_ENUM:
                        *(unsigned *) v = (unsigned) f->def;
                        break;
                case FT_LADDER:
                        for (size_t s = 0; s < f->n_names; s++)
                                ((LadderStep *) v)[s] = (LadderStep) s;
                        *count_at(base, f) = f->n_names;
                        break;
                default:
                        /* Strings: their default, or unset; lists: empty. */
                        if (policy_field_kind(f->type) == FK_STRING && f->def_str &&
                            !(*(char **) v = strdup(f->def_str)))
                                return -ENOMEM;
                        break;
                }
        }
        return 0;
}

void policy_fields_done(const Field *fields, size_t n_fields, void *base) {
        for (size_t i = 0; i < n_fields; i++) {
                const Field *f = &fields[i];
                void *v = policy_field_at(base, f);
                switch (policy_field_kind(f->type)) {
                case FK_SECTION:
                        policy_fields_done(f->sub, f->n_sub, base);
                        break;
                case FK_VALUE:
                        break;
                case FK_STRING:
                        free(*(char **) v);
                        *(char **) v = NULL;
                        break;
                case FK_STRV:
                        strv_free(*(char ***) v);
                        *(char ***) v = NULL;
                        break;
                case FK_ENTRIES: {
                        char *items = *(char **) v;
                        for (size_t k = 0; k < policy_field_count(base, f); k++)
                                policy_fields_done(f->sub, f->n_sub, items + k * f->item_size);
                        free(items);
                        *(char **) v = NULL;
                        *count_at(base, f) = 0;
                        break;
                }
                }
        }
}

/* DST is a shallow copy of SRC: each pointer it owns is replaced by a copy
 * (NULL, and *failed, when out of memory), so that freeing DST after a
 * failure frees only copies. */
static void fields_copy(const Field *fields, size_t n_fields, const void *src, void *dst, bool *failed) {
        for (size_t i = 0; i < n_fields; i++) {
                const Field *f = &fields[i];
                const void *s = policy_field_at_const(src, f);
                void *d = policy_field_at(dst, f);
                switch (policy_field_kind(f->type)) {
                case FK_SECTION:
                        fields_copy(f->sub, f->n_sub, src, dst, failed);
                        break;
                case FK_VALUE:
                        break;
                case FK_STRING: {
                        const char *str = *(char *const *) s;
                        *(char **) d = str ? strdup(str) : NULL;
                        if (str && !*(char **) d)
                                *failed = true;
                        break;
                }
                case FK_STRV: {
                        char *const *l = *(char **const *) s;
                        *(char ***) d = l ? strv_copy(l) : NULL;
                        if (l && !*(char ***) d)
                                *failed = true;
                        break;
                }
                case FK_ENTRIES: {
                        const char *items = *(char *const *) s;
                        size_t n = policy_field_count(src, f);
                        char *copy = n > 0 ? calloc(n, f->item_size) : NULL;
                        *(char **) d = copy;
                        if (n > 0 && !copy) {
                                *count_at(dst, f) = 0;
                                *failed = true;
                                break;
                        }
                        for (size_t k = 0; k < n; k++) {
                                memcpy(copy + k * f->item_size, items + k * f->item_size, f->item_size);
                                fields_copy(f->sub, f->n_sub, items + k * f->item_size,
                                            copy + k * f->item_size, failed);
                        }
                        break;
                }
                }
        }
}

int policy_copy_settings(const Policy *src, Policy *ret) {
        bool failed = false;
        Policy p = *src;
        p.errors = p.files = p.overridden = p.masked = p.warnings = NULL;
        p.fallback_reason = NULL; /* not a setting, like errors and files */
        p.fallback = POLICY_FALLBACK_NONE;
        fields_copy(policy_top_fields, ELEMENTSOF(policy_top_fields), src, &p, &failed);
        if (failed) {
                policy_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}
