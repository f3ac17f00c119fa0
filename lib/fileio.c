/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/fileio.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "lib/fault.h"
#include "lib/rootfs.h"

static int write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int fsync_dir(int dir_fd) {
        /* An O_PATH fd cannot be fsynced: reopen it. */
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int write_atomic_at(int dir_fd, const char *name, const void *buf, size_t len, mode_t mode) {
        char tmp[300];
        uint64_t rnd = 0;
        (void) !getrandom(&rnd, sizeof rnd, GRND_NONBLOCK);
        int r = xsnprintf(tmp, sizeof tmp, ".#%s.%016llx", name, (unsigned long long) rnd);
        if (r < 0)
                return r;

        r = fault_point("write-temp");
        if (r < 0)
                return r;
        _cleanup_close_ int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, buf, len);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0)
                r = fault_point("rename");
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return fsync_dir(dir_fd);
}

int write_atomic_root(int root_fd, const char *path, const void *buf, size_t len, mode_t mode) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        int r = root_open_parent(root_fd, path, true, &dir_fd, &name);
        if (r < 0)
                return r;
        return write_atomic_at(dir_fd, name, buf, len, mode);
}

int append_durable_at(int dir_fd, const char *name, const void *buf, size_t len, mode_t mode) {
        int r = fault_point("append");
        if (r < 0)
                return r;
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, buf, len);
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return -errno;
        return fsync_dir(dir_fd);
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap > max)
                                return -EFBIG;
                        cap *= 2;
                        char *nb = realloc(buf, cap + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_full_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_len);
}

int read_full_root(int root_fd, const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = root_openat(root_fd, path, O_RDONLY, 0);
        if (fd < 0)
                return fd;
        return read_full_fd(fd, max, ret, ret_len);
}

int rename_durable(int old_dir, const char *old_name, int new_dir, const char *new_name) {
        int r = fault_point("rename");
        if (r < 0)
                return r;
        if (renameat(old_dir, old_name, new_dir, new_name) < 0)
                return -errno;
        r = fsync_dir(new_dir);
        if (r < 0)
                return r;
        return fsync_dir(old_dir);
}
