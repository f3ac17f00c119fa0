/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/blkid-lib.h"

#include "lib/log.h"

static BlkidLib lib;
static void *lib_handle;
static bool lib_failed;

const BlkidLib *blkid_lib(void) {
        if (lib_handle)
                return &lib;
        if (lib_failed)
                return NULL;
#define BLKID_LIB_SYM(fn) DLIB_SYM(lib, fn),
        const DlibSym syms[] = { BLKID_LIB_SYMBOLS(BLKID_LIB_SYM) };
#undef BLKID_LIB_SYM
        int r = dlib_load(&lib_handle, BLKID_LIB_SONAME, syms, ELEMENTSOF(syms));
        if (r < 0) {
                lib_failed = true;
                log_warning_errno(r, "Failed to load %s, block devices cannot be looked up: %m", BLKID_LIB_SONAME);
                return NULL;
        }
        return &lib;
}
