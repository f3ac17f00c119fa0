/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/efivars.h"

#include <efivar.h>
#include <limits.h>
#include <unistd.h>

#include "lib/dlib.h"

#define EFIVAR_LIB_SONAME "libefivar.so.1"

/* libefivar, loaded where efivarfs exists (lib/dlib.h): its constructor
 * probes the firmware directories, which a machine without UEFI (or a
 * healthy boot with the file backend) never needs. */
static struct {
        DLIB_FIELD(efi_variables_supported)
        DLIB_FIELD(efi_str_to_guid)
        DLIB_FIELD(efi_get_variable)
        DLIB_FIELD(efi_set_variable)
} efi;
static void *efi_handle;

static int efi_load(void) {
        const DlibSym syms[] = {
                DLIB_SYM(efi, efi_variables_supported),
                DLIB_SYM(efi, efi_str_to_guid),
                DLIB_SYM(efi, efi_get_variable),
                DLIB_SYM(efi, efi_set_variable),
        };
        return dlib_load(&efi_handle, EFIVAR_LIB_SONAME, syms, ELEMENTSOF(syms));
}

bool efivars_supported(void) {
        /* efi_set_variable() segfaults without efivarfs: never even load the
         * library when its directory is missing. */
        return access(efivars_dir(), F_OK) >= 0 && efi_load() >= 0 && efi.efi_variables_supported();
}

const char *efivars_dir(void) {
        const char *e = getenv("EFIVARFS_PATH");
        return e && *e ? e : "/sys/firmware/efi/efivars/";
}

bool efivars_present(const char *guid, const char *name) {
        const char *dir = efivars_dir();
        char path[PATH_MAX];
        if (xsnprintf(path, sizeof path, "%s%s%s-%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name, guid) < 0)
                return true; /* can't tell: ask the library */
        return access(path, F_OK) == 0;
}

int efivars_read(const char *guid, const char *name, size_t max, uint8_t **ret, size_t *ret_size) {
        if (access(efivars_dir(), F_OK) < 0)
                return -EOPNOTSUPP;
        if (!efivars_present(guid, name))
                return -ENOENT;
        if (!efivars_supported())
                return -EOPNOTSUPP;
        efi_guid_t g;
        if (efi.efi_str_to_guid(guid, &g) < 0)
                return -EINVAL;
        uint8_t *data = NULL;
        size_t size = 0;
        uint32_t attrs;
        if (efi.efi_get_variable(g, name, &data, &size, &attrs) < 0)
                return errno == ENOENT ? -ENOENT : errno == ENOSYS ? -EOPNOTSUPP : -(errno ?: EIO);
        if (size > max) {
                free(data);
                return -EFBIG;
        }
        *ret = data;
        *ret_size = size;
        return 0;
}

int efivars_write(const char *guid, const char *name, const void *data, size_t size) {
        if (!efivars_supported())
                return -EOPNOTSUPP;
        efi_guid_t g;
        if (efi.efi_str_to_guid(guid, &g) < 0)
                return -EINVAL;
        if (efi.efi_set_variable(g, name, (uint8_t *) data, size,
                                 EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS,
                                 0600) < 0)
                return errno > 0 ? -errno : -EIO;
        return 0;
}
