/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/efivars.h"

#include <efivar.h>
#include <limits.h>
#include <unistd.h>

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
        if (!efi_variables_supported())
                return -EOPNOTSUPP;
        efi_guid_t g;
        if (efi_str_to_guid(guid, &g) < 0)
                return -EINVAL;
        uint8_t *data = NULL;
        size_t size = 0;
        uint32_t attrs;
        if (efi_get_variable(g, name, &data, &size, &attrs) < 0)
                return errno == ENOENT ? -ENOENT : errno == ENOSYS ? -EOPNOTSUPP : -(errno ?: EIO);
        if (size > max) {
                free(data);
                return -EFBIG;
        }
        *ret = data;
        *ret_size = size;
        return 0;
}
