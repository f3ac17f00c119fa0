/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A minimal streaming JSON writer for --json output and the event log.
 * It tracks nesting to place commas; strings are escaped per RFC 8259.
 * Output goes to a FILE (use open_memstream() to build a string).
 */

#include <stdint.h>
#include <stdio.h>

#include "lib/util.h"

typedef struct JsonWriter {
        FILE *f;
        int depth;
        bool need_comma[32];
        bool after_key;
} JsonWriter;

void json_init(JsonWriter *w, FILE *f);
void json_object_begin(JsonWriter *w);
void json_object_end(JsonWriter *w);
void json_array_begin(JsonWriter *w);
void json_array_end(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);
void json_string(JsonWriter *w, const char *s); /* NULL writes null */
void json_u64(JsonWriter *w, uint64_t v);
void json_i64(JsonWriter *w, int64_t v);
void json_bool(JsonWriter *w, bool v);
void json_null(JsonWriter *w);
void json_strv(JsonWriter *w, char *const *l);

/* key + value shorthands */
void json_kv_string(JsonWriter *w, const char *key, const char *s);
void json_kv_u64(JsonWriter *w, const char *key, uint64_t v);
void json_kv_bool(JsonWriter *w, const char *key, bool v);
void json_kv_strv(JsonWriter *w, const char *key, char *const *l);

/* Writes S as a JSON string literal (with quotes) to F. */
void json_escape(FILE *f, const char *s);
