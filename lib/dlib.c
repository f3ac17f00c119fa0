/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/dlib.h"

#include <dlfcn.h>

#include "lib/log.h"

int dlib_load(void **handle, const char *soname, const DlibSym *syms, size_t n) {
        if (*handle)
                return 0;
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                log_debug("dlopen(%s): %s", soname, dlerror());
                return -ENOPKG;
        }
        for (size_t i = 0; i < n; i++) {
                *syms[i].fn = dlsym(h, syms[i].name);
                if (!*syms[i].fn) {
                        log_debug("%s lacks %s", soname, syms[i].name);
                        for (size_t k = 0; k < n; k++)
                                *syms[k].fn = NULL;
                        dlclose(h);
                        return -ENOPKG;
                }
        }
        *handle = h;
        return 0;
}
