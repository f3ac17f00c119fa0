/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/state-store.h"

#include <fcntl.h>
#include <mntent.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lib/blkid-lib.h"
#include "lib/efivars.h"
#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "lib/rootfs.h"

/* Reserved for fixed-size records; anything larger is not ours. */
#define STATE_READ_MAX 4096

const char *store_kind_to_string(StoreKind k) {
        switch (k) {
        case STORE_DEVICE:
                return "file";
        case STORE_EFIVAR:
                return "efivar";
        case STORE_ROOT:
                return "file";
        }
        return "none";
}

static void problem(StateStores *s, const char *fmt, ...) _printf_(2, 3);
static void problem(StateStores *s, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        (void) !strv_push(&s->problems, buf);
}

/* Finds where DEVNAME is mounted, from /proc/self/mounts, by device number. */
static int find_mount_point(const char *devname, char **ret) {
        struct stat dst;
        if (stat(devname, &dst) < 0)
                return -errno;
        _cleanup_fclose_ FILE *f = setmntent("/proc/self/mounts", "re");
        if (!f)
                return -errno;
        struct mntent *m;
        while ((m = getmntent(f))) {
                struct stat st;
                if (m->mnt_fsname[0] != '/' || stat(m->mnt_fsname, &st) < 0)
                        continue;
                if (S_ISBLK(st.st_mode) && S_ISBLK(dst.st_mode) && st.st_rdev == dst.st_rdev) {
                        char *c = strdup(m->mnt_dir);
                        if (!c)
                                return -ENOMEM;
                        *ret = c;
                        return 0;
                }
        }
        return -ENOENT;
}

static int open_device_store(StateStores *s, const Policy *p, StateStore *st) {
        const BlkidLib *bl = blkid_lib();
        if (!bl) {
                problem(s, "State device %s cannot be looked up (%s missing)", p->boot.state_device,
                        BLKID_LIB_SONAME);
                return -ENOPKG;
        }
        blkid_cache cache = NULL;
        _cleanup_free_ char *dev = bl->blkid_evaluate_spec(p->boot.state_device, &cache);
        if (!dev) {
                bl->blkid_put_cache(cache);
                problem(s, "State device %s not found", p->boot.state_device);
                return -ENODEV;
        }
        _cleanup_free_ char *type = bl->blkid_get_tag_value(cache, "TYPE", dev);
        bl->blkid_put_cache(cache);

        _cleanup_free_ char *mnt = NULL;
        int r = find_mount_point(dev, &mnt);
        if (r == -ENOENT) {
                /* In the initramfs nothing but the root is mounted yet. /run
                 * moves to the real root, so the mount stays visible there. */
                _cleanup_close_ int host_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                r = host_root < 0 ? -errno : mkdir_p_at(host_root, &LASTGOOD_STATE_DEVICE_MOUNT[1], 0755);
                if (r >= 0 && mount(dev, LASTGOOD_STATE_DEVICE_MOUNT, type ?: "ext4",
                                    MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME, NULL) < 0)
                        r = -errno;
                if (r < 0) {
                        problem(s, "Failed to mount state device %s (%s) at %s: %s", p->boot.state_device,
                                dev, LASTGOOD_STATE_DEVICE_MOUNT, strerror(-r));
                        return r;
                }
                mnt = strdup(LASTGOOD_STATE_DEVICE_MOUNT);
                if (!mnt)
                        return -ENOMEM;
        } else if (r < 0) {
                problem(s, "Failed to find mount point of %s: %s", dev, strerror(-r));
                return r;
        }

        _cleanup_close_ int mfd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0) {
                problem(s, "Failed to open %s: %m", mnt);
                return -errno;
        }
        const char *slash = strrchr(p->boot.state_file, '/');
        _cleanup_free_ char *dir = strndup(p->boot.state_file, (size_t) (slash - p->boot.state_file));
        if (!dir)
                return -ENOMEM;
        r = root_open_dir(mfd, *dir ? dir : "/", true, 0700, &st->dir_fd);
        if (r < 0) {
                problem(s, "Failed to open %s on state device %s: %s", *dir ? dir : "/", dev, strerror(-r));
                return r;
        }
        if (asprintf(&st->location, "%s:%s", p->boot.state_device, p->boot.state_file) < 0)
                return -ENOMEM;
        st->name = strdup(slash + 1);
        st->dir_path = strdup(dir);
        return st->name && st->dir_path ? 0 : -ENOMEM;
}

static int open_root_store(StateStores *s, const Policy *p, StateStore *st) {
        const char *slash = strrchr(p->boot.state_file, '/');
        st->name = strdup(slash ? slash + 1 : p->boot.state_file);
        st->dir_path = slash ? strndup(p->boot.state_file, (size_t) (slash - p->boot.state_file)) : strdup("/");
        st->location = strdup(p->boot.state_file);
        if (!st->name || !st->dir_path || !st->location)
                return -ENOMEM;
        /* Opened lazily: a missing directory is created only when writing. */
        int r = root_open_dir(s->root_fd, *st->dir_path ? st->dir_path : "/", false, 0, &st->dir_fd);
        if (r < 0 && r != -ENOENT)
                problem(s, "Failed to open state directory %s: %s", st->dir_path, strerror(-r));
        return 0;
}

static int open_efivar_store(StateStores *s, const Policy *p, StateStore *st) {
        if (asprintf(&st->location, "efivar:%s-%s", STATE_EFI_NAME, STATE_EFI_GUID) < 0)
                return -ENOMEM;
        /* efi_set_variable() segfaults without efivarfs: always ask first,
         * and do not even ask the library when its directory is missing. */
        if (!efivars_supported()) {
                /* Only a problem when asked for: with `auto` and `file` a
                 * machine without UEFI simply uses the file. */
                if (p->boot.state == STATE_BACKEND_EFIVAR)
                        problem(s, "UEFI variables not available (no efivarfs)");
                else
                        st->absent = true;
                return -EOPNOTSUPP;
        }
        return 0;
}

/* ---- the key that authenticates the record ---- */

/* Loads the key: a regular file (never through a symlink at its name, never
 * blocking), owned by us (root) and mode 0600, exactly STATE_KEY_SIZE bytes.
 * -ENOENT when there is none yet, -EPERM for the wrong owner or mode. */
static int key_load(StateStores *s) {
        _cleanup_close_ int dfd = -1;
        int kdir = -1;
        /* The usual file store lives beside the key: its directory, already open. */
        for (size_t i = 0; i < s->n && kdir < 0; i++)
                if (s->stores[i].kind == STORE_ROOT && s->stores[i].dir_fd >= 0 &&
                    streq(s->stores[i].dir_path, LASTGOOD_STATE_DIR))
                        kdir = s->stores[i].dir_fd;
        if (kdir < 0) {
                int r = root_open_dir(s->root_fd, LASTGOOD_STATE_DIR, false, 0, &dfd);
                if (r < 0)
                        return r;
                kdir = dfd;
        }
        struct stat st;
        _cleanup_close_ int fd = openat_regular(kdir, LASTGOOD_STATE_KEY_NAME, &st);
        if (fd < 0)
                return fd;
        if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0600)
                return -EPERM;
        if (st.st_size != STATE_KEY_SIZE)
                return -EBADMSG;
        uint8_t key[STATE_KEY_SIZE];
        ssize_t n = loop_read(fd, key, sizeof key);
        if (n < 0)
                return (int) n;
        if (n != STATE_KEY_SIZE)
                return -EBADMSG;
        memcpy(s->key, key, sizeof key);
        explicit_bzero(key, sizeof key);
        return 0;
}

/* Makes the key on the first write (the root must be writable: boot may
 * remount it once, on the very first boot). The key on disk is then read
 * back, so two writers racing end up using the one that won. */
static int key_create(StateStores *s) {
        uint8_t key[STATE_KEY_SIZE];
        int r = random_bytes(key, sizeof key);
        if (r < 0)
                return r;
        r = fault_point("state-key");
        if (r >= 0) {
                _cleanup_close_ int dfd = -1;
                r = mkdir_durable_root(s->root_fd, LASTGOOD_STATE_DIR, 0700, &dfd);
                if (r == -EROFS && s->allow_remount && root_ensure_writable(s->root_fd) >= 0)
                        r = mkdir_durable_root(s->root_fd, LASTGOOD_STATE_DIR, 0700, &dfd);
                if (r >= 0)
                        r = write_atomic_at(dfd, LASTGOOD_STATE_KEY_NAME, key, sizeof key, 0600);
                if (r == -EROFS && s->allow_remount && root_ensure_writable(s->root_fd) >= 0)
                        r = write_atomic_at(dfd, LASTGOOD_STATE_KEY_NAME, key, sizeof key, 0600);
        }
        explicit_bzero(key, sizeof key);
        if (r < 0)
                return r;
        return key_load(s);
}

int state_stores_open(int root_fd, const Policy *p, bool allow_remount, StateStores *ret) {
        StateStores s = { .root_fd = root_fd, .read_from = -1, .written_to = -1, .allow_remount = allow_remount };
        StoreKind order[3];
        size_t n = 0;
        bool dev = p->boot.state_device && *p->boot.state_device;

        switch (p->boot.state) {
        case STATE_BACKEND_EFIVAR:
                order[n++] = STORE_EFIVAR;
                if (dev)
                        order[n++] = STORE_DEVICE;
                order[n++] = STORE_ROOT;
                break;
        case STATE_BACKEND_FILE:
                if (dev)
                        order[n++] = STORE_DEVICE;
                order[n++] = STORE_ROOT;
                order[n++] = STORE_EFIVAR;
                break;
        case STATE_BACKEND_AUTO:
        default:
                if (dev)
                        order[n++] = STORE_DEVICE;
                order[n++] = STORE_EFIVAR;
                order[n++] = STORE_ROOT;
                break;
        }

        for (size_t i = 0; i < n; i++) {
                StateStore *st = &s.stores[s.n++];
                *st = (StateStore) { .kind = order[i], .dir_fd = -1 };
                int r;
                switch (order[i]) {
                case STORE_DEVICE:
                        r = open_device_store(&s, p, st);
                        break;
                case STORE_EFIVAR:
                        r = open_efivar_store(&s, p, st);
                        break;
                default:
                        r = open_root_store(&s, p, st);
                }
                if (r == -ENOMEM) {
                        state_stores_done(&s);
                        return r;
                }
                st->setup_error = r < 0 ? r : 0;
        }
        s.key_error = key_load(&s);
        if (s.key_error < 0 && s.key_error != -ENOENT)
                problem(&s, "Refusing the state key %s: %s (records cannot be authenticated)",
                        LASTGOOD_STATE_KEY_FILE,
                        s.key_error == -EPERM   ? "not owned by root with mode 0600"
                        : s.key_error == -EBADF ? "not a regular file"
                                                : strerror(-s.key_error));
        *ret = s;
        return 0;
}

void state_stores_done(StateStores *s) {
        for (size_t i = 0; i < s->n; i++) {
                closep(&s->stores[i].dir_fd);
                free(s->stores[i].location);
                free(s->stores[i].name);
                free(s->stores[i].dir_path);
        }
        strv_free(s->problems);
        explicit_bzero(s->key, sizeof s->key);
        *s = (StateStores) { .read_from = -1, .written_to = -1 };
}

/* The raw record: 1 found (*ret_data, *ret_size), 0 none, -EBADMSG what is
 * there cannot be a record (*ret_why says what it is), <0 error. */
static int store_read(StateStore *st, uint8_t **ret_data, size_t *ret_size, const char **ret_why) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;

        if (st->setup_error < 0)
                return 0;
        if (st->kind == STORE_EFIVAR) {
                /* Far larger than any record: a bigger one is read, and
                 * found corrupt, rather than refused unread. */
                int r = efivars_read(STATE_EFI_GUID, STATE_EFI_NAME, 64 * 1024, &data, &size);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
        } else {
                if (st->dir_fd < 0)
                        return 0;
                /* Never following a link, never blocking: whatever was
                 * planted here (FIFO, socket, device, symlink, directory)
                 * is a corrupt copy, not a missing one (that would read as
                 * a fresh, healthy machine). */
                _cleanup_close_ int fd = openat_regular(st->dir_fd, st->name, NULL);
                if (fd == -ENOENT)
                        return 0;
                if (fd == -ELOOP || fd == -EBADF || fd == -EISDIR || fd == -ENXIO) {
                        *ret_why = fd == -ELOOP ? "a symlink" : "not a regular file";
                        return -EBADMSG;
                }
                if (fd < 0)
                        return fd;
                char *buf;
                int r = read_full_fd(fd, STATE_READ_MAX, &buf, &size);
                if (r == -EFBIG) {
                        *ret_why = "too large";
                        return -EBADMSG;
                }
                if (r < 0)
                        return r;
                data = (uint8_t *) buf;
        }
        *ret_data = TAKE_PTR(data);
        *ret_size = size;
        return 1;
}

int state_stores_read(StateStores *s, BootState *ret) {
        bool corrupt = false;
        int best = -1;
        bool best_auth = false, best_legacy = false;
        BootState best_state = {};

        s->saw_corrupt = s->unauthenticated = false;
        s->read_error = 0;
        for (size_t i = 0; i < s->n; i++) {
                _cleanup_free_ uint8_t *data = NULL;
                size_t size = 0;
                const char *why = "bad magic, size, version or CRC";
                BootState st;
                int r = store_read(&s->stores[i], &data, &size, &why);
                if (r > 0)
                        r = state_decode(data, size, &st) < 0 ? -EBADMSG : 1;
                if (r == -EBADMSG) {
                        problem(s, "Corrupt state record in %s (%s), ignoring it", s->stores[i].location, why);
                        corrupt = true;
                        continue;
                }
                if (r < 0) {
                        problem(s, "Failed to read state from %s: %s", s->stores[i].location, strerror(-r));
                        if (s->read_error == 0)
                                s->read_error = r;
                        continue;
                }
                if (r == 0)
                        continue;
                /* A record that authenticates wins over one that does not,
                 * whatever its generation: a forged copy cannot shadow it. */
                bool auth = state_authentic(data, size, s->key_error == 0 ? s->key : NULL);
                if (best < 0 || auth > best_auth || (auth == best_auth && st.generation > best_state.generation)) {
                        best = (int) i;
                        best_state = st;
                        best_auth = auth;
                        best_legacy = size == STATE_RECORD_SIZE_V3;
                }
        }
        if (best >= 0) {
                if (!best_auth) {
                        /* The upgrade from version 3: no key was ever made, so
                         * the old record's count is kept (counted
                         * conservatively); anything else restarts it. */
                        bool upgrade = best_legacy && s->key_error == -ENOENT;
                        problem(s, "State record in %s is not authenticated (%s), distrusting it",
                                s->stores[best].location,
                                upgrade                   ? "written before records were signed"
                                : s->key_error == -ENOENT ? "no state key"
                                : s->key_error < 0        ? "the state key was refused"
                                                          : "bad or missing MAC");
                        state_distrust(&best_state, upgrade);
                        s->unauthenticated = true;
                }
                s->saw_corrupt = corrupt;
                s->read_from = best;
                *ret = best_state;
                return 1;
        }
        return corrupt ? -EBADMSG : 0;
}

static int store_write(StateStores *s, StateStore *st, const uint8_t *buf) {
        if (st->setup_error < 0)
                return st->setup_error;
        int r = fault_point("state-write");
        if (r < 0)
                return r;
        if (st->kind == STORE_EFIVAR) {
                return efivars_write(STATE_EFI_GUID, STATE_EFI_NAME, buf, STATE_RECORD_SIZE);
        }
        if (st->dir_fd < 0) {
                r = root_open_dir(s->root_fd, *st->dir_path ? st->dir_path : "/", true, 0700, &st->dir_fd);
                if (r == -EROFS && st->kind == STORE_ROOT && s->allow_remount &&
                    root_ensure_writable(s->root_fd) >= 0)
                        r = root_open_dir(s->root_fd, *st->dir_path ? st->dir_path : "/", true, 0700, &st->dir_fd);
                if (r < 0)
                        return r;
        }
        r = write_atomic_at(st->dir_fd, st->name, buf, STATE_RECORD_SIZE, 0600);
        if (r == -EROFS && st->kind == STORE_ROOT && s->allow_remount && root_ensure_writable(s->root_fd) >= 0)
                r = write_atomic_at(st->dir_fd, st->name, buf, STATE_RECORD_SIZE, 0600);
        return r;
}

int state_stores_write(StateStores *s, BootState *st) {
        uint8_t buf[STATE_RECORD_SIZE];
        int last = -ENODEV;

        /* Never wraps: decode refuses anything above the maximum. */
        if (st->generation < STATE_GENERATION_MAX)
                st->generation++;
        if (s->key_error == -ENOENT) {
                s->key_error = key_create(s);
                if (s->key_error < 0)
                        problem(s, "Failed to make the state key %s, writing an unauthenticated record: %s",
                                LASTGOOD_STATE_KEY_FILE, strerror(-s->key_error));
        }
        state_encode(st, s->key_error == 0 ? s->key : NULL, buf);
        bool passed_over = false; /* a store before this one that should have taken it */
        for (size_t i = 0; i < s->n; i++) {
                int r = store_write(s, &s->stores[i], buf);
                if (r >= 0) {
                        /* Not at every boot of a machine without UEFI. */
                        if (passed_over)
                                problem(s, "State written to %s (fall-through)", s->stores[i].location);
                        s->written_to = (int) i;
                        return (int) i;
                }
                if (s->stores[i].setup_error >= 0)
                        problem(s, "Failed to write state to %s: %s", s->stores[i].location, strerror(-r));
                passed_over = passed_over || !s->stores[i].absent;
                last = r;
        }
        return last;
}

const StateStore *state_stores_current(const StateStores *s) {
        int i = s->written_to >= 0 ? s->written_to : s->read_from;
        if (i >= 0)
                return &s->stores[i];
        /* Nothing read or written yet: the first usable store is where it will go. */
        for (size_t k = 0; k < s->n; k++)
                if (s->stores[k].setup_error >= 0)
                        return &s->stores[k];
        return NULL;
}
