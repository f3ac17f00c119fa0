/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the decoders of lib/encode.h and the validators of
 * lib/names.h, which read manifests, the restore intent, the quarantine
 * registry and the policy (all may have been planted). What the token
 * decoder accepts must encode back to the same bytes (one spelling per
 * value); every decoded value must survive encode → decode unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encode.h"
#include "lib/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *field_encode(const char *s) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                abort();
        pct_field_write(f, s);
        if (fclose(f) != 0)
                abort();
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 64 * 1024)
                return 0;
        char *s = strndup((const char *) data, size); /* cut at a NUL: the decoders take C strings */
        if (!s)
                return 0;

        char *d = NULL;
        if (pct_token_decode(s, &d) >= 0) {
                char *again = pct_token_encode(d);
                if (!again || !streq(again, s))
                        abort();
                free(again);
                free(d);
        }
        char *e = pct_token_encode(s), *back = NULL;
        if (!e || pct_token_decode(e, &back) < 0 || !streq(back, s))
                abort();
        free(e);
        free(back);

        if (pct_field_decode(s, &d) >= 0) {
                char *again = field_encode(d), *d2 = NULL;
                if (pct_field_decode(again, &d2) < 0 || !streq(d2, d))
                        abort();
                free(again);
                free(d2);
                free(d);
        }
        e = field_encode(s);
        if (strchr(e, ' ') || strchr(e, '\n') || pct_field_decode(e, &back) < 0 || !streq(back, s))
                abort();
        free(e);
        free(back);

        void *bytes = NULL;
        size_t n;
        if (hex_decode(s, strlen(s), &bytes, &n) >= 0) {
                char *hex = NULL;
                if (hex_encode(bytes, n, &hex) < 0 || strcasecmp(hex, s) != 0)
                        abort();
                free(hex);
                free(bytes);
        }

        char *name = NULL;
        if (pct_filename_encode(s, NAME_FILE_MAX, &name) >= 0) {
                if (strchr(name, '/') || strlen(name) > NAME_FILE_MAX)
                        abort();
                free(name);
        }

        /* Whatever passes a validator is safe where it is used. */
        if (name_is_component(s) && (strchr(s, '/') || s[0] == '.'))
                abort();
        if (name_is_module(s) && strpbrk(s, " \t\n/"))
                abort();
        if (name_is_unit(s) && (strchr(s, '/') || strchr(s, '\n')))
                abort();
        if (name_is_content_path(s) && (s[0] != '/' || strstr(s, "/../") || strstr(s, "//")))
                abort();
        free(s);
        return 0;
}
