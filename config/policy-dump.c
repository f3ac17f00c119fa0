/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Printing the effective policy. The human form is itself a valid policy
 * file (strings double-quoted with JSON escapes, which YAML reads the same
 * way), so `policy check` output can be saved and checked again. The JSON
 * form uses the same keys; durations are strings as in the YAML ("90s"),
 * sizes are integers (bytes).
 */
#include <inttypes.h>

#include "lib/json.h"
#include "config/policy-internal.h"

static void yaml_str(FILE *f, const char *s) {
        json_escape(f, s ?: "");
}

static void yaml_strv(FILE *f, char *const *l) {
        fputc('[', f);
        for (size_t i = 0; l && l[i]; i++) {
                if (i)
                        fputs(", ", f);
                yaml_str(f, l[i]);
        }
        fputc(']', f);
}

static void dump_yaml(const Policy *p, FILE *f) {
        char a[32];

        fputs("# The effective lastgood policy", f);
        if (strv_length(p->files) == 0)
                fputs(": built-in defaults\n", f);
        else {
                fputs(", from:\n", f);
                for (char **s = p->files; *s; s++)
                        fprintf(f, "#   %s\n", *s);
        }
        fprintf(f, "version: %" PRIu32 "\n", p->version);

        fputs("boot:\n", f);
        fprintf(f, "  max_failed_boots: %" PRIu32 "\n", p->boot.max_failed_boots);
        fprintf(f, "  state: %s\n", state_backend_kind_to_string(p->boot.state));
        fputs("  state_device: ", f);
        yaml_str(f, p->boot.state_device);
        fputs("\n  state_file: ", f);
        yaml_str(f, p->boot.state_file);
        fprintf(f, "\n  count_unknown_failures: %s\n", p->boot.count_unknown_failures ? "true" : "false");

        fputs("confirm:\n  health_checks:", f);
        if (p->confirm.n_health_checks == 0)
                fputs(" []", f);
        fputc('\n', f);
        for (size_t i = 0; i < p->confirm.n_health_checks; i++) {
                const HealthCheck *h = &p->confirm.health_checks[i];
                fputs("    - name: ", f);
                yaml_str(f, h->name);
                fputs("\n      command: ", f);
                yaml_strv(f, h->command);
                fprintf(f, "\n      timeout: %s\n", format_duration(a, h->timeout_usec));
        }

        fputs("components:", f);
        if (p->n_components == 0)
                fputs(" []", f);
        fputc('\n', f);
        for (size_t i = 0; i < p->n_components; i++) {
                const Component *c = &p->components[i];
                fputs("  - name: ", f);
                yaml_str(f, c->name);
                fputs("\n    content: ", f);
                yaml_strv(f, c->content);
                fputs("\n    kernel_modules: ", f);
                yaml_strv(f, c->kernel_modules);
                fputs("\n    units: ", f);
                yaml_strv(f, c->units);
                fprintf(f, "\n    quarantine: %s\n", quarantine_mode_to_string(c->quarantine));
                fprintf(f, "    safe_mode: %s\n", component_safe_mode_to_string(c->safe_mode));
                if (c->max_failed_boots > 0)
                        fprintf(f, "    max_failed_boots: %" PRIu32 "\n", c->max_failed_boots);
                else
                        fprintf(f, "    # max_failed_boots: %" PRIu32 " (boot.max_failed_boots)\n",
                                p->boot.max_failed_boots);
        }

        fputs("recovery:\n  ladder: [", f);
        for (size_t i = 0; i < p->recovery.n_ladder; i++)
                fprintf(f, "%s%s", i ? ", " : "", ladder_step_to_string(p->recovery.ladder[i]));
        fputs("]\n", f);
        fprintf(f, "  attributed_crash_threshold: %" PRIu32 "\n", p->recovery.attributed_crash_threshold);
        fprintf(f, "  require_suspect: %s\n", p->recovery.require_suspect ? "true" : "false");
        fprintf(f, "  suspect_window: %s\n", format_duration(a, p->recovery.suspect_window_usec));
        fprintf(f, "  safe_mode_without_suspect: %s\n", p->recovery.safe_mode_without_suspect ? "true" : "false");

        fputs("snapshots:\n  dir: ", f);
        yaml_str(f, p->snapshots.dir);
        fprintf(f, "\n  keep: %" PRIu32 "\n", p->snapshots.keep);
        fprintf(f, "  max_bytes: %s\n", policy_format_size(a, p->snapshots.max_bytes));
        fprintf(f, "  max_entries: %" PRIu64 "\n", p->snapshots.max_entries);
        fprintf(f, "  max_expanded_bytes: %s\n", policy_format_size(a, p->snapshots.max_expanded_bytes));

        fputs("safe_mode:\n", f);
        fprintf(f, "  allow_cmdline: %s\n", p->safe_mode.allow_cmdline ? "true" : "false");
        fprintf(f, "  require_code: %s\n", p->safe_mode.require_code ? "true" : "false");
        fprintf(f, "  code_window: %" PRIu32 "\n", p->safe_mode.code_window);
        fputs("  secret_file: ", f);
        yaml_str(f, p->safe_mode.secret_file);

        fputs("\nreport:\n  prometheus_textfile: ", f);
        yaml_str(f, p->report.prometheus_textfile);
        fputc('\n', f);
}

static void json_kv_duration(JsonWriter *w, const char *key, uint64_t usec) {
        char a[32];
        json_kv_string(w, key, format_duration(a, usec));
}

static void dump_json(const Policy *p, FILE *f) {
        JsonWriter w;
        json_init(&w, f);
        json_object_begin(&w);
        json_kv_u64(&w, "version", p->version);

        json_key(&w, "boot");
        json_object_begin(&w);
        json_kv_u64(&w, "max_failed_boots", p->boot.max_failed_boots);
        json_kv_string(&w, "state", state_backend_kind_to_string(p->boot.state));
        json_kv_string(&w, "state_device", p->boot.state_device);
        json_kv_string(&w, "state_file", p->boot.state_file);
        json_kv_bool(&w, "count_unknown_failures", p->boot.count_unknown_failures);
        json_object_end(&w);

        json_key(&w, "confirm");
        json_object_begin(&w);
        json_key(&w, "health_checks");
        json_array_begin(&w);
        for (size_t i = 0; i < p->confirm.n_health_checks; i++) {
                const HealthCheck *h = &p->confirm.health_checks[i];
                json_object_begin(&w);
                json_kv_string(&w, "name", h->name);
                json_kv_strv(&w, "command", h->command);
                json_kv_duration(&w, "timeout", h->timeout_usec);
                json_object_end(&w);
        }
        json_array_end(&w);
        json_object_end(&w);

        json_key(&w, "components");
        json_array_begin(&w);
        for (size_t i = 0; i < p->n_components; i++) {
                const Component *c = &p->components[i];
                json_object_begin(&w);
                json_kv_string(&w, "name", c->name);
                json_kv_strv(&w, "content", c->content);
                json_kv_strv(&w, "kernel_modules", c->kernel_modules);
                json_kv_strv(&w, "units", c->units);
                json_kv_string(&w, "quarantine", quarantine_mode_to_string(c->quarantine));
                json_kv_string(&w, "safe_mode", component_safe_mode_to_string(c->safe_mode));
                /* The effective threshold: the override or boot.max_failed_boots. */
                json_kv_u64(&w, "max_failed_boots", policy_component_threshold(p, c));
                json_object_end(&w);
        }
        json_array_end(&w);

        json_key(&w, "recovery");
        json_object_begin(&w);
        json_key(&w, "ladder");
        json_array_begin(&w);
        for (size_t i = 0; i < p->recovery.n_ladder; i++)
                json_string(&w, ladder_step_to_string(p->recovery.ladder[i]));
        json_array_end(&w);
        json_kv_u64(&w, "attributed_crash_threshold", p->recovery.attributed_crash_threshold);
        json_kv_bool(&w, "require_suspect", p->recovery.require_suspect);
        json_kv_duration(&w, "suspect_window", p->recovery.suspect_window_usec);
        json_kv_bool(&w, "safe_mode_without_suspect", p->recovery.safe_mode_without_suspect);
        json_object_end(&w);

        json_key(&w, "snapshots");
        json_object_begin(&w);
        json_kv_string(&w, "dir", p->snapshots.dir);
        json_kv_u64(&w, "keep", p->snapshots.keep);
        json_kv_u64(&w, "max_bytes", p->snapshots.max_bytes);
        json_kv_u64(&w, "max_entries", p->snapshots.max_entries);
        json_kv_u64(&w, "max_expanded_bytes", p->snapshots.max_expanded_bytes);
        json_object_end(&w);

        json_key(&w, "safe_mode");
        json_object_begin(&w);
        json_kv_bool(&w, "allow_cmdline", p->safe_mode.allow_cmdline);
        json_kv_bool(&w, "require_code", p->safe_mode.require_code);
        json_kv_u64(&w, "code_window", p->safe_mode.code_window);
        json_kv_string(&w, "secret_file", p->safe_mode.secret_file);
        json_object_end(&w);

        json_key(&w, "report");
        json_object_begin(&w);
        json_kv_string(&w, "prometheus_textfile", p->report.prometheus_textfile);
        json_object_end(&w);

        json_kv_strv(&w, "files", p->files);
        json_kv_strv(&w, "errors", p->errors);
        json_object_end(&w);
        fputc('\n', f);
}

void policy_dump(const Policy *p, FILE *f, bool json) {
        if (json)
                dump_json(p, f);
        else
                dump_yaml(p, f);
}
