/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ESP is found by partition type on GPT/MBR disk images made here with
 * sfdisk, mkfs.vfat and mtools (no root, no loop devices, no mounts); the
 * request file is consumed from a plain directory standing in for the
 * mounted ESP. */
#include "unit.h"

#include <stdio.h>
#include <sys/sysmacros.h>

#include "agent/esp.h"

/* The fake efivarfs (unit_reexec_with_fake_efivarfs()), with a trailing '/'. */
static char efi_dir[256];

#define ESP_START 43008 /* sectors */
#define ESP_SECTORS 65536

static void sh(const char *dir, const char *script) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cd '%s' && (%s) >/dev/null 2>&1", dir, script);
        assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
        *state = unit_mkdtemp();
        return 0;
}

static int teardown(void **state) {
        unsetenv("LASTGOOD_FAULT_AT");
        unsetenv("LASTGOOD_FAULT_ERRNO");
        unsetenv("LASTGOOD_FAULT_TRACE");
        unit_rmdir(*state);
        return 0;
}

/* A 64 MiB GPT disk: a Linux root partition, then a vfat ESP with a request
 * file in it (the way a user would leave one from another machine). */
static void make_gpt_disk(const char *dir, const char *esp_type) {
        char script[2048];
        snprintf(script, sizeof script,
                 "truncate -s 64M disk.img && "
                 "printf 'label: gpt\\n"
                 "start=2048, size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\\n"
                 "start=%d, size=%d, type=%s, name=EFI\\n' | sfdisk -q disk.img && "
                 "rm -f esp.img && truncate -s 32M esp.img && mkfs.vfat -n ESP esp.img && "
                 "mmd -i esp.img ::EFI ::EFI/lastgood && "
                 "echo 12345678 | mcopy -i esp.img - ::EFI/lastgood/safemode && "
                 "dd if=esp.img of=disk.img bs=512 seek=%d conv=notrunc status=none",
                 ESP_START, ESP_SECTORS, esp_type, ESP_START);
        sh(dir, script);
}

static char *path_in(const char *dir, const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void test_find_gpt_esp_by_type(void **state) {
        const char *dir = *state;
        make_gpt_disk(dir, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        sh(dir, "echo not a disk >notes.txt");
        char *img = path_in(dir, "disk.img"), *txt = path_in(dir, "notes.txt"), *gone = path_in(dir, "nope");
        char *disks[] = { gone, txt, img, NULL };

        EspPartition *l = NULL;
        size_t n = 0;
        assert_int_equal(esp_find(disks, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].disk, img);
        assert_int_equal(l[0].partno, 2);
        assert_int_equal(l[0].offset, (uint64_t) ESP_START * 512);
        assert_int_equal(l[0].size, (uint64_t) ESP_SECTORS * 512);
        assert_non_null(l[0].fstype);
        assert_string_equal(l[0].fstype, "vfat");
        assert_non_null(l[0].uuid);
        assert_int_equal(strlen(l[0].uuid), 36);
        assert_null(l[0].node); /* an image file has no partition node */
        esp_partitions_free(l, n);

        /* Found, but neither the loader's partition nor on the disk the
         * test's root lives on: never read. */
        EspRequest req;
        int root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(root_fd >= 0);
        assert_int_equal(esp_take_request(NULL, root_fd, disks, &req), -ENODEV);
        close(root_fd);
        free(img);
        free(txt);
        free(gone);
}

/* The type decides, not the name, label or file system: a vfat partition
 * named "EFI" with the Linux or Microsoft basic-data type is not the ESP. */
static void test_other_types_are_not_esp(void **state) {
        const char *dir = *state;
        const char *types[] = { "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" };
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                make_gpt_disk(dir, types[i]);
                char *img = path_in(dir, "disk.img");
                char *disks[] = { img, NULL };
                EspPartition *l = NULL;
                size_t n = 0;
                assert_int_equal(esp_find(disks, &l, &n), -ENODEV);
                EspRequest req;
                assert_int_equal(esp_take_request(NULL, -1, disks, &req), -ENODEV);
                free(img);
        }
}

static void test_find_mbr_esp(void **state) {
        const char *dir = *state;
        sh(dir, "truncate -s 16M mbr.img && "
                "printf 'label: dos\\nstart=2048, size=8192, type=83\\nstart=10240, size=16384, type=ef\\n' | "
                "sfdisk -q mbr.img");
        char *img = path_in(dir, "mbr.img");
        char *disks[] = { img, NULL };
        EspPartition *l = NULL;
        size_t n = 0;
        assert_int_equal(esp_find(disks, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(l[0].partno, 2);
        assert_int_equal(l[0].offset, 10240ULL * 512);
        assert_null(l[0].fstype); /* never formatted */
        esp_partitions_free(l, n);
        free(img);
}

static void test_mountinfo(void **state) {
        const char *mi = "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
                         "30 22 259:1 /EFI /mnt/bind rw - vfat /dev/nvme0n1p1 rw\n"
                         "31 22 259:1 / /boot/my\\040efi rw,relatime shared:5 - vfat /dev/nvme0n1p1 rw\n";
        FILE *f = fmemopen((void *) mi, strlen(mi), "r");
        assert_non_null(f);
        char *where = NULL;
        assert_int_equal(esp_mountinfo_find(f, makedev(259, 1), &where), 0);
        assert_string_equal(where, "/boot/my efi"); /* the bind of /EFI is skipped */
        free(where);
        rewind(f);
        assert_int_equal(esp_mountinfo_find(f, makedev(8, 1), &where), -ENOENT);
        fclose(f);
}

static void test_parse_request(void **state) {
        EspRequest r;
        assert_int_equal(esp_parse_request("", 0, &r), 0);
        assert_string_equal(r.code, "");
        assert_int_equal(r.boots, 0);

        const char *s = "\xef\xbb\xbf"
                        "12345678\r\n";
        assert_int_equal(esp_parse_request(s, strlen(s), &r), 0);
        assert_string_equal(r.code, "12345678");
        assert_int_equal(r.boots, 0);

        s = "12345678 3\n";
        assert_int_equal(esp_parse_request(s, strlen(s), &r), 0);
        assert_string_equal(r.code, "12345678");
        assert_int_equal(r.boots, 3);

        s = "boots=2\n";
        assert_int_equal(esp_parse_request(s, strlen(s), &r), 0);
        assert_string_equal(r.code, "");
        assert_int_equal(r.boots, 2);

        s = "  boots=5\tcode=87654321  ";
        assert_int_equal(esp_parse_request(s, strlen(s), &r), 0);
        assert_string_equal(r.code, "87654321");
        assert_int_equal(r.boots, 5);

        static const char *const bad[] = {
                "hello",           "12345",
                "12345678901",     "1234567a",
                "code=",           "boots=0",
                "boots=101",       "boots=-1",
                "12345678 2 3",    "code=12345678 code=12345678",
                "boots=1 boots=1", "12345678 x",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(esp_parse_request(bad[i], strlen(bad[i]), &r), -EBADMSG);
        assert_int_equal(esp_parse_request("123456\0"
                                           "78",
                                           9, &r),
                         -EBADMSG);
        char big[ESP_REQUEST_MAX + 2];
        memset(big, ' ', sizeof big);
        assert_int_equal(esp_parse_request(big, sizeof big, &r), -EBADMSG);
}

static int open_dir(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static bool exists(const char *dir, const char *rel) {
        char p[1024];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        return lstat(p, &st) == 0;
}

static void test_take_request_case_insensitive(void **state) {
        const char *dir = *state;
        sh(dir, "mkdir -p esp/efi/LastGood && printf 'code=12345678 boots=2\\r\\n' >esp/efi/LastGood/SAFEMODE");
        char *esp = path_in(dir, "esp");
        int fd = open_dir(esp);
        EspRequest r;
        assert_int_equal(esp_take_request_at(fd, &r), 1);
        assert_string_equal(r.code, "12345678");
        assert_int_equal(r.boots, 2);
        assert_false(exists(dir, "esp/efi/LastGood/SAFEMODE"));
        /* Taken once: the next boot sees nothing. */
        assert_int_equal(esp_take_request_at(fd, &r), 0);
        close(fd);

        /* Through the --esp path as well. */
        sh(dir, "touch esp/efi/LastGood/safemode");
        assert_int_equal(esp_take_request(esp, -1, NULL, &r), 1);
        assert_string_equal(r.code, "");
        assert_int_equal(r.boots, 0);
        assert_int_equal(esp_take_request(esp, -1, NULL, &r), 0);
        free(esp);
}

static void test_no_request(void **state) {
        const char *dir = *state;
        EspRequest r;
        sh(dir, "mkdir -p esp1 esp2/EFI esp3/EFI/lastgood");
        for (int i = 1; i <= 3; i++) {
                char name[16];
                snprintf(name, sizeof name, "esp%d", i);
                char *esp = path_in(dir, name);
                assert_int_equal(esp_take_request(esp, -1, NULL, &r), 0);
                free(esp);
        }
}

/* Refused requests are removed all the same (they would repeat at every
 * boot), and nothing outside the ESP is read or touched. */
static void test_refused_requests_removed(void **state) {
        const char *dir = *state;
        char *esp = path_in(dir, "esp");
        EspRequest r = { .boots = 77 };
        sh(dir, "mkdir -p esp/EFI/lastgood && echo 12345678 >secret && ln -s ../../../secret esp/EFI/lastgood/safemode");
        int fd = open_dir(esp);
        assert_int_equal(esp_take_request_at(fd, &r), -EBADMSG);
        assert_int_equal(r.boots, 77); /* untouched on failure */
        assert_false(exists(dir, "esp/EFI/lastgood/safemode"));
        assert_true(exists(dir, "secret"));

        sh(dir, "head -c 100000 /dev/zero | tr '\\0' 1 >esp/EFI/lastgood/safemode");
        assert_int_equal(esp_take_request_at(fd, &r), -EFBIG);
        assert_false(exists(dir, "esp/EFI/lastgood/safemode"));

        sh(dir, "echo 'please safe mode' >esp/EFI/lastgood/safemode");
        assert_int_equal(esp_take_request_at(fd, &r), -EBADMSG);
        assert_false(exists(dir, "esp/EFI/lastgood/safemode"));

        /* A symlinked directory on the way is not followed either. */
        sh(dir, "rm -r esp/EFI/lastgood && mkdir elsewhere && echo 12345678 >elsewhere/safemode && "
                "ln -s ../../elsewhere esp/EFI/lastgood");
        assert_int_equal(esp_take_request_at(fd, &r), -ENOTDIR); /* O_NOFOLLOW|O_DIRECTORY */
        assert_true(exists(dir, "elsewhere/safemode"));

        sh(dir, "rm esp/EFI/lastgood && mkdir -p esp/EFI/lastgood/safemode");
        assert_int_equal(esp_take_request_at(fd, &r), -EISDIR);
        close(fd);
        free(esp);
}

static unsigned last_fault_point(const char *trace) {
        FILE *f = fopen(trace, "re");
        unsigned last = 0, n;
        char name[64];
        if (!f)
                return 0;
        while (fscanf(f, "%u %63s", &n, name) == 2)
                last = n;
        fclose(f);
        return last;
}

/* The removal is a durable step: when it fails, the request is not handed
 * out (it would otherwise be honoured again at the next boot). */
static void test_remove_failure_keeps_request(void **state) {
        const char *dir = *state;
        char *esp = path_in(dir, "esp"), *trace = path_in(dir, "trace");
        sh(dir, "mkdir -p esp/EFI/lastgood && echo 12345678 >esp/EFI/lastgood/safemode");
        int fd = open_dir(esp);
        EspRequest r;

        setenv("LASTGOOD_FAULT_TRACE", trace, 1);
        assert_int_equal(esp_take_request_at(fd, &r), 1);
        unsigned last = last_fault_point(trace);
        assert_true(last >= 1);

        sh(dir, "echo 12345678 >esp/EFI/lastgood/safemode");
        char at[16];
        snprintf(at, sizeof at, "%u", last + 1);
        setenv("LASTGOOD_FAULT_AT", at, 1);
        setenv("LASTGOOD_FAULT_ERRNO", "EIO", 1);
        r = (EspRequest) {};
        assert_int_equal(esp_take_request_at(fd, &r), -EIO);
        assert_string_equal(r.code, "");
        assert_true(exists(dir, "esp/EFI/lastgood/safemode"));
        unsetenv("LASTGOOD_FAULT_AT");
        unsetenv("LASTGOOD_FAULT_ERRNO");

        FILE *f = fopen(trace, "re");
        char buf[4096] = "";
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        assert_non_null(strstr(buf, "esp-request-delete"));

        assert_int_equal(esp_take_request_at(fd, &r), 1);
        assert_string_equal(r.code, "12345678");
        close(fd);
        free(esp);
        free(trace);
}

/* ---- only the ESP the machine booted from ---- */

static void test_select(void **unused) {
        EspPartition l[] = {
                { .disk = (char *) "/dev/sda", .uuid = (char *) "aaaaaaaa-0000-4000-8000-000000000001" },
                { .disk = (char *) "/dev/sdb",
                  .uuid = (char *) "bbbbbbbb-0000-4000-8000-000000000002",
                  .removable = true },
                { .disk = (char *) "/dev/sdc", .uuid = (char *) "cccccccc-0000-4000-8000-000000000003" },
                { .disk = (char *) "/dev/sdc", .uuid = NULL }, /* MBR: no PARTUUID */
        };
        size_t idx = 99;
        /* The loader's word, case-insensitively; the boot disk then does not count. */
        assert_int_equal(esp_select(l, 4, "CCCCCCCC-0000-4000-8000-000000000003", "/dev/sda", &idx), 0);
        assert_int_equal(idx, 2);
        /* A loader UUID that no ESP has: none, not a fallback to the boot disk. */
        idx = 99;
        assert_int_equal(esp_select(l, 4, "dddddddd-0000-4000-8000-000000000004", "/dev/sda", &idx), -ENODEV);
        assert_int_equal(idx, 99);
        /* No loader: the boot disk's first ESP. */
        assert_int_equal(esp_select(l, 4, NULL, "/dev/sdc", &idx), 0);
        assert_int_equal(idx, 2);
        assert_int_equal(esp_select(l, 4, NULL, "/dev/sda", &idx), 0);
        assert_int_equal(idx, 0);
        /* Neither known: none at all. */
        assert_int_equal(esp_select(l, 4, NULL, NULL, &idx), -ENODEV);
        assert_int_equal(esp_select(l, 4, NULL, "/dev/sdz", &idx), -ENODEV);
        /* A removable disk never, whoever names it ... */
        assert_int_equal(esp_select(l, 4, "bbbbbbbb-0000-4000-8000-000000000002", NULL, &idx), -ENODEV);
        assert_int_equal(esp_select(l, 4, NULL, "/dev/sdb", &idx), -ENODEV);
        /* ... and that is the removable flag (control). */
        l[1].removable = false;
        assert_int_equal(esp_select(l, 4, "bbbbbbbb-0000-4000-8000-000000000002", NULL, &idx), 0);
        assert_int_equal(idx, 1);
}

/* A fake sysfs: vda (vda1 the ESP, vda2 root), dm-0 (crypt) on vda2, dm-1
 * (LVM) on dm-0, sdb a removable whole disk, nvme0n1 with p1. */
static void test_boot_disk_sysfs(void **state) {
        const char *dir = *state;
        sh(dir,
           "d=sys/devices/pci0000:00/virtio1/block && v=sys/devices/virtual/block && "
           "mkdir -p $d/vda/vda1 $d/vda/vda2 $v/dm-0/slaves $v/dm-1/slaves $d/sdb $d/nvme0n1/nvme0n1p1 sys/dev/block && "
           "printf 'MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n' >$d/vda/uevent && echo 0 >$d/vda/removable && "
           "printf 'MAJOR=254\nMINOR=2\nDEVNAME=vda2\nDEVTYPE=partition\n' >$d/vda/vda2/uevent && "
           "echo 2 >$d/vda/vda2/partition && "
           "printf 'DEVNAME=dm-0\nDEVTYPE=disk\n' >$v/dm-0/uevent && ln -s ../../../../pci0000:00/virtio1/block/vda/vda2 $v/dm-0/slaves/vda2 && "
           "printf 'DEVNAME=dm-1\nDEVTYPE=disk\n' >$v/dm-1/uevent && ln -s ../../dm-0 $v/dm-1/slaves/dm-0 && "
           "printf 'DEVNAME=sdb\nDEVTYPE=disk\n' >$d/sdb/uevent && echo 1 >$d/sdb/removable && "
           "printf 'DEVNAME=nvme0n1\nDEVTYPE=disk\n' >$d/nvme0n1/uevent && "
           "printf 'DEVNAME=nvme0n1p1\nDEVTYPE=partition\n' >$d/nvme0n1/nvme0n1p1/uevent && "
           "ln -s ../../devices/pci0000:00/virtio1/block/vda sys/dev/block/254:0 && "
           "ln -s ../../devices/pci0000:00/virtio1/block/vda/vda2 sys/dev/block/254:2 && "
           "ln -s ../../devices/virtual/block/dm-0 sys/dev/block/253:0 && "
           "ln -s ../../devices/virtual/block/dm-1 sys/dev/block/253:1 && "
           "ln -s ../../devices/pci0000:00/virtio1/block/sdb sys/dev/block/8:16 && "
           "ln -s ../../devices/pci0000:00/virtio1/block/nvme0n1/nvme0n1p1 sys/dev/block/259:1");
        char *sys = path_in(dir, "sys");
        int sys_fd = open(sys, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(sys_fd >= 0);
        const struct {
                unsigned maj, min;
                const char *want;
        } cases[] = {
                { 254, 2, "/dev/vda" }, { 254, 0, "/dev/vda" }, { 253, 0, "/dev/vda" },
                { 253, 1, "/dev/vda" }, { 8, 16, "/dev/sdb" },  { 259, 1, "/dev/nvme0n1" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *disk = NULL;
                assert_int_equal(esp_boot_disk_at(sys_fd, makedev(cases[i].maj, cases[i].min), &disk), 0);
                assert_string_equal(disk, cases[i].want);
                free(disk);
        }
        char *disk = NULL;
        assert_int_equal(esp_boot_disk_at(sys_fd, makedev(0, 42), &disk), -ENODEV); /* tmpfs, overlay */
        assert_null(disk);
        assert_true(esp_disk_removable_at(sys_fd, makedev(8, 16)));
        assert_false(esp_disk_removable_at(sys_fd, makedev(254, 0)));
        assert_false(esp_disk_removable_at(sys_fd, makedev(7, 7)));
        close(sys_fd);
        free(sys);
}

/* LoaderDevicePartUUID as efivarfs holds it: attributes, UTF-16LE, NUL. */
static void set_loader_var(const char *value) {
        char path[512];
        snprintf(path, sizeof path, "%s%s-%s", efi_dir, ESP_LOADER_PARTUUID_NAME, ESP_LOADER_GUID);
        unlink(path);
        if (!value)
                return;
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fwrite("\x06\0\0\0", 1, 4, f); /* BOOTSERVICE|RUNTIME: volatile, as systemd-boot sets it */
        for (const char *c = value; *c; c++) {
                fputc(*c, f);
                fputc(0, f);
        }
        fwrite("\0\0", 1, 2, f);
        fclose(f);
}

static void test_loader_partuuid(void **state) {
        char u[37] = "";
        set_loader_var(NULL);
        assert_int_equal(esp_loader_partuuid(u), -ENOENT);
        set_loader_var("4A67B082-0A4C-41CF-B6C7-440B29BB8C4F");
        assert_int_equal(esp_loader_partuuid(u), 0);
        assert_string_equal(u, "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f");
        set_loader_var("not-a-guid");
        assert_int_equal(esp_loader_partuuid(u), -EBADMSG);
        set_loader_var("4A67B082-0A4C-41CF-B6C7-440B29BB8C4FXX");
        assert_int_equal(esp_loader_partuuid(u), -EBADMSG);
        set_loader_var(NULL);
}

/* End to end over a GPT image: the loader names the image's ESP, so it is
 * the one taken (an image cannot be mounted: -ENXIO says it got that far);
 * the loader naming another partition leaves it unread (-ENODEV). */
static void test_take_only_the_loaders_esp(void **state) {
        const char *dir = *state;
        make_gpt_disk(dir, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        char *img = path_in(dir, "disk.img");
        char *disks[] = { img, NULL };
        EspPartition *l = NULL;
        size_t n = 0;
        assert_int_equal(esp_find(disks, &l, &n), 0);
        assert_false(l[0].removable); /* an image file */
        char upper[37];
        snprintf(upper, sizeof upper, "%s", l[0].uuid);
        for (char *c = upper; *c; c++)
                if (*c >= 'a' && *c <= 'f')
                        *c = (char) (*c - 'a' + 'A');
        esp_partitions_free(l, n);
        int root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(root_fd >= 0);
        EspRequest req;
        set_loader_var(upper);
        assert_int_equal(esp_take_request(NULL, root_fd, disks, &req), -ENXIO);
        set_loader_var("00000000-0000-4000-8000-000000000000");
        assert_int_equal(esp_take_request(NULL, root_fd, disks, &req), -ENODEV);
        set_loader_var(NULL);
        assert_int_equal(esp_take_request(NULL, root_fd, disks, &req), -ENODEV);
        close(root_fd);
        free(img);
}

static int run_all(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_select),
                cmocka_unit_test_setup_teardown(test_boot_disk_sysfs, setup, teardown),
                cmocka_unit_test(test_loader_partuuid),
                cmocka_unit_test_setup_teardown(test_take_only_the_loaders_esp, setup, teardown),
                cmocka_unit_test_setup_teardown(test_find_gpt_esp_by_type, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_types_are_not_esp, setup, teardown),
                cmocka_unit_test_setup_teardown(test_find_mbr_esp, setup, teardown),
                cmocka_unit_test(test_mountinfo),
                cmocka_unit_test(test_parse_request),
                cmocka_unit_test_setup_teardown(test_take_request_case_insensitive, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_requests_removed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_failure_keeps_request, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(int argc, char **argv) {
        char *top;
        if (unit_reexec_with_fake_efivarfs(argv, efi_dir, &top) < 0)
                return 1;
        int r = run_all();
        unit_rmdir(top);
        return r;
}
