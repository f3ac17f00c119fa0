/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/fileio.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "lib/fault.h"
#include "lib/rootfs.h"

int fsync_dir(int dir_fd) {
        /* An O_PATH fd cannot be fsynced: reopen it. */
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

#define TEMP_NAME_MAX 300

static int fixed_name(char buf[static TEMP_NAME_MAX], const char *prefix, const char *name) {
        return xsnprintf(buf, TEMP_NAME_MAX, "%s%s", prefix, name);
}

/* NAME's temp: the fixed one, or ".#NAME.RANDOM". */
static int temp_name(char buf[static TEMP_NAME_MAX], const char *name, bool fixed) {
        if (fixed)
                return fixed_name(buf, FILEIO_TMP_PREFIX, name);
        uint64_t rnd = 0;
        (void) !getrandom(&rnd, sizeof rnd, GRND_NONBLOCK);
        return xsnprintf(buf, TEMP_NAME_MAX, ".#%s.%016llx", name, (unsigned long long) rnd);
}

/* Gives the finished temp its name and makes that durable; after an error
 * (R < 0, or a failed rename) the temp goes instead. */
static int temp_commit(int dir_fd, const char *tmp, const char *name, int r, bool sync) {
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return sync ? fsync_dir(dir_fd) : 0;
}

int write_atomic_at_full(int dir_fd, const char *name, const void *buf, size_t len, const WriteAtomicOptions *o) {
        bool fixed = o->flags & WRITE_ATOMIC_FIXED_TEMP;
        char tmp[TEMP_NAME_MAX];
        int r = temp_name(tmp, name, fixed);
        if (r < 0)
                return r;

        r = fault_point("write-temp");
        if (r < 0)
                return r;
        if (fixed)
                (void) unlinkat(dir_fd, tmp, 0);
        /* 0600 until the owner and mode are set: never wider than asked. */
        _cleanup_close_ int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, buf, len);
        /* chown before chmod: chown clears setuid/setgid bits. */
        if (r >= 0 && (o->flags & WRITE_ATOMIC_OWNER) && fchown(fd, o->uid, o->gid) < 0)
                r = -errno;
        if (r >= 0 && fchmod(fd, o->mode) < 0)
                r = -errno;
        if (r >= 0 && (o->flags & WRITE_ATOMIC_MTIME) &&
            futimens(fd, (const struct timespec[2]) { o->mtime, o->mtime }) < 0)
                r = -errno;
        bool sync = !(o->flags & WRITE_ATOMIC_NO_SYNC);
        if (r >= 0 && sync && fsync(fd) < 0)
                r = -errno;
        if (r >= 0)
                r = fault_point("rename");
        return temp_commit(dir_fd, tmp, name, r, sync);
}

int write_atomic_at(int dir_fd, const char *name, const void *buf, size_t len, mode_t mode) {
        return write_atomic_at_full(dir_fd, name, buf, len, &(const WriteAtomicOptions) { .mode = mode });
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
        _cleanup_close_ int fd =
                openat(dir_fd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, buf, len);
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
                ssize_t n = loop_read(fd, buf + len, cap - len);
                if (n < 0)
                        return (int) n;
                len += (size_t) n;
                if (len > max)
                        return -EFBIG;
                if (len < cap)
                        break; /* short only at the end */
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

int exists_at(int dir_fd, const char *name, struct stat *ret_st) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (ret_st)
                *ret_st = st;
        return 1;
}

int readlink_malloc_at(int dir_fd, const char *name, char **ret) {
        for (size_t size = 256;; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                ssize_t n = readlinkat(dir_fd, name, buf, size);
                if (n < 0)
                        return -errno;
                if ((size_t) n < size) {
                        buf[n] = '\0';
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
                if (size >= 65536)
                        return -ENAMETOOLONG;
        }
}

bool symlink_points_to_at(int dir_fd, const char *name, const char *target) {
        _cleanup_free_ char *t = NULL;
        return readlink_malloc_at(dir_fd, name, &t) >= 0 && streq(t, target);
}

int symlink_atomic_at(int dir_fd, const char *name, const char *target) {
        char tmp[TEMP_NAME_MAX];
        int r = temp_name(tmp, name, true);
        if (r < 0)
                return r;
        (void) unlinkat(dir_fd, tmp, 0);
        if (symlinkat(target, dir_fd, tmp) < 0)
                return -errno;
        r = fault_point("symlink");
        return temp_commit(dir_fd, tmp, name, r, true);
}

int unlink_durable_at(int dir_fd, const char *name) {
        int r = exists_at(dir_fd, name, NULL);
        if (r <= 0)
                return r;
        r = fault_point("unlink");
        if (r < 0)
                return r;
        if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return fsync_dir(dir_fd);
}

/* The parent of an absolute PATH, as a new string ("/" for "/x"). */
static int parent_path(const char *path, char **ret_parent, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        if (!slash || slash[1] == '\0')
                return -EINVAL;
        char *parent = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!parent)
                return -ENOMEM;
        *ret_parent = parent;
        *ret_name = slash + 1;
        return 0;
}

int mkdir_durable_root(int root_fd, const char *path, mode_t mode, int *ret_fd) {
        int r = root_open_dir(root_fd, path, false, 0, ret_fd);
        if (r != -ENOENT)
                return r;
        _cleanup_free_ char *parent = NULL;
        const char *name;
        r = parent_path(path, &parent, &name);
        if (r < 0)
                return r;
        _cleanup_close_ int pfd = -1, fd = -1;
        r = mkdir_durable_root(root_fd, parent, 0755, &pfd);
        if (r < 0)
                return r;
        r = mkdir_durable_at(pfd, name, mode, &fd);
        if (r < 0)
                return r;
        return root_open_dir(root_fd, path, false, 0, ret_fd);
}

int mkdir_durable_at(int dir_fd, const char *name, mode_t mode, int *ret_fd) {
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                int r = fault_point("mkdir");
                if (r < 0)
                        return r;
                if (mkdirat(dir_fd, name, mode) < 0 && errno != EEXIST)
                        return -errno;
                r = fsync_dir(dir_fd);
                if (r < 0)
                        return r;
                fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int root_open_parent_durable(int root_fd, const char *path, int *ret_dir_fd, const char **ret_name) {
        _cleanup_free_ char *parent = NULL;
        const char *name;
        int r = parent_path(path, &parent, &name);
        if (r < 0)
                return r;
        r = mkdir_durable_root(root_fd, parent, 0755, ret_dir_fd);
        if (r < 0)
                return r;
        *ret_name = name;
        return 0;
}

/* ---- trees ---- */

#define COPY_MAX_DEPTH 128

static int copy_tree_depth(int sdir, const char *sname, int ddir, const char *dname, unsigned depth);

typedef struct CopyDir {
        int dfd;
        unsigned depth;
} CopyDir;

static int copy_dir_entry(int sfd, const char *name, void *userdata) {
        const CopyDir *c = userdata;
        return copy_tree_depth(sfd, name, c->dfd, name, c->depth + 1);
}

static int copy_regular(int sdir, const char *sname, int ddir, const char *dname, const struct stat *st) {
        _cleanup_close_ int sfd = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
                return -errno;
        _cleanup_close_ int dfd = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dfd < 0)
                return -errno;
        char buf[64 * 1024];
        for (;;) {
                ssize_t n = loop_read(sfd, buf, sizeof buf);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                int r = loop_write(dfd, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        const struct timespec ts[2] = { st->st_atim, st->st_mtim };
        /* chown before chmod: chown clears setuid/setgid bits. */
        if (fchown(dfd, st->st_uid, st->st_gid) < 0 || fchmod(dfd, st->st_mode & 07777) < 0 ||
            futimens(dfd, ts) < 0 || fsync(dfd) < 0)
                return -errno;
        return 0;
}

static int copy_tree_depth(int sdir, const char *sname, int ddir, const char *dname, unsigned depth) {
        if (depth > COPY_MAX_DEPTH)
                return -ELOOP;
        struct stat st;
        if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        const struct timespec ts[2] = { st.st_atim, st.st_mtim };

        if (S_ISLNK(st.st_mode)) {
                _cleanup_free_ char *target = NULL;
                int r = readlink_malloc_at(sdir, sname, &target);
                if (r < 0)
                        return r;
                if (symlinkat(target, ddir, dname) < 0)
                        return -errno;
                if (fchownat(ddir, dname, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    utimensat(ddir, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }

        if (S_ISREG(st.st_mode))
                return copy_regular(sdir, sname, ddir, dname, &st);

        if (S_ISDIR(st.st_mode)) {
                if (mkdirat(ddir, dname, 0700) < 0)
                        return -errno;
                _cleanup_close_ int sfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int dfd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0 || dfd < 0)
                        return -errno;
                int r = dir_for_each_at(sfd, copy_dir_entry, &(CopyDir) { .dfd = dfd, .depth = depth });
                if (r < 0)
                        return r;
                /* Times last: adding entries changed the mtime. */
                if (fchown(dfd, st.st_uid, st.st_gid) < 0 || fchmod(dfd, st.st_mode & 07777) < 0 ||
                    futimens(dfd, ts) < 0 || fsync(dfd) < 0)
                        return -errno;
                return 0;
        }

        /* A content tree has no business holding device nodes. */
        return -EOPNOTSUPP;
}

int copy_tree_at(int sdir, const char *sname, int ddir, const char *dname) {
        return copy_tree_depth(sdir, sname, ddir, dname, 0);
}

int remove_tree_durable(int dir_fd, const char *name) {
        char doomed[TEMP_NAME_MAX];
        int r = fixed_name(doomed, FILEIO_DOOMED_PREFIX, name);
        if (r < 0)
                return r;
        r = rename_durable(dir_fd, name, dir_fd, doomed);
        if (r < 0)
                return r;
        r = fault_point("remove-tree");
        if (r < 0)
                return r;
        r = rm_rf_at(dir_fd, doomed);
        if (r < 0)
                return r;
        return fsync_dir(dir_fd);
}

static bool test_force_exdev(void) {
#ifdef LASTGOOD_FAULT_INJECTION
        /* Test builds: exercise the copy fallback without a second filesystem. */
        const char *e = getenv("LASTGOOD_TEST_FORCE_EXDEV");
        return e && streq(e, "1");
#else
        return false;
#endif
}

const char *fileio_leftover_of(const char *leftover) {
        static const char *const prefixes[] = { FILEIO_TMP_PREFIX, FILEIO_DOOMED_PREFIX };
        for (size_t i = 0; leftover && i < ELEMENTSOF(prefixes); i++) {
                size_t l = strlen(prefixes[i]);
                if (strneq(leftover, prefixes[i], l) && leftover[l] != '\0')
                        return leftover + l;
        }
        return NULL;
}

int move_tree_durable(int from_dir, const char *from, int to_dir, const char *to, bool *ret_copied) {
        char tmp_to[TEMP_NAME_MAX], tmp_from[TEMP_NAME_MAX];
        char doomed_to[TEMP_NAME_MAX], doomed_from[TEMP_NAME_MAX];
        int r;
        if ((r = fixed_name(tmp_to, FILEIO_TMP_PREFIX, to)) < 0 ||
            (r = fixed_name(tmp_from, FILEIO_TMP_PREFIX, from)) < 0 ||
            (r = fixed_name(doomed_to, FILEIO_DOOMED_PREFIX, to)) < 0 ||
            (r = fixed_name(doomed_from, FILEIO_DOOMED_PREFIX, from)) < 0)
                return r;
        if ((r = rm_rf_at(to_dir, tmp_to)) < 0 || (r = rm_rf_at(from_dir, tmp_from)) < 0 ||
            (r = rm_rf_at(to_dir, doomed_to)) < 0 || (r = rm_rf_at(from_dir, doomed_from)) < 0)
                return r;

        int to_exists = exists_at(to_dir, to, NULL);
        if (to_exists < 0)
                return to_exists;
        int from_exists = exists_at(from_dir, from, NULL);
        if (from_exists < 0)
                return from_exists;
        if (to_exists)
                /* A copy is renamed to its real name only when complete. */
                return from_exists ? remove_tree_durable(from_dir, from) : 0;
        if (!from_exists)
                return 0;

        r = test_force_exdev() ? -EXDEV : rename_durable(from_dir, from, to_dir, to);
        if (r != -EXDEV)
                return r;

        r = fault_point("copy-tree");
        if (r < 0)
                return r;
        r = copy_tree_at(from_dir, from, to_dir, tmp_to);
        if (r < 0) {
                (void) !rm_rf_at(to_dir, tmp_to);
                return r;
        }
        r = rename_durable(to_dir, tmp_to, to_dir, to);
        if (r < 0)
                return r;
        if (ret_copied)
                *ret_copied = true;
        return remove_tree_durable(from_dir, from);
}
