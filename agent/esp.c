/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/esp.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lib/blkid-lib.h"
#include "lib/efivars.h"
#include "lib/encode.h"
#include "lib/fault.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "lib/rootfs.h"

void esp_partition_done(EspPartition *p) {
        free(p->disk);
        free(p->node);
        free(p->fstype);
        free(p->uuid);
        *p = (EspPartition) {};
}

void esp_partitions_free(EspPartition *l, size_t n) {
        for (size_t i = 0; l && i < n; i++)
                esp_partition_done(&l[i]);
        free(l);
}

static void blkid_probep(blkid_probe *p) {
        if (*p)
                blkid_lib()->blkid_free_probe(*p); /* loaded: it made the probe */
}

static bool disk_filter(int dir_fd, const char *name) {
        return name[0] != '.' && !strneq(name, "ram", 3) && !strneq(name, "zram", 4);
}

/* Every whole disk the kernel knows, as /dev paths, sorted. */
static int list_disks(char ***ret) {
        _cleanup_close_ int fd = open("/sys/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        _cleanup_strv_free_ char **l = NULL;
        int r = dir_list_at(fd, disk_filter, 0, &l);
        if (r < 0)
                return r;
        for (char **d = l; *d; d++) {
                char *path;
                if (asprintf(&path, "/dev/%s", *d) < 0)
                        return -ENOMEM;
                free(*d);
                *d = path;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

typedef struct PartitionMatch {
        unsigned partno;
        char *node;
} PartitionMatch;

static int partition_match(int dir_fd, const char *name, void *userdata) {
        PartitionMatch *m = userdata;
        if (name[0] == '.')
                return 0;
        char rel[300];
        if (xsnprintf(rel, sizeof rel, "%s/partition", name) < 0)
                return 0;
        _cleanup_free_ char *buf = NULL;
        if (read_full_at(dir_fd, rel, 32, &buf, NULL) < 0)
                return 0; /* not a partition (queue/, holders/, …) */
        buf[strcspn(buf, "\n")] = '\0';
        uint32_t n;
        if (parse_u32_range(buf, 1, UINT32_MAX, &n) < 0 || n != m->partno)
                return 0;
        if (asprintf(&m->node, "/dev/%s", name) < 0) {
                m->node = NULL;
                return -ENOMEM;
        }
        return 1;
}

/* The device node of partition PARTNO of the block device DISK, from sysfs
 * (sda → sda1, nvme0n1 → nvme0n1p1, whatever the driver's naming). */
static char *partition_node(const char *disk, unsigned partno) {
        struct stat st;
        if (stat(disk, &st) < 0 || !S_ISBLK(st.st_mode))
                return NULL; /* an image file: no node to mount */
        char sys[64];
        if (xsnprintf(sys, sizeof sys, "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev)) < 0)
                return NULL;
        _cleanup_close_ int dfd = open(sys, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return NULL;
        PartitionMatch m = { .partno = partno };
        if (dir_for_each_at(dfd, partition_match, &m) < 0)
                return NULL;
        return m.node;
}

/* The file system type at OFFSET..OFFSET+SIZE of PATH, or NULL. */
static char *probe_fstype(const char *path, uint64_t offset, uint64_t size) {
        const BlkidLib *bl = blkid_lib();
        if (!bl)
                return NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return NULL;
        _cleanup_(blkid_probep) blkid_probe pr = bl->blkid_new_probe();
        if (!pr || bl->blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0)
                return NULL;
        bl->blkid_probe_enable_partitions(pr, 0);
        bl->blkid_probe_enable_superblocks(pr, 1);
        bl->blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        const char *type = NULL;
        if (bl->blkid_do_safeprobe(pr) != 0 || bl->blkid_probe_lookup_value(pr, "TYPE", &type, NULL) < 0 || !type)
                return NULL;
        return strdup(type);
}

/* ---- which disk: sysfs ---- */

bool esp_disk_removable_at(int sys_fd, dev_t dev) {
        char path[64];
        if (xsnprintf(path, sizeof path, "dev/block/%u:%u/removable", major(dev), minor(dev)) < 0)
                return false;
        _cleanup_free_ char *buf = NULL;
        if (read_full_at(sys_fd, path, 32, &buf, NULL) < 0)
                return false;
        return buf[0] == '1';
}

/* DEVNAME and DEVTYPE from the uevent file of the sysfs block device dir_fd. */
static int read_uevent(int dir_fd, char name[static 256], bool *ret_partition) {
        _cleanup_free_ char *buf = NULL;
        int r = read_full_at(dir_fd, "uevent", 4096, &buf, NULL);
        if (r < 0)
                return r;
        bool have_name = false, partition = false;
        for (char *line = buf, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strneq(line, "DEVNAME=", 8) && line[8] && strlen(line + 8) < 256) {
                        strcpy(name, line + 8);
                        have_name = true;
                } else if (streq(line, "DEVTYPE=partition"))
                        partition = true;
        }
        if (!have_name)
                return -ENODEV;
        *ret_partition = partition;
        return 0;
}

static bool slave_filter(int dir_fd, const char *name) {
        return name[0] != '.';
}

int esp_boot_disk_at(int sys_fd, dev_t dev, char **ret) {
        char path[64];
        if (xsnprintf(path, sizeof path, "dev/block/%u:%u", major(dev), minor(dev)) < 0)
                return -EINVAL;
        /* sysfs is the kernel's: its links are followed. */
        _cleanup_close_ int fd = openat(sys_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENODEV : -errno;
        /* dm-crypt on LVM on a partition is three steps down; a loop of
         * slaves is the kernel's bug, not a reason to spin. */
        for (unsigned depth = 0; depth < 8; depth++) {
                char name[256];
                bool partition;
                int r = read_uevent(fd, name, &partition);
                if (r < 0)
                        return r == -ENOENT ? -ENODEV : r;
                if (partition) {
                        _cleanup_close_ int disk_fd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (disk_fd < 0)
                                return -errno;
                        r = read_uevent(disk_fd, name, &partition);
                        if (r < 0)
                                return r == -ENOENT ? -ENODEV : r;
                        return asprintf(ret, "/dev/%s", name) < 0 ? -ENOMEM : 0;
                }
                _cleanup_strv_free_ char **slaves = NULL;
                _cleanup_close_ int slaves_fd = openat(fd, "slaves", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (slaves_fd >= 0 && dir_list_at(slaves_fd, slave_filter, 64, &slaves) >= 0 && slaves &&
                    slaves[0]) {
                        int next = openat(slaves_fd, slaves[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (next < 0)
                                return -errno;
                        closep(&fd);
                        fd = next;
                        continue;
                }
                return asprintf(ret, "/dev/%s", name) < 0 ? -ENOMEM : 0;
        }
        return -ELOOP;
}

static bool partition_is_esp(const BlkidLib *bl, blkid_partition par) {
        const char *type = bl->blkid_partition_get_type_string(par);
        if (type && strcasecmp(type, ESP_TYPE_GUID) == 0)
                return true;
        blkid_parttable t = bl->blkid_partition_get_table(par);
        const char *tt = t ? bl->blkid_parttable_get_type(t) : NULL;
        return tt && streq(tt, "dos") && bl->blkid_partition_get_type(par) == ESP_MBR_TYPE;
}

static bool disk_removable(const char *disk) {
        struct stat st;
        if (stat(disk, &st) < 0 || !S_ISBLK(st.st_mode))
                return false; /* an image file */
        _cleanup_close_ int sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return sys_fd >= 0 && esp_disk_removable_at(sys_fd, st.st_rdev);
}

static int probe_disk(const char *disk, EspPartition **list, size_t *n) {
        const BlkidLib *bl = blkid_lib();
        if (!bl)
                return 0; /* logged once: no ESP can be found */
        _cleanup_(blkid_probep) blkid_probe pr = bl->blkid_new_probe_from_filename(disk);
        if (!pr)
                return 0; /* no medium, no permission, gone: not an ESP */
        bl->blkid_probe_enable_superblocks(pr, 0);
        bl->blkid_probe_enable_partitions(pr, 1);
        bl->blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
        blkid_partlist ls = bl->blkid_probe_get_partitions(pr);
        if (!ls)
                return 0;
        int count = bl->blkid_partlist_numof_partitions(ls);
        for (int i = 0; i < count; i++) {
                blkid_partition par = bl->blkid_partlist_get_partition(ls, i);
                if (!par || !partition_is_esp(bl, par))
                        continue;
                blkid_loff_t start = bl->blkid_partition_get_start(par), size = bl->blkid_partition_get_size(par);
                if (start < 0 || size <= 0)
                        continue;
                EspPartition *nl = realloc(*list, (*n + 1) * sizeof **list);
                if (!nl)
                        return -ENOMEM;
                *list = nl;
                EspPartition *p = &nl[*n];
                /* libblkid counts partitions in 512-byte sectors, whatever
                 * the device's logical sector size. */
                *p = (EspPartition) {
                        .partno = (unsigned) bl->blkid_partition_get_partno(par),
                        .offset = (uint64_t) start * 512,
                        .size = (uint64_t) size * 512,
                        .disk = strdup(disk),
                };
                const char *uuid = bl->blkid_partition_get_uuid(par);
                if (uuid)
                        p->uuid = strdup(uuid);
                if (!p->disk || (uuid && !p->uuid)) {
                        esp_partition_done(p);
                        return -ENOMEM;
                }
                p->node = partition_node(disk, p->partno);
                p->removable = disk_removable(disk);
                p->fstype = probe_fstype(disk, p->offset, p->size);
                (*n)++;
        }
        return 0;
}

int esp_find(char *const *disks, EspPartition **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **all = NULL;
        if (!disks) {
                int r = list_disks(&all);
                if (r < 0)
                        return r;
                disks = all;
        }
        EspPartition *list = NULL;
        size_t n = 0;
        for (char *const *d = disks; d && *d; d++) {
                int r = probe_disk(*d, &list, &n);
                if (r < 0) {
                        esp_partitions_free(list, n);
                        return r;
                }
        }
        if (n == 0) {
                free(list);
                return -ENODEV;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int esp_select(const EspPartition *l, size_t n, const char *loader_partuuid, const char *boot_disk,
               size_t *ret_idx) {
        for (size_t i = 0; i < n; i++) {
                if (l[i].removable)
                        continue;
                /* The loader's word, when there is one, is the only one:
                 * no falling back to another disk's ESP. */
                bool match = loader_partuuid ? l[i].uuid && strcasecmp(l[i].uuid, loader_partuuid) == 0
                                             : boot_disk && streq(l[i].disk, boot_disk);
                if (match) {
                        *ret_idx = i;
                        return 0;
                }
        }
        return -ENODEV;
}

static bool guid_is_valid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++)
                if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : unhexchar(s[i]) < 0)
                        return false;
        return true;
}

int esp_loader_partuuid(char ret[static 37]) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        /* 36 UTF-16 units and a NUL; a little room for a loader's padding. */
        int r = efivars_read(ESP_LOADER_GUID, ESP_LOADER_PARTUUID_NAME, 128, &data, &size);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        char s[37];
        if (utf16le_to_ascii(data, size, s, sizeof s) < 0 || !guid_is_valid(s))
                return -EBADMSG;
        for (char *c = s; *c; c++)
                if (*c >= 'A' && *c <= 'F')
                        *c = (char) (*c - 'A' + 'a');
        memcpy(ret, s, sizeof s);
        return 0;
}

/* Decodes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s) {
        char *w = s;
        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                        *w++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else
                        *w++ = *p;
        }
        *w = '\0';
}

int esp_mountinfo_find(FILE *mountinfo, dev_t devnum, char **ret_path) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, mountinfo) > 0) {
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS … - FSTYPE SOURCE SUPER" */
                unsigned maj, min;
                char root[4096], where[4096];
                if (sscanf(line, "%*u %*u %u:%u %4095s %4095s", &maj, &min, root, where) != 4)
                        continue;
                /* A bind mount of a subdirectory is not the ESP's top. */
                if (makedev(maj, min) != devnum || !streq(root, "/"))
                        continue;
                unescape_octal(where);
                char *p = strdup(where);
                if (!p)
                        return -ENOMEM;
                *ret_path = p;
                return 0;
        }
        return -ENOENT;
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

int esp_parse_request(const char *buf, size_t len, EspRequest *ret) {
        if (len > ESP_REQUEST_MAX || memchr(buf, '\0', len))
                return -EBADMSG;
        char copy[ESP_REQUEST_MAX + 1];
        memcpy(copy, buf, len);
        copy[len] = '\0';
        char *s = copy;
        if (strneq(s, "\xef\xbb\xbf", 3)) /* Notepad's UTF-8 BOM */
                s += 3;

        EspRequest req = {};
        bool have_code = false, have_boots = false;
        char *save = NULL;
        for (char *tok = strtok_r(s, " \t\r\n\v\f", &save); tok; tok = strtok_r(NULL, " \t\r\n\v\f", &save)) {
                const char *v;
                bool is_code;
                if (strneq(tok, "code=", 5)) {
                        v = tok + 5;
                        is_code = true;
                } else if (strneq(tok, "boots=", 6)) {
                        v = tok + 6;
                        is_code = false;
                } else {
                        /* Bare words are positional: code, then boots. */
                        v = tok;
                        is_code = !have_code;
                }
                if (is_code) {
                        size_t n = strlen(v);
                        if (have_code || !all_digits(v) || n < 6 || n > ESP_CODE_MAX)
                                return -EBADMSG;
                        memcpy(req.code, v, n + 1);
                        have_code = true;
                } else {
                        if (have_boots || parse_u32_range(v, 1, ESP_BOOTS_MAX, &req.boots) < 0)
                                return -EBADMSG;
                        have_boots = true;
                }
        }
        *ret = req;
        return 0;
}

typedef struct LookupCi {
        const char *name;
        char *found;
        bool any;
} LookupCi;

static int lookup_ci_one(int dir_fd, const char *name, void *userdata) {
        LookupCi *l = userdata;
        if (strcasecmp(name, l->name) != 0 || strlen(name) >= 256)
                return 0;
        strcpy(l->found, name);
        l->any = true;
        return streq(name, l->name); /* an exact match wins: stop there */
}

/* Finds NAME in dir_fd ignoring ASCII case (an exact match wins); the real
 * name is copied to found. */
static int lookup_ci(int dir_fd, const char *name, char found[static 256]) {
        LookupCi l = { .name = name, .found = found };
        int r = dir_for_each_at(dir_fd, lookup_ci_one, &l);
        if (r < 0)
                return r;
        return l.any ? 0 : -ENOENT;
}

static int open_dir_ci(int dir_fd, const char *name, int *ret) {
        char real[256];
        int r = lookup_ci(dir_fd, name, real);
        if (r < 0)
                return r;
        int fd = openat(dir_fd, real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

static int remove_request(int dir_fd, const char *name) {
        int r = fault_point("esp-request-delete");
        if (r < 0)
                return r;
        if (unlinkat(dir_fd, name, 0) < 0)
                return -errno;
        return fsync_dir(dir_fd);
}

int esp_take_request_at(int esp_fd, EspRequest *ret) {
        _cleanup_close_ int efi_fd = -1, lg_fd = -1;
        int r = open_dir_ci(esp_fd, "EFI", &efi_fd);
        if (r >= 0)
                r = open_dir_ci(efi_fd, "lastgood", &lg_fd);
        char name[256];
        if (r >= 0)
                r = lookup_ci(lg_fd, "safemode", name);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        struct stat st;
        if (fstatat(lg_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;

        /* Read, then remove, then judge: a refused request must not stay
         * behind to be refused again at every boot. */
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int read_r = -EBADMSG; /* symlinks, FIFOs, devices: refused unread */
        if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int fd = openat_regular(lg_fd, name, NULL);
                if (fd < 0)
                        return fd;
                read_r = read_full_fd(fd, ESP_REQUEST_MAX, &buf, &len);
                if (read_r < 0 && read_r != -EFBIG)
                        return read_r; /* an I/O error: leave it for the next boot */
        }
        r = remove_request(lg_fd, name);
        if (r < 0)
                return r;
        if (read_r < 0)
                return read_r;
        EspRequest req;
        r = esp_parse_request(buf, len, &req);
        if (r < 0)
                return r;
        *ret = req;
        return 1;
}

static int take_from_dir(const char *dir, EspRequest *ret) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return esp_take_request_at(fd, ret);
}

static int mountpoint_of(const char *node, char **ret) {
        struct stat st;
        if (stat(node, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        return esp_mountinfo_find(f, st.st_rdev, ret);
}

static int take_from_partition(const EspPartition *p, EspRequest *ret) {
        if (!p->node)
                return -ENXIO; /* an image file: nothing to mount */
        _cleanup_free_ char *where = NULL;
        int r = mountpoint_of(p->node, &where);
        if (r >= 0)
                return take_from_dir(where, ret);
        if (r != -ENOENT)
                return r;

        /* Not mounted (the initramfs): mount it for as long as it takes. */
        if (mkdir(LASTGOOD_RUN_DIR, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mkdir(LASTGOOD_ESP_MOUNT_DIR, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (mount(p->node, LASTGOOD_ESP_MOUNT_DIR, "vfat", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "fmask=0177,dmask=0077") < 0)
                return -errno;
        r = take_from_dir(LASTGOOD_ESP_MOUNT_DIR, ret);
        /* The removal was fsynced; unmounting also flushes the FAT. */
        if (umount2(LASTGOOD_ESP_MOUNT_DIR, UMOUNT_NOFOLLOW) < 0)
                (void) umount2(LASTGOOD_ESP_MOUNT_DIR, MNT_DETACH | UMOUNT_NOFOLLOW);
        (void) rmdir(LASTGOOD_ESP_MOUNT_DIR);
        return r;
}

int esp_take_request(const char *esp_dir, int root_fd, char *const *disks, EspRequest *ret) {
        int r;
        if (esp_dir) {
                r = take_from_dir(esp_dir, ret);
                if (r > 0)
                        snprintf(ret->where, sizeof ret->where, "%s", esp_dir);
                return r;
        }

        /* Which ESP first, then probe only what can hold it: probing every
         * disk with libblkid, at every boot, costs I/O on each of them. */
        char loader[37];
        bool have_loader = esp_loader_partuuid(loader) >= 0;
        _cleanup_free_ char *boot_disk = NULL;
        if (!have_loader) {
                /* No loader that says: the disk the root file system is on. */
                struct stat st;
                _cleanup_close_ int sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sys_fd >= 0 && fstat(root_fd, &st) >= 0 && esp_boot_disk_at(sys_fd, st.st_dev, &boot_disk) < 0)
                        boot_disk = NULL; /* unknown: no ESP is read */
                if (!boot_disk && !disks)
                        return -ENODEV;
        }
        char *only[2] = { boot_disk, NULL };
        EspPartition *list = NULL;
        size_t n = 0;
        /* The loader names a partition of some disk: all are looked at. */
        r = esp_find(disks ?: have_loader ? NULL : only, &list, &n);
        if (r < 0)
                return r;
        size_t idx;
        r = esp_select(list, n, have_loader ? loader : NULL, boot_disk, &idx);
        if (r >= 0)
                r = take_from_partition(&list[idx], ret);
        if (r > 0)
                snprintf(ret->where, sizeof ret->where, "%s%s%s%s", list[idx].node ?: list[idx].disk,
                         list[idx].uuid ? " (PARTUUID=" : "", list[idx].uuid ?: "", list[idx].uuid ? ")" : "");
        esp_partitions_free(list, n);
        return r;
}
