/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Quarantine: see quarantine.h for the model. The code below is organised as
 *   names and encodings → "priors" (what was at a path before) → small
 *   idempotent file steps (replace a file or symlink, move a tree) →
 *   the registry → per-entry apply/release → the public functions.
 */
#include "recovery/quarantine.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/rootfs.h"

#define REGISTRY_NAME "registry"
#define REGISTRY_MAGIC "lastgood-quarantine-registry 1"
#define REGISTRY_MAX_SIZE (64u * 1024u * 1024u)
#define MODPROBE_DIR "/etc/modprobe.d"
#define MODPROBE_NAME "lastgood-quarantine.conf"
#define STATE_DIR "/var/lib/lastgood"
/* Fixed names, so that a step a power cut interrupted is recognisable and
 * its leftovers can be cleaned up: a temp is a half-written copy, a doomed
 * tree is a complete copy's source being removed. Both start with ".#" and
 * end in no unit suffix or ".conf", so neither systemd nor modprobe reads
 * them. */
#define TMP_PREFIX ".#lastgood-tmp."
#define DOOMED_PREFIX ".#lastgood-rm."
#define NAME_MAX_OURS (255 - (sizeof(TMP_PREFIX) - 1))
#define COPY_MAX_DEPTH 128
#define REGISTRY_MAX_TOKENS 10

static bool strv_isempty_(char *const *l) {
        return !l || !*l;
}

/* ---- names ---------------------------------------------------------------- */

bool quarantine_module_name_is_valid(const char *s) {
        /* Anything else could inject lines into modprobe.d (a newline, or an
         * "install" command of the attacker's choosing). */
        if (!s || !*s || strlen(s) > 55)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-')
                        return false;
        return true;
}

bool quarantine_unit_name_is_valid(const char *s) {
        static const char *const suffixes[] = { ".service", ".socket", ".device", ".mount", ".automount", ".swap",
                                                ".target",  ".path",   ".timer",  ".slice", ".scope" };
        if (!s || !*s || s[0] == '.' || strlen(s) > NAME_MAX_OURS)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr(":_.@\\-", *p))
                        return false;
        size_t n = strlen(s);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t k = strlen(suffixes[i]);
                if (n > k && streq(s + n - k, suffixes[i]))
                        return true;
        }
        return false;
}

bool quarantine_component_name_is_valid(const char *s) {
        /* It becomes a directory name beside the registry file. */
        if (!s || !*s || s[0] == '.' || strlen(s) > 63 || streq(s, REGISTRY_NAME))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("_.-", *p))
                        return false;
        return true;
}

/* A is B or an ancestor of B (both absolute, normalised). */
static bool path_is_prefix(const char *a, const char *b) {
        size_t n = strlen(a);
        if (strncmp(a, b, n) != 0)
                return false;
        return b[n] == '\0' || b[n] == '/';
}

static bool content_path_is_valid(const char *path) {
        static const char *const ours[] = { STATE_DIR, MODPROBE_DIR, QUARANTINE_UNIT_DIR };
        if (!path || path[0] != '/' || !path_is_safe_relative(path + 1) || path[strlen(path) - 1] == '/')
                return false;
        /* Moving lastgood's own state, or a directory we write into, would
         * make the quarantine undo itself. */
        for (size_t i = 0; i < ELEMENTSOF(ours); i++)
                if (path_is_prefix(path, ours[i]) || path_is_prefix(STATE_DIR, path))
                        return false;
        for (const char *p = path + 1; *p;) {
                size_t len = strcspn(p, "/");
                if (len > NAME_MAX_OURS)
                        return false;
                p += len;
                if (*p == '/')
                        p++;
        }
        return true;
}

/* Percent-encoding for registry fields: a field never contains a space or a
 * newline; "-" stands for the empty string. */
static bool pct_is_plain(unsigned char c) {
        return isalnum(c) || strchr("._/@:+,=-", c);
}

static void pct_put(FILE *f, const char *s) {
        fputc(' ', f);
        if (!s || !*s) {
                fputc('-', f);
                return;
        }
        if (streq(s, "-")) {
                fputs("%2D", f);
                return;
        }
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (pct_is_plain(*p))
                        fputc(*p, f);
                else
                        fprintf(f, "%%%02X", *p);
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes a field; %00 is refused (fields are C strings). */
static int pct_decode(const char *s, char **ret) {
        if (streq(s, "-")) {
                *ret = strdup("");
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_free_ char *out = malloc(strlen(s) + 1);
        if (!out)
                return -ENOMEM;
        size_t n = 0;
        for (const char *p = s; *p; p++) {
                if (*p == '%') {
                        int hi = unhex(p[1]), lo = hi >= 0 ? unhex(p[2]) : -1;
                        if (hi < 0 || lo < 0 || (hi | lo) == 0)
                                return -EBADMSG;
                        out[n++] = (char) (hi << 4 | lo);
                        p += 2;
                } else if (pct_is_plain((unsigned char) *p))
                        out[n++] = *p;
                else
                        return -EBADMSG;
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

static void hex_put(FILE *f, const char *data, size_t size) {
        fputc(' ', f);
        if (size == 0)
                fputc('-', f);
        for (size_t i = 0; i < size; i++)
                fprintf(f, "%02x", (unsigned char) data[i]);
}

static int hex_decode(const char *s, char **ret, size_t *ret_size) {
        size_t len = streq(s, "-") ? 0 : strlen(s);
        if (len % 2)
                return -EBADMSG;
        _cleanup_free_ char *out = malloc(len / 2 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len / 2; i++) {
                int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                out[i] = (char) (hi << 4 | lo);
        }
        out[len / 2] = '\0';
        *ret = TAKE_PTR(out);
        *ret_size = len / 2;
        return 0;
}

/* "/opt/v/defs" -> "opt%2Fv%2Fdefs": one file name per content path. */
static int content_encode(const char *path, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        for (const char *p = path + 1; *p; p++)
                if (*p == '/' || *p == '%')
                        fprintf(f, "%%%02X", (unsigned char) *p);
                else
                        fputc(*p, f);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (size > NAME_MAX_OURS)
                return -ENAMETOOLONG;
        *ret = TAKE_PTR(out);
        return 0;
}

static int stash_dir_path(const char *component, uint32_t incident, char **ret) {
        if (asprintf(ret, QUARANTINE_DIR "/%s/%" PRIu32 "/content", component, incident) < 0)
                return -ENOMEM;
        return 0;
}

static int fixed_name(char buf[static 256], const char *prefix, const char *name) {
        return xsnprintf(buf, 256, "%s%s", prefix, name);
}

/* ---- small file steps --------------------------------------------------------- */

static bool test_force_exdev(void) {
#ifdef LASTGOOD_FAULT_INJECTION
        /* Test builds: exercise the copy fallback without a second filesystem. */
        const char *e = getenv("LASTGOOD_TEST_FORCE_EXDEV");
        return e && streq(e, "1");
#else
        return false;
#endif
}

static int exists_at(int dir_fd, const char *name, struct stat *ret_st) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (ret_st)
                *ret_st = st;
        return 1;
}

static int readlink_at(int dir_fd, const char *name, char **ret) {
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

static bool is_mask_at(int dir_fd, const char *name) {
        _cleanup_free_ char *t = NULL;
        return readlink_at(dir_fd, name, &t) >= 0 && streq(t, "/dev/null");
}

static int write_loop(int fd, const char *p, size_t len) {
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

/* Atomically replaces NAME with a regular file: a fixed temp name (a leftover
 * from a power cut is overwritten next time), owner, mode and mtime set on
 * the fd before the rename. uid (uid_t) -1 keeps the creator's owner; mtime
 * NULL keeps "now". */
static int replace_file_at(int dir_fd, const char *name, const char *data, size_t size, mode_t mode, uid_t uid,
                           gid_t gid, const struct timespec *mtime) {
        char tmp[256];
        int r = fixed_name(tmp, TMP_PREFIX, name);
        if (r < 0)
                return r;
        (void) unlinkat(dir_fd, tmp, 0);
        _cleanup_close_ int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = write_loop(fd, data, size);
        if (r >= 0 && uid != (uid_t) -1 && fchown(fd, uid, gid) < 0)
                r = -errno;
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && mtime && futimens(fd, (const struct timespec[2]) { *mtime, *mtime }) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0)
                r = fault_point("quarantine-replace");
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return fsync_dir(dir_fd);
}

static int replace_symlink_at(int dir_fd, const char *name, const char *target) {
        char tmp[256];
        int r = fixed_name(tmp, TMP_PREFIX, name);
        if (r < 0)
                return r;
        (void) unlinkat(dir_fd, tmp, 0);
        if (symlinkat(target, dir_fd, tmp) < 0)
                return -errno;
        r = fault_point("quarantine-symlink");
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return fsync_dir(dir_fd);
}

static int unlink_durable(int dir_fd, const char *name) {
        int r = exists_at(dir_fd, name, NULL);
        if (r <= 0)
                return r;
        r = fault_point("quarantine-unlink");
        if (r < 0)
                return r;
        if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return fsync_dir(dir_fd);
}

/* Opens PATH beneath the root, creating what is missing with MODE and making
 * each new directory entry durable (fsync of its parent). */
static int dir_ensure_durable(int root_fd, const char *path, mode_t mode, int *ret_fd) {
        int r = root_open_dir(root_fd, path, false, 0, ret_fd);
        if (r != -ENOENT)
                return r;
        const char *slash = strrchr(path, '/');
        if (!slash || slash[1] == '\0')
                return -EINVAL;
        _cleanup_free_ char *parent = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!parent)
                return -ENOMEM;
        _cleanup_close_ int pfd = -1;
        r = dir_ensure_durable(root_fd, parent, 0755, &pfd);
        if (r < 0)
                return r;
        r = fault_point("quarantine-mkdir");
        if (r < 0)
                return r;
        if (mkdirat(pfd, slash + 1, mode) < 0 && errno != EEXIST)
                return -errno;
        r = fsync_dir(pfd);
        if (r < 0)
                return r;
        return root_open_dir(root_fd, path, false, 0, ret_fd);
}

/* The parent of an absolute PATH beneath the root; *ret_name points into PATH. */
static int open_parent(int root_fd, const char *path, bool create, int *ret_fd, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *parent = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!parent)
                return -ENOMEM;
        int r = create ? dir_ensure_durable(root_fd, parent, 0755, ret_fd)
                       : root_open_dir(root_fd, parent, false, 0, ret_fd);
        if (r < 0)
                return r;
        *ret_name = slash + 1;
        return 0;
}

static int copy_tree_at(int sdir, const char *sname, int ddir, const char *dname, unsigned depth);

static int copy_dir_contents(int sfd, int dfd, unsigned depth) {
        int fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (errno = 0, de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        r = copy_tree_at(sfd, de->d_name, dfd, de->d_name, depth + 1);
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r;
}

/* Copies one tree (regular files, directories, symlinks) keeping mode, owner
 * and times, fsyncing every file and directory. Other file types are refused:
 * a content directory has no business holding device nodes. */
static int copy_tree_at(int sdir, const char *sname, int ddir, const char *dname, unsigned depth) {
        if (depth > COPY_MAX_DEPTH)
                return -ELOOP;
        struct stat st;
        if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        const struct timespec ts[2] = { st.st_atim, st.st_mtim };

        if (S_ISLNK(st.st_mode)) {
                _cleanup_free_ char *target = NULL;
                int r = readlink_at(sdir, sname, &target);
                if (r < 0)
                        return r;
                if (symlinkat(target, ddir, dname) < 0)
                        return -errno;
                if (fchownat(ddir, dname, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    utimensat(ddir, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }

        if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int sfd = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0)
                        return -errno;
                _cleanup_close_ int dfd = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                                 0600);
                if (dfd < 0)
                        return -errno;
                char buf[64 * 1024];
                for (;;) {
                        ssize_t n = read(sfd, buf, sizeof buf);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                        if (n == 0)
                                break;
                        int r = write_loop(dfd, buf, (size_t) n);
                        if (r < 0)
                                return r;
                }
                /* chown before chmod: chown clears setuid/setgid bits. */
                if (fchown(dfd, st.st_uid, st.st_gid) < 0 || fchmod(dfd, st.st_mode & 07777) < 0 ||
                    futimens(dfd, ts) < 0 || fsync(dfd) < 0)
                        return -errno;
                return 0;
        }

        if (S_ISDIR(st.st_mode)) {
                if (mkdirat(ddir, dname, 0700) < 0)
                        return -errno;
                _cleanup_close_ int sfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int dfd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0 || dfd < 0)
                        return -errno;
                int r = copy_dir_contents(sfd, dfd, depth);
                if (r < 0)
                        return r;
                /* Times last: adding entries changed the mtime. */
                if (fchown(dfd, st.st_uid, st.st_gid) < 0 || fchmod(dfd, st.st_mode & 07777) < 0 ||
                    futimens(dfd, ts) < 0 || fsync(dfd) < 0)
                        return -errno;
                return 0;
        }

        return -EOPNOTSUPP;
}

/* Renames NAME to the doomed name, durably, then removes it: a tree that is
 * only half removed never carries its real name. */
static int doom_and_remove(int dir_fd, const char *name) {
        char doomed[256];
        int r = fixed_name(doomed, DOOMED_PREFIX, name);
        if (r < 0)
                return r;
        r = rename_durable(dir_fd, name, dir_fd, doomed);
        if (r < 0)
                return r;
        r = fault_point("quarantine-remove");
        if (r < 0)
                return r;
        r = rm_rf_at(dir_fd, doomed);
        if (r < 0)
                return r;
        return fsync_dir(dir_fd);
}

/*
 * Moves FROM to TO, idempotently and in either direction, so that the same
 * call finishes an interrupted move and also, with the arguments swapped,
 * undoes it. The states it can find:
 *   temp or doomed leftovers    a copy or a removal was cut short: remove;
 *   TO and FROM both exist      the copy into TO completed (a copy is renamed
 *                               to its real name only when complete): remove FROM;
 *   only TO                     done;
 *   only FROM                   rename, or on EXDEV copy to a temp, rename it
 *                               into place, then remove FROM;
 *   neither                     nothing to move.
 * Callers make sure TO does not exist before they record their intent.
 */
static int move_tree(int from_dir, const char *from, int to_dir, const char *to, bool *copied) {
        char tmp_to[256], tmp_from[256], doomed_to[256], doomed_from[256];
        int r;
        if ((r = fixed_name(tmp_to, TMP_PREFIX, to)) < 0 || (r = fixed_name(tmp_from, TMP_PREFIX, from)) < 0 ||
            (r = fixed_name(doomed_to, DOOMED_PREFIX, to)) < 0 ||
            (r = fixed_name(doomed_from, DOOMED_PREFIX, from)) < 0)
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
                return from_exists ? doom_and_remove(from_dir, from) : 0;
        if (!from_exists)
                return 0;

        r = test_force_exdev() ? -EXDEV : rename_durable(from_dir, from, to_dir, to);
        if (r != -EXDEV)
                return r;

        r = fault_point("quarantine-copy");
        if (r < 0)
                return r;
        r = copy_tree_at(from_dir, from, to_dir, tmp_to, 0);
        if (r < 0) {
                (void) !rm_rf_at(to_dir, tmp_to);
                return r;
        }
        r = rename_durable(to_dir, tmp_to, to_dir, to);
        if (r < 0)
                return r;
        if (copied)
                *copied = true;
        return doom_and_remove(from_dir, from);
}

/* ---- priors: what was at a path before we changed it ----------------------------- */

typedef enum PriorKind {
        PRIOR_NONE,
        PRIOR_FILE,
        PRIOR_SYMLINK,
} PriorKind;

typedef struct Prior {
        PriorKind kind;
        mode_t mode;
        uid_t uid;
        gid_t gid;
        struct timespec mtime;
        char *data; /* file bytes, or the link target (NUL-terminated either way) */
        size_t size;
} Prior;

static void prior_done(Prior *p) {
        free(p->data);
        *p = (Prior) {};
}

static int prior_capture(int dir_fd, const char *name, Prior *ret) {
        struct stat st;
        int r = exists_at(dir_fd, name, &st);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret = (Prior) { .kind = PRIOR_NONE };
                return 0;
        }
        Prior p = { .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid, .mtime = st.st_mtim };
        if (S_ISLNK(st.st_mode)) {
                p.kind = PRIOR_SYMLINK;
                r = readlink_at(dir_fd, name, &p.data);
                if (r < 0)
                        return r;
                p.size = strlen(p.data);
        } else if (S_ISREG(st.st_mode)) {
                p.kind = PRIOR_FILE;
                if ((uint64_t) st.st_size > QUARANTINE_MAX_PRIOR_SIZE)
                        return -EFBIG;
                r = read_full_at(dir_fd, name, QUARANTINE_MAX_PRIOR_SIZE, &p.data, &p.size);
                if (r < 0)
                        return r;
        } else
                return S_ISDIR(st.st_mode) ? -EISDIR : -EOPNOTSUPP;
        *ret = p;
        return 0;
}

static int prior_restore(int dir_fd, const char *name, const Prior *p) {
        switch (p->kind) {
        case PRIOR_NONE:
                return unlink_durable(dir_fd, name);
        case PRIOR_FILE:
                return replace_file_at(dir_fd, name, p->data, p->size, p->mode, p->uid, p->gid, &p->mtime);
        case PRIOR_SYMLINK: {
                int r = replace_symlink_at(dir_fd, name, p->data);
                if (r < 0)
                        return r;
                /* A symlink's own owner is cosmetic; restore it anyway. */
                if (fchownat(dir_fd, name, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }
        }
        return -EINVAL;
}

/* ---- the registry ------------------------------------------------------------------ */

typedef struct UnitChange {
        char *name;
        Prior prior;
} UnitChange;

typedef struct Entry {
        char *component;
        uint32_t incident;
        uint64_t since_usec;
        QuarantineState state;
        char *reason;
        char **modules;
        UnitChange *units;
        size_t n_units;
        char **content;
} Entry;

typedef struct Registry {
        bool modprobe_owned; /* the modprobe.d file is ours; its prior is below */
        Prior modprobe_prior;
        Entry *entries;
        size_t n_entries;
} Registry;

static void entry_done(Entry *e) {
        free(e->component);
        free(e->reason);
        strv_free(e->modules);
        for (size_t i = 0; i < e->n_units; i++) {
                free(e->units[i].name);
                prior_done(&e->units[i].prior);
        }
        free(e->units);
        strv_free(e->content);
        *e = (Entry) {};
}

static void registry_done(Registry *r) {
        prior_done(&r->modprobe_prior);
        for (size_t i = 0; i < r->n_entries; i++)
                entry_done(&r->entries[i]);
        free(r->entries);
        *r = (Registry) {};
}

static void registry_remove(Registry *r, size_t idx) {
        entry_done(&r->entries[idx]);
        memmove(&r->entries[idx], &r->entries[idx + 1], (r->n_entries - idx - 1) * sizeof(Entry));
        r->n_entries--;
}

static ssize_t registry_find(const Registry *r, const char *component) {
        for (size_t i = 0; i < r->n_entries; i++)
                if (streq(r->entries[i].component, component))
                        return (ssize_t) i;
        return -1;
}

static const char *const state_table[_QUARANTINE_STATE_MAX] = {
        [QUARANTINE_STATE_APPLYING] = "applying",
        [QUARANTINE_STATE_ACTIVE] = "active",
        [QUARANTINE_STATE_RELEASING] = "releasing",
};

const char *quarantine_state_to_string(QuarantineState s) {
        return s < _QUARANTINE_STATE_MAX ? state_table[s] : "?";
}

static void prior_put(FILE *f, const Prior *p) {
        switch (p->kind) {
        case PRIOR_NONE:
                fputs(" none", f);
                break;
        case PRIOR_FILE:
                fprintf(f, " file %o %u %u %lld %ld", (unsigned) p->mode, (unsigned) p->uid, (unsigned) p->gid,
                        (long long) (p->mtime.tv_sec < 0 ? 0 : p->mtime.tv_sec), (long) p->mtime.tv_nsec);
                hex_put(f, p->data, p->size);
                break;
        case PRIOR_SYMLINK:
                fputs(" symlink", f);
                pct_put(f, p->data);
                break;
        }
}

static int registry_format(const Registry *reg, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs(REGISTRY_MAGIC "\n", f);
        if (reg->modprobe_owned) {
                fputs("modprobe", f);
                prior_put(f, &reg->modprobe_prior);
                fputc('\n', f);
        }
        for (size_t i = 0; i < reg->n_entries; i++) {
                const Entry *e = &reg->entries[i];
                fprintf(f, "entry %s %s %" PRIu32 " %" PRIu64, e->component, quarantine_state_to_string(e->state),
                        e->incident, e->since_usec);
                pct_put(f, e->reason);
                fputc('\n', f);
                for (char **m = e->modules; m && *m; m++)
                        fprintf(f, "module %s\n", *m);
                for (size_t u = 0; u < e->n_units; u++) {
                        fprintf(f, "unit %s", e->units[u].name);
                        prior_put(f, &e->units[u].prior);
                        fputc('\n', f);
                }
                for (char **c = e->content; c && *c; c++) {
                        fputs("content", f);
                        pct_put(f, *c);
                        fputc('\n', f);
                }
                fputs("end\n", f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int parse_octal_mode(const char *s, mode_t *ret) {
        if (!*s || strlen(s) > 4)
                return -EBADMSG;
        unsigned v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '7')
                        return -EBADMSG;
                v = v * 8 + (unsigned) (*p - '0');
        }
        *ret = (mode_t) v;
        return 0;
}

static int parse_u32_field(const char *s, uint32_t max, uint32_t *ret) {
        uint64_t v;
        if (parse_u64(s, &v) < 0 || v > max)
                return -EBADMSG;
        *ret = (uint32_t) v;
        return 0;
}

static int prior_parse(char **tok, size_t n, Prior *ret) {
        Prior p = {};
        int r;
        if (n == 1 && streq(tok[0], "none")) {
                *ret = p;
                return 0;
        }
        if (n == 2 && streq(tok[0], "symlink")) {
                p.kind = PRIOR_SYMLINK;
                r = pct_decode(tok[1], &p.data);
                if (r < 0)
                        return r;
                p.size = strlen(p.data);
                *ret = p;
                return 0;
        }
        if (n == 7 && streq(tok[0], "file")) {
                uint32_t uid, gid;
                uint64_t sec, nsec;
                p.kind = PRIOR_FILE;
                if (parse_octal_mode(tok[1], &p.mode) < 0 || parse_u32_field(tok[2], UINT32_MAX - 1, &uid) < 0 ||
                    parse_u32_field(tok[3], UINT32_MAX - 1, &gid) < 0 || parse_u64(tok[4], &sec) < 0 ||
                    sec > INT64_MAX || parse_u64(tok[5], &nsec) < 0 || nsec >= 1000000000)
                        return -EBADMSG;
                p.uid = uid;
                p.gid = gid;
                p.mtime = (struct timespec) { .tv_sec = (time_t) sec, .tv_nsec = (long) nsec };
                r = hex_decode(tok[6], &p.data, &p.size);
                if (r < 0)
                        return r;
                if (p.size > QUARANTINE_MAX_PRIOR_SIZE) {
                        prior_done(&p);
                        return -EBADMSG;
                }
                *ret = p;
                return 0;
        }
        return -EBADMSG;
}

static int registry_parse_line(Registry *reg, Entry **cur, char **tok, size_t n) {
        Entry *e = *cur;
        int r;
        if (streq(tok[0], "modprobe") && !e && !reg->modprobe_owned) {
                r = prior_parse(tok + 1, n - 1, &reg->modprobe_prior);
                if (r < 0)
                        return r;
                reg->modprobe_owned = true;
                return 0;
        }
        if (streq(tok[0], "entry") && !e && n == 6) {
                if (!quarantine_component_name_is_valid(tok[1]) || registry_find(reg, tok[1]) >= 0)
                        return -EBADMSG;
                Entry ne = {};
                int state = -1;
                for (int s = 0; s < _QUARANTINE_STATE_MAX; s++)
                        if (streq(tok[2], state_table[s]))
                                state = s;
                if (state < 0 || parse_u32_field(tok[3], UINT32_MAX, &ne.incident) < 0 ||
                    parse_u64(tok[4], &ne.since_usec) < 0)
                        return -EBADMSG;
                ne.state = (QuarantineState) state;
                Entry *nl = realloc(reg->entries, (reg->n_entries + 1) * sizeof(Entry));
                if (!nl)
                        return -ENOMEM;
                reg->entries = nl;
                ne.component = strdup(tok[1]);
                if (!ne.component)
                        return -ENOMEM;
                r = pct_decode(tok[5], &ne.reason);
                if (r < 0) {
                        entry_done(&ne);
                        return r;
                }
                reg->entries[reg->n_entries] = ne;
                *cur = &reg->entries[reg->n_entries++];
                return 0;
        }
        if (!e)
                return -EBADMSG;
        if (streq(tok[0], "module") && n == 2) {
                if (!quarantine_module_name_is_valid(tok[1]))
                        return -EBADMSG;
                return strv_push(&e->modules, tok[1]);
        }
        if (streq(tok[0], "unit") && n >= 3) {
                if (!quarantine_unit_name_is_valid(tok[1]))
                        return -EBADMSG;
                UnitChange u = {};
                r = prior_parse(tok + 2, n - 2, &u.prior);
                if (r < 0)
                        return r;
                UnitChange *nl = realloc(e->units, (e->n_units + 1) * sizeof(UnitChange));
                u.name = strdup(tok[1]);
                if (!nl || !u.name) {
                        if (nl)
                                e->units = nl;
                        free(u.name);
                        prior_done(&u.prior);
                        return -ENOMEM;
                }
                e->units = nl;
                e->units[e->n_units++] = u;
                return 0;
        }
        if (streq(tok[0], "content") && n == 2) {
                _cleanup_free_ char *path = NULL;
                r = pct_decode(tok[1], &path);
                if (r < 0)
                        return r;
                if (!content_path_is_valid(path))
                        return -EBADMSG;
                return strv_push(&e->content, path);
        }
        if (streq(tok[0], "end") && n == 1) {
                *cur = NULL;
                return 0;
        }
        return -EBADMSG;
}

static int registry_parse(char *buf, Registry *ret) {
        _cleanup_(registry_done) Registry reg = {};
        Entry *cur = NULL;
        char *save = NULL;
        bool first = true;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (first) {
                        if (!streq(line, REGISTRY_MAGIC))
                                return -EBADMSG;
                        first = false;
                        continue;
                }
                char *tok[REGISTRY_MAX_TOKENS];
                size_t n = 0;
                char *tsave = NULL;
                for (char *t = strtok_r(line, " ", &tsave); t; t = strtok_r(NULL, " ", &tsave)) {
                        if (n == ELEMENTSOF(tok))
                                return -EBADMSG;
                        tok[n++] = t;
                }
                if (n == 0)
                        return -EBADMSG;
                int r = registry_parse_line(&reg, &cur, tok, n);
                if (r < 0)
                        return r;
        }
        if (first || cur)
                return -EBADMSG;
        *ret = reg;
        reg = (Registry) {};
        return 0;
}

static int registry_read(int qdir_fd, Registry *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_full_at(qdir_fd, REGISTRY_NAME, REGISTRY_MAX_SIZE, &buf, &len);
        if (r == -ENOENT) {
                *ret = (Registry) {};
                return 0;
        }
        if (r < 0)
                return r;
        if (strlen(buf) != len)
                return -EBADMSG;
        return registry_parse(buf, ret);
}

/* ---- one open, locked quarantine directory ---------------------------------------- */

typedef struct Q {
        int root_fd;
        int qdir_fd;
        Registry reg;
} Q;

static void q_done(Q *q) {
        registry_done(&q->reg);
        closep(&q->qdir_fd);
}

static int registry_write(Q *q) {
        if (q->reg.n_entries == 0 && !q->reg.modprobe_owned) {
                /* Nothing quarantined: no registry at all, so the boot-time
                 * check is a single failed open. */
                int r = exists_at(q->qdir_fd, REGISTRY_NAME, NULL);
                if (r <= 0)
                        return r;
                r = fault_point("quarantine-registry");
                if (r < 0)
                        return r;
                if (unlinkat(q->qdir_fd, REGISTRY_NAME, 0) < 0 && errno != ENOENT)
                        return -errno;
                return fsync_dir(q->qdir_fd);
        }
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = registry_format(&q->reg, &text, &size);
        if (r < 0)
                return r;
        return replace_file_at(q->qdir_fd, REGISTRY_NAME, text, size, 0600, (uid_t) -1, (gid_t) -1, NULL);
}

static int q_open(int root_fd, bool create, Q *q) {
        *q = (Q) { .root_fd = root_fd, .qdir_fd = -1 };
        int r = create ? dir_ensure_durable(root_fd, QUARANTINE_DIR, 0700, &q->qdir_fd)
                       : root_open_dir(root_fd, QUARANTINE_DIR, false, 0, &q->qdir_fd);
        if (r < 0)
                return r;
        /* One writer at a time: `boot` and a `quarantine release` from a shell. */
        if (flock(q->qdir_fd, LOCK_EX) < 0)
                return -errno;
        (void) unlinkat(q->qdir_fd, TMP_PREFIX REGISTRY_NAME, 0);
        return registry_read(q->qdir_fd, &q->reg);
}

/* ---- modprobe.d ------------------------------------------------------------------- */

static bool entry_blocks_modules(const Entry *e) {
        return e->state != QUARANTINE_STATE_RELEASING && !strv_isempty_(e->modules);
}

static int modprobe_format(const Registry *reg, size_t exclude, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("# Generated by lastgood: kernel modules of quarantined components.\n"
              "# Do not edit. `lastgood quarantine release COMPONENT` removes a block;\n"
              "# with the last block this file goes back to what was here before.\n",
              f);
        if (reg->modprobe_prior.kind == PRIOR_FILE && reg->modprobe_prior.size > 0) {
                /* An admin's file of the same name stays in effect meanwhile. */
                fputs("\n", f);
                fwrite(reg->modprobe_prior.data, 1, reg->modprobe_prior.size, f);
                if (reg->modprobe_prior.data[reg->modprobe_prior.size - 1] != '\n')
                        fputc('\n', f);
        }
        for (size_t i = 0; i < reg->n_entries; i++) {
                const Entry *e = &reg->entries[i];
                if (i == exclude || !entry_blocks_modules(e))
                        continue;
                fprintf(f, "\n# lastgood quarantine: %s (incident %" PRIu32 ")\n", e->component, e->incident);
                for (char **m = e->modules; *m; m++)
                        fprintf(f, "blacklist %s\ninstall %s /bin/false\n", *m, *m);
                fprintf(f, "# end %s\n", e->component);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* Makes the modprobe.d file agree with the registry (entry EXCLUDE left out):
 * regenerated while any entry has modules; the prior restored otherwise. */
static int modprobe_sync(Q *q, size_t exclude) {
        bool any = false;
        for (size_t i = 0; i < q->reg.n_entries; i++)
                if (i != exclude && entry_blocks_modules(&q->reg.entries[i]))
                        any = true;
        if (!any && !q->reg.modprobe_owned)
                return 0;

        _cleanup_close_ int dir_fd = -1;
        int r = dir_ensure_durable(q->root_fd, MODPROBE_DIR, 0755, &dir_fd);
        if (r < 0)
                return r;
        if (!any) {
                r = prior_restore(dir_fd, MODPROBE_NAME, &q->reg.modprobe_prior);
                if (r < 0)
                        return r;
                /* Persisted by the caller's next registry write; until then a
                 * rerun restores the prior again, which is harmless. */
                q->reg.modprobe_owned = false;
                prior_done(&q->reg.modprobe_prior);
                return 0;
        }
        if (!q->reg.modprobe_owned) {
                r = prior_capture(dir_fd, MODPROBE_NAME, &q->reg.modprobe_prior);
                if (r < 0)
                        return r;
                q->reg.modprobe_owned = true;
                r = registry_write(q);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *text = NULL;
        size_t size;
        r = modprobe_format(&q->reg, exclude, &text, &size);
        if (r < 0)
                return r;
        return replace_file_at(dir_fd, MODPROBE_NAME, text, size, 0644, (uid_t) -1, (gid_t) -1, NULL);
}

/* ---- one entry: apply and release (both idempotent) ---------------------------------- */

static int entry_apply(Q *q, size_t idx, bool *copied) {
        int r = modprobe_sync(q, SIZE_MAX);
        if (r < 0)
                return r;
        const Entry *e = &q->reg.entries[idx];

        if (e->n_units > 0) {
                _cleanup_close_ int unit_fd = -1;
                r = dir_ensure_durable(q->root_fd, QUARANTINE_UNIT_DIR, 0755, &unit_fd);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < e->n_units; i++)
                        if (!is_mask_at(unit_fd, e->units[i].name)) {
                                r = replace_symlink_at(unit_fd, e->units[i].name, "/dev/null");
                                if (r < 0)
                                        return r;
                        }
        }

        if (strv_isempty_(e->content))
                return 0;
        _cleanup_free_ char *stash_path = NULL;
        r = stash_dir_path(e->component, e->incident, &stash_path);
        if (r < 0)
                return r;
        _cleanup_close_ int stash_fd = -1;
        r = dir_ensure_durable(q->root_fd, stash_path, 0700, &stash_fd);
        if (r < 0)
                return r;
        for (char **c = e->content; *c; c++) {
                _cleanup_close_ int parent_fd = -1;
                _cleanup_free_ char *enc = NULL;
                const char *base;
                r = content_encode(*c, &enc);
                if (r < 0)
                        return r;
                r = open_parent(q->root_fd, *c, false, &parent_fd, &base);
                if (r == -ENOENT)
                        continue; /* gone since the plan: nothing to move */
                if (r < 0)
                        return r;
                r = move_tree(parent_fd, base, stash_fd, enc, copied);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int stash_dirs_remove(Q *q, const Entry *e) {
        char inc[16];
        int r = xsnprintf(inc, sizeof inc, "%" PRIu32, e->incident);
        if (r < 0)
                return r;
        _cleanup_close_ int comp_fd = openat(q->qdir_fd, e->component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (comp_fd < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_close_ int inc_fd = openat(comp_fd, inc, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (inc_fd < 0 && errno != ENOENT)
                return -errno;
        r = fault_point("quarantine-rmdir");
        if (r < 0)
                return r;
        /* Only empty directories go: whatever a conflict left behind stays. */
        if (inc_fd >= 0 && unlinkat(inc_fd, "content", AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENOTEMPTY)
                return -errno;
        if (unlinkat(comp_fd, inc, AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENOTEMPTY)
                return -errno;
        if (unlinkat(q->qdir_fd, e->component, AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENOTEMPTY)
                return -errno;
        return fsync_dir(q->qdir_fd);
}

static int entry_release(Q *q, size_t idx) {
        const Entry *e = &q->reg.entries[idx];
        int r;

        if (!strv_isempty_(e->content)) {
                _cleanup_free_ char *stash_path = NULL;
                r = stash_dir_path(e->component, e->incident, &stash_path);
                if (r < 0)
                        return r;
                _cleanup_close_ int stash_fd = -1;
                r = root_open_dir(q->root_fd, stash_path, false, 0, &stash_fd);
                if (r < 0 && r != -ENOENT)
                        return r;
                size_t n = strv_length(e->content);
                for (size_t i = n; stash_fd >= 0 && i > 0; i--) {
                        const char *path = e->content[i - 1];
                        _cleanup_close_ int parent_fd = -1;
                        _cleanup_free_ char *enc = NULL;
                        const char *base;
                        r = content_encode(path, &enc);
                        if (r < 0)
                                return r;
                        r = exists_at(stash_fd, enc, NULL);
                        if (r < 0)
                                return r;
                        r = open_parent(q->root_fd, path, r > 0, &parent_fd, &base);
                        if (r == -ENOENT)
                                continue; /* neither stash nor parent: nothing to bring back */
                        if (r < 0)
                                return r;
                        r = move_tree(stash_fd, enc, parent_fd, base, NULL);
                        if (r < 0)
                                return r;
                }
                r = stash_dirs_remove(q, e);
                if (r < 0)
                        return r;
        }

        if (e->n_units > 0) {
                _cleanup_close_ int unit_fd = -1;
                r = dir_ensure_durable(q->root_fd, QUARANTINE_UNIT_DIR, 0755, &unit_fd);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < e->n_units; i++) {
                        r = prior_restore(unit_fd, e->units[i].name, &e->units[i].prior);
                        if (r < 0)
                                return r;
                }
        }

        return modprobe_sync(q, idx);
}

/* Finishes whatever a power cut (or an error) left half done. */
static int q_recover(Q *q) {
        int n = 0, first_err = 0;
        for (size_t i = 0; i < q->reg.n_entries;) {
                Entry *e = &q->reg.entries[i];
                int r = 0;
                if (e->state == QUARANTINE_STATE_APPLYING) {
                        /* Forward: the ladder decided this; undo only what cannot be done. */
                        r = entry_apply(q, i, NULL);
                        if (r >= 0) {
                                q->reg.entries[i].state = QUARANTINE_STATE_ACTIVE;
                                r = registry_write(q);
                                if (r >= 0) {
                                        n++;
                                        i++;
                                        continue;
                                }
                        }
                        if (entry_release(q, i) >= 0) {
                                registry_remove(&q->reg, i);
                                if (registry_write(q) >= 0) {
                                        n++;
                                        continue;
                                }
                        }
                } else if (e->state == QUARANTINE_STATE_RELEASING) {
                        r = entry_release(q, i);
                        if (r >= 0) {
                                registry_remove(&q->reg, i);
                                r = registry_write(q);
                                if (r >= 0) {
                                        n++;
                                        continue;
                                }
                        }
                }
                if (r < 0 && first_err == 0)
                        first_err = r;
                i++;
        }

        /* The modprobe.d file owned with no entry needing it: restore it. */
        bool any = false;
        for (size_t i = 0; i < q->reg.n_entries; i++)
                if (entry_blocks_modules(&q->reg.entries[i]))
                        any = true;
        if (!any && q->reg.modprobe_owned && first_err == 0) {
                int r = modprobe_sync(q, SIZE_MAX);
                if (r >= 0)
                        r = registry_write(q);
                if (r < 0)
                        first_err = r;
        }
        return first_err < 0 ? first_err : n;
}

/* ---- public ------------------------------------------------------------------------- */

static bool entries_overlap(const Entry *a, const Entry *b) {
        for (size_t i = 0; i < a->n_units; i++)
                for (size_t j = 0; j < b->n_units; j++)
                        if (streq(a->units[i].name, b->units[j].name))
                                return true;
        for (char **x = a->content; x && *x; x++)
                for (char **y = b->content; y && *y; y++)
                        if (path_is_prefix(*x, *y) || path_is_prefix(*y, *x))
                                return true;
        return false;
}

static int component_validate(const Component *c) {
        if (!quarantine_component_name_is_valid(c->name))
                return -EINVAL;
        for (char **m = c->kernel_modules; m && *m; m++)
                if (!quarantine_module_name_is_valid(*m))
                        return -EINVAL;
        for (char **u = c->units; u && *u; u++)
                if (!quarantine_unit_name_is_valid(*u))
                        return -EINVAL;
        for (char **p = c->content; p && *p; p++) {
                _cleanup_free_ char *enc = NULL;
                if (!content_path_is_valid(*p) || content_encode(*p, &enc) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* Builds the plan: what exists now, and what was at each path we will change. */
static int entry_plan(Q *q, const Component *c, uint32_t incident, const char *reason, Entry *e,
                      QuarantineResult *res) {
        int r;
        *e = (Entry) { .incident = incident, .since_usec = now_realtime_usec(), .state = QUARANTINE_STATE_APPLYING };
        e->component = strdup(c->name);
        e->reason = strdup(reason ?: "");
        if (!e->component || !e->reason)
                return -ENOMEM;
        for (char **m = c->kernel_modules; m && *m; m++)
                if (!strv_contains(e->modules, *m) && (r = strv_push(&e->modules, *m)) < 0)
                        return r;
        res->n_modules = (unsigned) strv_length(e->modules);

        if (c->units && *c->units) {
                _cleanup_close_ int unit_fd = -1;
                r = root_open_dir(q->root_fd, QUARANTINE_UNIT_DIR, false, 0, &unit_fd);
                if (r < 0 && r != -ENOENT)
                        return r;
                size_t n = strv_length(c->units);
                e->units = calloc(n, sizeof(UnitChange));
                if (!e->units)
                        return -ENOMEM;
                for (char **u = c->units; *u; u++) {
                        bool dup = false;
                        for (size_t i = 0; i < e->n_units; i++)
                                dup = dup || streq(e->units[i].name, *u);
                        if (dup)
                                continue;
                        UnitChange *uc = &e->units[e->n_units];
                        if (unit_fd >= 0 && (r = prior_capture(unit_fd, *u, &uc->prior)) < 0)
                                return r;
                        uc->name = strdup(*u);
                        e->n_units++;
                        if (!uc->name)
                                return -ENOMEM;
                }
                res->n_units = (unsigned) e->n_units;
        }

        _cleanup_free_ char *stash_path = NULL;
        r = stash_dir_path(c->name, incident, &stash_path);
        if (r < 0)
                return r;
        _cleanup_close_ int stash_fd = -1;
        r = root_open_dir(q->root_fd, stash_path, false, 0, &stash_fd);
        if (r < 0 && r != -ENOENT)
                return r;
        for (char **p = c->content; p && *p; p++) {
                /* A path inside another of this component's paths moves with it. */
                bool nested = false;
                for (char **o = c->content; *o; o++)
                        nested = nested || (o != p && path_is_prefix(*o, *p) && !streq(*o, *p)) ||
                                 (o < p && streq(*o, *p));
                if (nested)
                        continue;
                _cleanup_close_ int parent_fd = -1;
                const char *base;
                r = open_parent(q->root_fd, *p, false, &parent_fd, &base);
                if (r >= 0)
                        r = exists_at(parent_fd, base, NULL);
                if (r == -ENOENT || r == -ENOTDIR || r == 0) {
                        res->n_content_absent++;
                        continue;
                }
                if (r < 0)
                        return r;
                if (stash_fd >= 0) {
                        _cleanup_free_ char *enc = NULL;
                        r = content_encode(*p, &enc);
                        if (r < 0)
                                return r;
                        r = exists_at(stash_fd, enc, NULL);
                        if (r != 0)
                                return r < 0 ? r : -EEXIST;
                }
                r = strv_push(&e->content, *p);
                if (r < 0)
                        return r;
                res->n_content++;
        }
        return 0;
}

int quarantine_apply(int root_fd, const Component *c, uint32_t incident, const char *reason,
                     QuarantineResult *ret) {
        if (!c)
                return -EINVAL;
        /* Anti-tamper: whoever can crash the machine must not be able to switch
         * off a component the admin marked `quarantine: never`. */
        if (c->quarantine == QUARANTINE_NEVER)
                return -EPERM;
        int r = component_validate(c);
        if (r < 0)
                return r;
        if (reason && strlen(reason) > QUARANTINE_MAX_REASON)
                return -EINVAL;

        _cleanup_(q_done) Q q = { .qdir_fd = -1 };
        r = q_open(root_fd, true, &q);
        if (r < 0)
                return r;
        r = q_recover(&q);
        if (r < 0)
                return r;
        if (registry_find(&q.reg, c->name) >= 0)
                return -EEXIST;

        QuarantineResult res = {};
        _cleanup_(entry_done) Entry e = {};
        r = entry_plan(&q, c, incident, reason, &e, &res);
        if (r < 0)
                return r;
        for (size_t i = 0; i < q.reg.n_entries; i++)
                if (entries_overlap(&e, &q.reg.entries[i]))
                        return -EBUSY;

        if (!strv_isempty_(e.modules) && !q.reg.modprobe_owned) {
                _cleanup_close_ int dir_fd = -1;
                r = root_open_dir(root_fd, MODPROBE_DIR, false, 0, &dir_fd);
                if (r >= 0)
                        r = prior_capture(dir_fd, MODPROBE_NAME, &q.reg.modprobe_prior);
                else if (r == -ENOENT)
                        r = 0;
                if (r < 0)
                        return r;
                q.reg.modprobe_owned = true;
        }

        Entry *nl = realloc(q.reg.entries, (q.reg.n_entries + 1) * sizeof(Entry));
        if (!nl)
                return -ENOMEM;
        q.reg.entries = nl;
        size_t idx = q.reg.n_entries++;
        q.reg.entries[idx] = e;
        e = (Entry) {};

        /* The intent, with everything needed to undo it, is durable first. */
        r = registry_write(&q);
        if (r < 0)
                return r;

        r = entry_apply(&q, idx, &res.copied);
        if (r < 0) {
                /* Roll back now; if even that fails, the entry stays
                 * "applying" and the next recovery finishes it. */
                if (entry_release(&q, idx) >= 0) {
                        registry_remove(&q.reg, idx);
                        (void) registry_write(&q);
                }
                return r;
        }
        q.reg.entries[idx].state = QUARANTINE_STATE_ACTIVE;
        r = registry_write(&q);
        if (r < 0)
                return r;
        if (ret)
                *ret = res;
        return 0;
}

static int release_check_conflicts(Q *q, const Entry *e) {
        int r;
        if (!strv_isempty_(e->content)) {
                _cleanup_free_ char *stash_path = NULL;
                r = stash_dir_path(e->component, e->incident, &stash_path);
                if (r < 0)
                        return r;
                _cleanup_close_ int stash_fd = -1;
                r = root_open_dir(q->root_fd, stash_path, false, 0, &stash_fd);
                if (r < 0 && r != -ENOENT)
                        return r;
                for (char **p = e->content; stash_fd >= 0 && *p; p++) {
                        _cleanup_free_ char *enc = NULL;
                        _cleanup_close_ int parent_fd = -1;
                        const char *base;
                        r = content_encode(*p, &enc);
                        if (r < 0)
                                return r;
                        if (exists_at(stash_fd, enc, NULL) <= 0)
                                continue;
                        r = open_parent(q->root_fd, *p, false, &parent_fd, &base);
                        if (r == -ENOENT)
                                continue;
                        if (r < 0)
                                return r;
                        r = exists_at(parent_fd, base, NULL);
                        if (r != 0)
                                return r < 0 ? r : -EEXIST;
                }
        }
        if (e->n_units > 0) {
                _cleanup_close_ int unit_fd = -1;
                r = root_open_dir(q->root_fd, QUARANTINE_UNIT_DIR, false, 0, &unit_fd);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                for (size_t i = 0; i < e->n_units; i++) {
                        /* Absent (the admin unmasked it) is fine; anything but
                         * our mask is someone's newer file: do not clobber it. */
                        r = exists_at(unit_fd, e->units[i].name, NULL);
                        if (r < 0)
                                return r;
                        if (r > 0 && !is_mask_at(unit_fd, e->units[i].name))
                                return -EEXIST;
                }
        }
        return 0;
}

int quarantine_release(int root_fd, const char *component) {
        if (!quarantine_component_name_is_valid(component))
                return -EINVAL;
        _cleanup_(q_done) Q q = { .qdir_fd = -1 };
        int r = q_open(root_fd, false, &q);
        if (r < 0)
                return r;
        r = q_recover(&q);
        if (r < 0)
                return r;
        ssize_t idx = registry_find(&q.reg, component);
        if (idx < 0)
                return -ENOENT;
        r = release_check_conflicts(&q, &q.reg.entries[idx]);
        if (r < 0)
                return r;

        q.reg.entries[idx].state = QUARANTINE_STATE_RELEASING;
        r = registry_write(&q);
        if (r < 0)
                return r;
        r = entry_release(&q, (size_t) idx);
        if (r < 0)
                return r; /* stays "releasing": the next recovery finishes it */
        registry_remove(&q.reg, (size_t) idx);
        return registry_write(&q);
}

int quarantine_recover_interrupted(int root_fd) {
        _cleanup_(q_done) Q q = { .qdir_fd = -1 };
        int r = q_open(root_fd, false, &q);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return q_recover(&q);
}

void quarantine_list_free(QuarantineEntry *l, size_t n) {
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].component);
                free(l[i].reason);
                strv_free(l[i].kernel_modules);
                strv_free(l[i].units);
                strv_free(l[i].content);
                strv_free(l[i].content_stash);
        }
        free(l);
}

static int entry_to_public(const Entry *e, QuarantineEntry *q) {
        *q = (QuarantineEntry) { .incident = e->incident, .since_usec = e->since_usec, .state = e->state };
        q->component = strdup(e->component);
        q->reason = strdup(e->reason);
        if (!q->component || !q->reason)
                return -ENOMEM;
        int r;
        for (char **m = e->modules; m && *m; m++)
                if ((r = strv_push(&q->kernel_modules, *m)) < 0)
                        return r;
        for (size_t i = 0; i < e->n_units; i++)
                if ((r = strv_push(&q->units, e->units[i].name)) < 0)
                        return r;
        for (char **c = e->content; c && *c; c++) {
                _cleanup_free_ char *dir = NULL, *enc = NULL, *full = NULL;
                if ((r = stash_dir_path(e->component, e->incident, &dir)) < 0 || (r = content_encode(*c, &enc)) < 0)
                        return r;
                if (asprintf(&full, "%s/%s", dir, enc) < 0)
                        return -ENOMEM;
                if ((r = strv_push(&q->content, *c)) < 0 || (r = strv_push(&q->content_stash, full)) < 0)
                        return r;
        }
        return 0;
}

int quarantine_list(int root_fd, QuarantineEntry **ret, size_t *ret_n) {
        _cleanup_close_ int qdir_fd = -1;
        _cleanup_(registry_done) Registry reg = {};
        int r = root_open_dir(root_fd, QUARANTINE_DIR, false, 0, &qdir_fd);
        if (r >= 0)
                r = registry_read(qdir_fd, &reg);
        else if (r == -ENOENT)
                r = 0;
        if (r < 0)
                return r;
        QuarantineEntry *l = calloc(reg.n_entries + 1, sizeof(QuarantineEntry));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < reg.n_entries; i++) {
                r = entry_to_public(&reg.entries[i], &l[i]);
                if (r < 0) {
                        quarantine_list_free(l, reg.n_entries);
                        return r;
                }
        }
        *ret = l;
        *ret_n = reg.n_entries;
        return 0;
}

bool quarantine_is_active(int root_fd, const char *component) {
        QuarantineEntry *l = NULL;
        size_t n = 0;
        if (!component || quarantine_list(root_fd, &l, &n) < 0)
                return false;
        bool found = false;
        for (size_t i = 0; i < n; i++)
                found = found || streq(l[i].component, component);
        quarantine_list_free(l, n);
        return found;
}
