/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/rootfs.h"

#include <dirent.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "lib/fault.h"

int root_open(const char *dir, int *ret_fd) {
        int fd = open(dir ?: "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

#define ROOT_MAX_LINKS 40
#define ROOT_MAX_DEPTH 256

/*
 * RESOLVE_IN_ROOT in user space, for kernels before 5.6 and for valgrind,
 * which does not know openat2: walk the path one component at a time with
 * O_NOFOLLOW, resolving symlinks ourselves against the root (an absolute
 * target restarts at the root, ".." never climbs above it). A component
 * swapped for a symlink between our check and our open makes the open fail
 * (O_NOFOLLOW), never escape.
 */
int root_openat_walk(int root_fd, const char *path, int flags, mode_t mode) {
        int stack[ROOT_MAX_DEPTH];
        int depth = 0, links = 0, r;
        _cleanup_free_ char *todo = strdup(path);
        if (!todo)
                return -ENOMEM;
        stack[0] = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (stack[0] < 0)
                return -errno;

        char *p = todo;
        for (;;) {
                while (*p == '/')
                        p++;
                char *slash = strchrnul(p, '/');
                bool last = true;
                for (const char *q = slash; *q; q++)
                        if (*q != '/') {
                                last = false;
                                break;
                        }
                char comp[NAME_MAX + 1];
                size_t len = (size_t) (slash - p);
                if (len > NAME_MAX) {
                        r = -ENAMETOOLONG;
                        goto out;
                }
                memcpy(comp, p, len);
                comp[len] = '\0';
                p = slash;

                if (len == 0)
                        strcpy(comp, ".");
                if (streq(comp, "..")) {
                        if (depth > 0)
                                close(stack[depth--]);
                        strcpy(comp, ".");
                }
                int cur = stack[depth];
                struct stat st;
                bool is_link = !streq(comp, ".") && fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                               S_ISLNK(st.st_mode);
                if (is_link && (!last || !(flags & O_NOFOLLOW))) {
                        if (++links > ROOT_MAX_LINKS) {
                                r = -ELOOP;
                                goto out;
                        }
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(cur, comp, target, sizeof target - 1);
                        if (n < 0) {
                                r = -errno;
                                goto out;
                        }
                        target[n] = '\0';
                        if (target[0] == '/')
                                while (depth > 0)
                                        close(stack[depth--]);
                        char *next;
                        if (asprintf(&next, "%s/%s", target, p) < 0) {
                                r = -ENOMEM;
                                goto out;
                        }
                        free(todo);
                        todo = next;
                        p = todo;
                        continue;
                }
                if (last) {
                        r = openat(cur, comp, flags | (streq(comp, ".") ? 0 : O_NOFOLLOW), mode);
                        if (r < 0)
                                r = -errno;
                        goto out;
                }
                if (depth + 1 >= ROOT_MAX_DEPTH) {
                        r = -ELOOP;
                        goto out;
                }
                int fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        goto out;
                }
                if (streq(comp, "."))
                        close(fd);
                else
                        stack[++depth] = fd;
        }
out:
        while (depth >= 0)
                close(stack[depth--]);
        return r;
}

int root_openat(int root_fd, const char *path, int flags, mode_t mode) {
        while (*path == '/')
                path++;
        if (*path == '\0')
                path = ".";
        struct open_how how = {
                .flags = (uint64_t) flags | O_CLOEXEC,
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        if (fd < 0 && errno == ENOSYS)
                return root_openat_walk(root_fd, path, flags | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        return (int) fd;
}

bool path_is_safe_relative(const char *path) {
        if (!path || path[0] == '\0' || path[0] == '/')
                return false;
        const char *p = path;
        while (*p) {
                const char *slash = strchrnul(p, '/');
                size_t len = (size_t) (slash - p);
                if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p = *slash ? slash + 1 : slash;
        }
        return true;
}

bool path_is_normalized_absolute(const char *path) {
        if (!path || path[0] != '/')
                return false;
        size_t l = strlen(path);
        if (l >= PATH_MAX)
                return false;
        for (const char *p = path; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        if (l == 1)
                return true;
        /* path_is_safe_relative() lets a trailing "/" through. */
        return path[l - 1] != '/' && path_is_safe_relative(path + 1);
}

bool path_is_under(const char *path, const char *dir) {
        size_t l = strlen(dir);
        if (l == 1 && dir[0] == '/')
                return path[0] == '/';
        return strneq(path, dir, l) && (path[l] == '\0' || path[l] == '/');
}

int dir_for_each_at(int dir_fd, DirEntryFn fn, void *userdata) {
        /* A new open file description: its offset is our own (a dup's would
         * be shared with DIR_FD), and an O_PATH fd can be read this way. */
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        int r = 0;
        struct dirent *de;
        while (r == 0) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = fn(dir_fd, de->d_name, userdata);
        }
        closedir(d);
        return r;
}

typedef struct DirList {
        DirFilterFn filter;
        size_t max, n, cap;
        char **names;
} DirList;

static int dir_list_one(int dir_fd, const char *name, void *userdata) {
        DirList *l = userdata;
        if (l->filter && !l->filter(dir_fd, name))
                return 0;
        if (l->max > 0 && l->n >= l->max)
                return -E2BIG;
        if (l->n + 2 > l->cap) {
                size_t nc = l->cap ? l->cap * 2 : 16;
                char **nn = reallocarray(l->names, nc, sizeof(char *));
                if (!nn)
                        return -ENOMEM;
                l->names = nn;
                l->cap = nc;
        }
        l->names[l->n] = strdup(name);
        if (!l->names[l->n])
                return -ENOMEM;
        l->names[++l->n] = NULL;
        return 0;
}

int dir_list_at(int dir_fd, DirFilterFn filter, size_t max, char ***ret) {
        /* From the start, whoever read DIR_FD before: one lseek() where a
         * second open would cost an open and a close. An O_PATH fd cannot
         * be read (EBADF): a new open file description of it then. */
        if (lseek(dir_fd, 0, SEEK_SET) == 0)
                return dir_list_fd(dir_fd, filter, max, ret);
        if (errno != EBADF)
                return -errno;
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return dir_list_fd(fd, filter, max, ret);
}

int dir_list_fd(int fd, DirFilterFn filter, size_t max, char ***ret) {
        DirList l = { .filter = filter, .max = max };
        _Alignas(struct dirent64) char buf[32768];
        int r = 0;
        for (;;) {
                ssize_t n = getdents64(fd, buf, sizeof buf);
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                for (ssize_t off = 0; off < n && r == 0;) {
                        const struct dirent64 *de = (const struct dirent64 *) (buf + off);
                        off += de->d_reclen;
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        r = dir_list_one(fd, de->d_name, &l);
                }
                if (r < 0)
                        break;
        }
        if (r >= 0 && !l.names) {
                l.names = calloc(1, sizeof(char *));
                if (!l.names)
                        r = -ENOMEM;
        }
        if (r < 0) {
                strv_free(l.names);
                return r;
        }
        strv_sort(l.names);
        *ret = l.names;
        return 0;
}

int openat_regular(int dir_fd, const char *name, struct stat *ret_st) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        if (ret_st)
                *ret_st = st;
        return TAKE_FD(fd);
}

/* PATH's components, each a plain name: no "", ".", ".." or trailing '/'. */
static bool path_names_only(const char *path) {
        for (const char *p = path; *p;) {
                size_t l = strcspn(p, "/");
                if (l == 0 || l > NAME_MAX || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += l;
                if (*p == '/' && *++p == '\0')
                        return false; /* a trailing '/' */
        }
        return true;
}

int open_dir_nofollow_at(int dir_fd, const char *path, int *ret_fd) {
        if (!path_names_only(path))
                return -EINVAL;
        /* One call where the kernel has openat2 (5.6): no symlink in any
         * component, as the walk below does one open at a time. */
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
        };
        long fd = syscall(SYS_openat2, dir_fd, *path ? path : ".", &how, sizeof how);
        if (fd >= 0) {
                *ret_fd = (int) fd;
                return 0;
        }
        if (errno != ENOSYS)
                return errno == ELOOP ? -ELOOP : -errno;
        _cleanup_close_ int cur = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        for (const char *p = path; *p;) {
                size_t l = strcspn(p, "/");
                char name[NAME_MAX + 1];
                memcpy(name, p, l);
                name[l] = '\0';
                int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                close(cur);
                cur = next;
                p += l;
                if (*p == '/')
                        p++;
        }
        *ret_fd = TAKE_FD(cur);
        return 0;
}

int mkdir_p_at(int dir_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        _cleanup_close_ int cur = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, ".") || streq(c, ".."))
                        return -EINVAL;
                if (mkdirat(cur, c, mode) < 0 && errno != EEXIST)
                        return -errno;
                int next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                close(cur);
                cur = next;
        }
        return 0;
}

int root_open_dir(int root_fd, const char *path, bool create, mode_t mode, int *ret_fd) {
        int fd = root_openat(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT && create) {
                const char *rel = path;
                while (*rel == '/')
                        rel++;
                int r = mkdir_p_at(root_fd, rel, mode);
                if (r < 0)
                        return r;
                fd = root_openat(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
        }
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

int root_open_parent(int root_fd, const char *path, bool create, int *ret_dir_fd, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        if (*name == '\0' || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        _cleanup_free_ char *dir = slash ? strndup(path, (size_t) (slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        int fd;
        int r = root_open_dir(root_fd, *dir ? dir : "/", create, 0755, &fd);
        if (r < 0)
                return r;
        *ret_dir_fd = fd;
        *ret_name = name;
        return 0;
}

int root_open_parent_nofollow(int root_fd, const char *path, int *ret_dir_fd, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        if (*name == '\0' || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        const char *start = path;
        while (*start == '/')
                start++;
        /* "" is root_fd itself; open_dir_nofollow_at() refuses ".", ".." and "//". */
        _cleanup_free_ char *dir =
                slash && slash > start ? strndup(start, (size_t) (slash - start)) : strdup("");
        if (!dir)
                return -ENOMEM;
        int fd = -1;
        int r = open_dir_nofollow_at(root_fd, dir, &fd);
        if (r < 0)
                return r;
        *ret_dir_fd = fd;
        *ret_name = name;
        return 0;
}

/* Goes on past a failure (removing what it can), keeping the first. */
static int rm_rf_one(int dir_fd, const char *name, void *userdata) {
        int *first = userdata;
        int k = rm_rf_at(dir_fd, name);
        if (k < 0 && *first == 0)
                *first = k;
        return 0;
}

int rm_rf_at(int dir_fd, const char *name) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;

        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int first = 0;
        int r = dir_for_each_at(fd, rm_rf_one, &first);
        if (r >= 0)
                r = first;
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int root_ensure_writable(int root_fd) {
        struct statvfs sv;
        if (fstatvfs(root_fd, &sv) < 0)
                return -errno;
        if (!(sv.f_flag & ST_RDONLY))
                return 0;
        char path[64], target[PATH_MAX];
        if (xsnprintf(path, sizeof path, "/proc/self/fd/%d", root_fd) < 0)
                return -EINVAL;
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        if (mount(NULL, target, NULL, MS_REMOUNT, NULL) < 0)
                return -errno;
        return 0;
}
