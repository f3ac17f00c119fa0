/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/json.h"

#include <inttypes.h>

void json_init(JsonWriter *w, FILE *f) {
        *w = (JsonWriter) { .f = f };
}

static void json_sep(JsonWriter *w) {
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (w->depth > 0 && w->depth < 32) {
                if (w->need_comma[w->depth])
                        fputc(',', w->f);
                w->need_comma[w->depth] = true;
        }
}

static void json_open(JsonWriter *w, char c) {
        json_sep(w);
        fputc(c, w->f);
        w->depth++;
        if (w->depth < 32)
                w->need_comma[w->depth] = false;
}

static void json_close(JsonWriter *w, char c) {
        fputc(c, w->f);
        w->depth--;
}

void json_object_begin(JsonWriter *w) {
        json_open(w, '{');
}
void json_object_end(JsonWriter *w) {
        json_close(w, '}');
}
void json_array_begin(JsonWriter *w) {
        json_open(w, '[');
}
void json_array_end(JsonWriter *w) {
        json_close(w, ']');
}

void json_escape(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
}

void json_key(JsonWriter *w, const char *key) {
        json_sep(w);
        json_escape(w->f, key);
        fputc(':', w->f);
        w->after_key = true;
}

void json_string(JsonWriter *w, const char *s) {
        json_sep(w);
        if (s)
                json_escape(w->f, s);
        else
                fputs("null", w->f);
}

void json_u64(JsonWriter *w, uint64_t v) {
        json_sep(w);
        fprintf(w->f, "%" PRIu64, v);
}

void json_i64(JsonWriter *w, int64_t v) {
        json_sep(w);
        fprintf(w->f, "%" PRId64, v);
}

void json_bool(JsonWriter *w, bool v) {
        json_sep(w);
        fputs(v ? "true" : "false", w->f);
}

void json_null(JsonWriter *w) {
        json_sep(w);
        fputs("null", w->f);
}

void json_strv(JsonWriter *w, char *const *l) {
        json_array_begin(w);
        for (; l && *l; l++)
                json_string(w, *l);
        json_array_end(w);
}

void json_kv_string(JsonWriter *w, const char *key, const char *s) {
        json_key(w, key);
        json_string(w, s);
}
void json_kv_u64(JsonWriter *w, const char *key, uint64_t v) {
        json_key(w, key);
        json_u64(w, v);
}
void json_kv_bool(JsonWriter *w, const char *key, bool v) {
        json_key(w, key);
        json_bool(w, v);
}
void json_kv_strv(JsonWriter *w, const char *key, char *const *l) {
        json_key(w, key);
        json_strv(w, l);
}
