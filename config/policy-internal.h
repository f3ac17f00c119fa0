/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared between config/policy-schema.c (the one description of the policy's
 * keys), policy.c (defaults, loading, trust), policy-parse.c (the YAML event
 * parser) and policy-dump.c. Not for other modules.
 */

#include <stddef.h>

#include "config/policy.h"

/* Name tables, indexed by the enum value. */
extern const char *const policy_state_backend_names[3];
extern const char *const policy_quarantine_names[2];
extern const char *const policy_safe_mode_names[2];
extern const char *const policy_ladder_names[_LADDER_STEP_MAX];
extern const char *const policy_fallback_names[_POLICY_FALLBACK_MAX];

/* ---- the schema ---------------------------------------------------------
 *
 * Every key of the policy is one Field: its name, type, range, default and
 * where it lives. The parser checks a file against these tables, the dumper
 * prints them (YAML and JSON in one walk), and the defaults, deep copy and
 * free walk them too: a key added here is parsed, printed, defaulted, copied
 * and freed without another line elsewhere (docs/man/lastgood-policy.5 and
 * its test excepted). */

typedef enum FieldType {
        FT_SECTION,        /* a mapping of sub-fields (null: nothing set) */
        FT_VERSION,        /* uint32_t: 1 */
        FT_U32,            /* uint32_t, min..max */
        FT_U64,            /* uint64_t, min..max */
        FT_BOOL,           /* bool: true | false */
        FT_DURATION,       /* uint64_t usec, min..max */
        FT_SIZE,           /* uint64_t bytes, min..max */
        FT_ENUM,           /* unsigned (an enum), names[] */
        FT_PATH,           /* char *: a normalized absolute path */
        FT_PATH_OR_EMPTY,  /* char *: the same, or "" (null means "") */
        FT_DATA_PATH,      /* char *: the same, not "/", not in /proc /sys /dev /run */
        FT_DEVICE,         /* char *: LABEL=, PARTLABEL=, UUID=, or NULL (null or "") */
        FT_NAME,           /* char *: [a-zA-Z0-9_.-]{1,63}, not starting with '.' */
        FT_DATA_PATH_LIST, /* char **: content paths (name_is_content_path()) */
        FT_EXCLUDE_LIST,   /* char **: paths or globs below the content (name_is_exclude_pattern()) */
        FT_MODULE_LIST,    /* char **: kernel module names or globs */
        FT_PROCESS_LIST,   /* char **: globs of a task's comm */
        FT_BPF_LIST,       /* char **: globs of BPF program names */
        FT_PANIC_LIST,     /* char **: globs of panic messages */
        FT_UNIT_LIST,      /* char **: unit names */
        FT_COMMAND,        /* char **: non-empty, [0] absolute */
        FT_LADDER,         /* LadderStep[POLICY_MAX_LADDER] + size_t count, names[] */
        FT_HEALTH_CHECKS,  /* HealthCheck * + size_t count, items described by sub[] */
        FT_COMPONENTS,     /* Component * + size_t count, items described by sub[] */
} FieldType;

/* How a field is held, for what only ownership matters to (free, copy). */
typedef enum FieldKind {
        FK_SECTION, /* nothing of its own: its sub-fields share the base */
        FK_VALUE,   /* by value */
        FK_STRING,  /* char *, owned */
        FK_STRV,    /* char **, owned */
        FK_ENTRIES, /* an owned array of sub[] items and its size_t count */
} FieldKind;

static inline FieldKind policy_field_kind(FieldType t) {
        switch (t) {
        case FT_SECTION:
                return FK_SECTION;
        case FT_PATH:
        case FT_PATH_OR_EMPTY:
        case FT_DATA_PATH:
        case FT_DEVICE:
        case FT_NAME:
                return FK_STRING;
        case FT_DATA_PATH_LIST:
        case FT_EXCLUDE_LIST:
        case FT_MODULE_LIST:
        case FT_PROCESS_LIST:
        case FT_BPF_LIST:
        case FT_PANIC_LIST:
        case FT_UNIT_LIST:
        case FT_COMMAND:
                return FK_STRV;
        case FT_HEALTH_CHECKS:
        case FT_COMPONENTS:
                return FK_ENTRIES;
        default:
                return FK_VALUE;
        }
}

typedef struct Field {
        const char *key;
        FieldType type;
        bool required; /* entries of a list: a missing key is an error */
        size_t offset; /* into the base the table is applied to */
        uint64_t min, max;
        uint64_t def;        /* default of numbers, bools and enums (the enum's index) */
        const char *def_str; /* default of strings (NULL: unset) */
        /* 0 means "as the Policy's key INHERIT_KEY", which lives at inherit_offset. */
        const char *inherit_key;
        size_t inherit_offset;
        const char *const *names; /* FT_ENUM, FT_LADDER */
        size_t n_names;
        const struct Field *sub; /* FT_SECTION; the items of FT_HEALTH_CHECKS, FT_COMPONENTS */
        size_t n_sub;
        size_t count_offset; /* FT_LADDER, FT_HEALTH_CHECKS, FT_COMPONENTS: the size_t count */
        size_t item_size;    /* FT_HEALTH_CHECKS, FT_COMPONENTS */
} Field;

/* Keys in one table at the most: the parser keeps a bit per key in an
 * unsigned (the tables are checked against it at compile time). */
#define POLICY_MAX_FIELDS 16

/* The top level (applied to a Policy), and the items of its two lists. */
extern const Field policy_top_fields[8];
extern const Field policy_health_check_fields[3];
extern const Field policy_component_fields[11];

static inline void *policy_field_at(void *base, const Field *f) {
        return (char *) base + f->offset;
}
static inline const void *policy_field_at_const(const void *base, const Field *f) {
        return (const char *) base + f->offset;
}
/* The count of an FT_LADDER, FT_HEALTH_CHECKS or FT_COMPONENTS field. */
static inline size_t policy_field_count(const void *base, const Field *f) {
        return *(const size_t *) ((const char *) base + f->count_offset);
}

/* Fills BASE (zeroed by the caller) with the defaults of FIELDS; -ENOMEM. */
int policy_fields_init(const Field *fields, size_t n_fields, void *base) _wur_;
/* Frees what FIELDS own in BASE (strings, lists, list entries). */
void policy_fields_done(const Field *fields, size_t n_fields, void *base);

void policy_component_done(Component *c);
void policy_health_check_done(HealthCheck *h);

/* Deep copy of the settings of SRC (not its errors or files). */
int policy_copy_settings(const Policy *src, Policy *ret) _wur_;
/* Moves the settings of SRC into P, freeing P's old settings; P keeps its
 * errors and files; SRC is left empty. */
void policy_take_settings(Policy *p, Policy *src);

/* Appends "FILE:LINE:COL: message" to p->errors (LINE and COL 1-based). */
int policy_add_error(Policy *p, const char *file, size_t line, size_t col, const char *fmt, ...)
        _printf_(5, 6) _wur_;

/* "1G", "512M", or plain bytes: how parse_size() reads it back, exactly. */
const char *policy_format_size(char buf[static 32], uint64_t bytes);
