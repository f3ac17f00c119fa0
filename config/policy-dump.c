/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Printing the effective policy: one walk over the schema (policy-schema.c)
 * that writes either dialect. The human form is itself a valid policy file
 * (strings double-quoted with JSON escapes, which YAML reads the same way),
 * so `policy check` output can be saved and checked again. The JSON form
 * uses the same keys; durations are strings as in the YAML ("90s"), sizes
 * are integers (bytes), unset strings are null; a component's unset
 * max_failed_boots is printed as the value it inherits (a comment in YAML).
 */
#include <inttypes.h>

#include "lib/json.h"
#include "config/policy-internal.h"

typedef struct Dumper {
        FILE *f;
        bool json;
        JsonWriter w;
        const Policy *p; /* for inherited values */
} Dumper;

/* YAML: "KEY:" at INDENT, or "- KEY:" two columns left of it when the key
 * opens a list entry. JSON: the object key. */
static void key(Dumper *d, const char *k, unsigned indent, bool opens_entry) {
        if (d->json)
                json_key(&d->w, k);
        else
                fprintf(d->f, "%*s%s%s:", (int) (opens_entry ? indent - 2 : indent), "",
                        opens_entry ? "- " : "", k);
}

/* A value YAML prints bare (names, durations) and JSON as a string. */
static void bare(Dumper *d, const char *v) {
        if (d->json)
                json_string(&d->w, v);
        else
                fprintf(d->f, " %s\n", v);
}

static void number(Dumper *d, uint64_t v) {
        if (d->json)
                json_u64(&d->w, v);
        else
                fprintf(d->f, " %" PRIu64 "\n", v);
}

static void string(Dumper *d, const char *s) {
        if (d->json)
                json_string(&d->w, s);
        else {
                fputc(' ', d->f);
                json_escape(d->f, s ?: "");
                fputc('\n', d->f);
        }
}

/* A flow list: YAML "[a, b]" with each item quoted when QUOTED. */
static void list(Dumper *d, const char *const *items, size_t n, bool quoted) {
        if (d->json) {
                json_array_begin(&d->w);
                for (size_t i = 0; i < n; i++)
                        json_string(&d->w, items[i]);
                json_array_end(&d->w);
                return;
        }
        fputs(" [", d->f);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        fputs(", ", d->f);
                if (quoted)
                        json_escape(d->f, items[i]);
                else
                        fputs(items[i], d->f);
        }
        fputs("]\n", d->f);
}

static void dump_fields(Dumper *d, const Field *fields, size_t n_fields, const void *base, unsigned indent,
                        bool opens_entry);

/* A list of mappings (health checks, components): YAML block entries. */
static void entries(Dumper *d, const Field *f, const void *base, unsigned indent) {
        const char *items = *(const char *const *) policy_field_at_const(base, f);
        size_t n = policy_field_count(base, f);

        if (d->json)
                json_array_begin(&d->w);
        else
                fputs(n == 0 ? " []\n" : "\n", d->f);
        for (size_t i = 0; i < n; i++) {
                if (d->json)
                        json_object_begin(&d->w);
                dump_fields(d, f->sub, f->n_sub, items + i * f->item_size, indent + 4, true);
                if (d->json)
                        json_object_end(&d->w);
        }
        if (d->json)
                json_array_end(&d->w);
}

static void dump_field(Dumper *d, const Field *f, const void *base, unsigned indent, bool opens_entry) {
        const void *v = policy_field_at_const(base, f);
        char buf[32];

        if (f->inherit_key && *(const uint32_t *) v == 0) {
                /* Unset: what applies is the inherited value. */
                uint32_t inherited = *(const uint32_t *) ((const char *) d->p + f->inherit_offset);
                if (d->json) {
                        json_kv_u64(&d->w, f->key, inherited);
                        return;
                }
                fprintf(d->f, "%*s# %s: %" PRIu32 " (%s)\n", (int) indent, "", f->key, inherited, f->inherit_key);
                return;
        }

        key(d, f->key, indent, opens_entry);
        switch (f->type) {
        case FT_SECTION:
                if (d->json)
                        json_object_begin(&d->w);
                else
                        fputc('\n', d->f);
                dump_fields(d, f->sub, f->n_sub, base, indent + 2, false);
                if (d->json)
                        json_object_end(&d->w);
                break;
        case FT_VERSION:
        case FT_U32:
                number(d, *(const uint32_t *) v);
                break;
        case FT_U64:
                number(d, *(const uint64_t *) v);
                break;
        case FT_BOOL:
                if (d->json)
                        json_bool(&d->w, *(const bool *) v);
                else
                        fprintf(d->f, " %s\n", *(const bool *) v ? "true" : "false");
                break;
        case FT_DURATION:
                bare(d, format_duration(buf, *(const uint64_t *) v));
                break;
        case FT_SIZE:
                if (d->json)
                        number(d, *(const uint64_t *) v);
                else
                        fprintf(d->f, " %s\n", policy_format_size(buf, *(const uint64_t *) v));
                break;
        case FT_ENUM: {
                unsigned e = *(const unsigned *) v;
                bare(d, e < f->n_names ? f->names[e] : "?");
                break;
        }
        case FT_LADDER: {
                const char *names[POLICY_MAX_LADDER];
                size_t n = policy_field_count(base, f);
                if (n > POLICY_MAX_LADDER)
                        n = POLICY_MAX_LADDER;
                for (size_t i = 0; i < n; i++) {
                        unsigned s = ((const LadderStep *) v)[i];
                        names[i] = s < f->n_names ? f->names[s] : "?";
                }
                list(d, names, n, false);
                break;
        }
        default:
                switch (policy_field_kind(f->type)) {
                case FK_STRING:
                        string(d, *(char *const *) v);
                        break;
                case FK_STRV: {
                        char *const *l = *(char **const *) v;
                        list(d, (const char *const *) l, strv_length(l), true);
                        break;
                }
                case FK_ENTRIES:
                        entries(d, f, base, indent);
                        break;
                default:
                        break;
                }
        }
}

static void dump_fields(Dumper *d, const Field *fields, size_t n_fields, const void *base, unsigned indent,
                        bool opens_entry) {
        for (size_t i = 0; i < n_fields; i++)
                dump_field(d, &fields[i], base, indent, opens_entry && i == 0);
}

void policy_dump(const Policy *p, FILE *f, bool json) {
        Dumper d = { .f = f, .json = json, .p = p };

        if (json) {
                json_init(&d.w, f);
                json_object_begin(&d.w);
        } else {
                fputs("# The effective lastgood policy", f);
                if (strv_length(p->files) == 0)
                        fputs(": built-in defaults\n", f);
                else {
                        fputs(", from:\n", f);
                        for (char **s = p->files; *s; s++)
                                fprintf(f, "#   %s\n", *s);
                }
                if (p->overridden)
                        fputs("# overridden by the same name in " POLICY_DROPIN_DIR ":\n", f);
                for (char **s = p->overridden; s && *s; s++)
                        fprintf(f, "#   %s\n", *s);
                if (p->masked)
                        fputs("# masked (a symlink to " LASTGOOD_MASK_TARGET " in " POLICY_DROPIN_DIR "):\n", f);
                for (char **s = p->masked; s && *s; s++)
                        fprintf(f, "#   %s\n", *s);
        }
        dump_fields(&d, policy_top_fields, ELEMENTSOF(policy_top_fields), p, 0, false);
        if (json) {
                json_kv_strv(&d.w, "files", p->files);
                json_kv_strv(&d.w, "overridden", p->overridden);
                json_kv_strv(&d.w, "masked", p->masked);
                json_kv_strv(&d.w, "errors", p->errors);
                json_kv_strv(&d.w, "warnings", p->warnings);
                json_object_end(&d.w);
                fputc('\n', f);
        }
}
