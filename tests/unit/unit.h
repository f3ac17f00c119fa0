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

/* What the shell command CMD prints on stdout (malloc'd, NUL-terminated):
 * tree listings and hashes to compare before and after an operation. */
static inline char *unit_command_output(const char *cmd) {
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char *buf = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);
        assert_non_null(out);
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
                fwrite(chunk, 1, n, out);
        pclose(p);
        fclose(out);
        return buf;
}

/* Runs the shell command TMPL with every "%s" replaced by ARG (a test's
 * temporary directory); a failing command fails the test. */
static inline void unit_sh(const char *tmpl, const char *arg) {
        char cmd[4096];
        size_t o = 0;
        for (const char *t = tmpl; *t && o < sizeof cmd - 1;)
                if (t[0] == '%' && t[1] == 's') {
                        o += (size_t) snprintf(cmd + o, sizeof cmd - o, "%s", arg);
                        t += 2;
                } else
                        cmd[o++] = *t++;
        cmd[o < sizeof cmd ? o : sizeof cmd - 1] = '\0';
        if (system(cmd) != 0)
                fail_msg("command failed: %s", cmd);
}

/* libefivar reads EFIVARFS_PATH and LIBEFIVAR_OPS once, when it loads: a
 * test of code that reads UEFI variables calls this first in main(). The
 * first run makes a temporary directory with an empty efivars/ in it, sets
 * both variables and re-executes the binary; the second run returns 0 with
 * that efivars/ (trailing '/') in ret_efi and the directory in *ret_top
 * (the caller's to unit_rmdir()). -1 when it could not set things up. */
#define UNIT_FAKE_EFIVARFS_ENV "LASTGOOD_UNIT_FAKE_EFIVARFS"
static inline int unit_reexec_with_fake_efivarfs(char **argv, char ret_efi[static 256], char **ret_top) {
        const char *owned = getenv(UNIT_FAKE_EFIVARFS_ENV);
        if (!owned) {
                char d[] = "/tmp/lastgood-unit-efi.XXXXXX";
                char path[64];
                if (!mkdtemp(d))
                        return -1;
                snprintf(path, sizeof path, "%s/efivars/", d);
                if (mkdir(path, 0700) < 0)
                        return -1;
                setenv(UNIT_FAKE_EFIVARFS_ENV, d, 1);
                setenv("EFIVARFS_PATH", path, 1);
                setenv("LIBEFIVAR_OPS", "efivarfs", 1);
                execv("/proc/self/exe", argv);
                perror("execv");
                return -1;
        }
        snprintf(ret_efi, 256, "%s/efivars/", owned);
        *ret_top = strdup(owned);
        return *ret_top ? 0 : -1;
}
