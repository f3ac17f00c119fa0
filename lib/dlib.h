/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Libraries loaded on first use (dlopen), not at start-up: the healthy boot
 * path pays for mapping and relocating a library only where it needs it —
 * libarchive when a snapshot is made or restored, libefivar where efivarfs
 * exists, libblkid where a device is looked up (make bench counts the
 * instructions: each linked library costs the dynamic loader ~100-250k at
 * every start, whether it is called or not).
 *
 * A table of function pointers, each declared with the library's own
 * prototype (__typeof__ of the header's declaration), filled by dlib_load():
 *
 *   static struct { DLIB_FIELD(foo_open) DLIB_FIELD(foo_close) } foo;
 *   static void *foo_handle;
 *   const DlibSym syms[] = { DLIB_SYM(foo, foo_open), DLIB_SYM(foo, foo_close) };
 *   r = dlib_load(&foo_handle, "libfoo.so.1", syms, ELEMENTSOF(syms));
 */

#include <stddef.h>

#include "lib/util.h"

typedef struct DlibSym {
        void **fn;
        const char *name;
} DlibSym;

/* FN names a declaration: it cannot be parenthesised. */
#define DLIB_FIELD(fn) __typeof__(fn) *fn; /* NOLINT(bugprone-macro-parentheses) */
#define DLIB_SYM(table, fn) \
        { (void **) &(table).fn, #fn }

/* Loads SONAME (RTLD_NOW | RTLD_LOCAL) and resolves every symbol into its
 * slot, once: later calls with *HANDLE set return 0 at once. -ENOPKG when the
 * library or a symbol is missing (logged at debug level; the slots are then
 * cleared and *HANDLE stays NULL). */
int dlib_load(void **handle, const char *soname, const DlibSym *syms, size_t n) _wur_;
