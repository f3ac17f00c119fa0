/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Unit tests use cmocka (Debian's libcmocka-dev): its runner prints a
 * "[  PASSED  ] N test(s)." / "[  FAILED  ]" summary that tests/run-all.sh
 * reads, and it isolates each test's failures. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary directory for one test; removed with `rm -rf` by
 * unit_rmdir(). */
static inline char *unit_mkdtemp(void) {
        char *d = strdup("/tmp/lastgood-unit.XXXXXX");
        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static inline void unit_rmdir(char *d) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
        assert_int_equal(system(cmd), 0);
        free(d);
}

static inline void unit_write(const char *dir, const char *name, const char *content) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}
