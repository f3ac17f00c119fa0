/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The floor for the healthy boot path: exactly the durable work lastgood's
 * `boot` must do and nothing else — read a small record, write a temp file in
 * the same directory, fsync it, rename it over the record, fsync the
 * directory. A lower bound no real implementation can beat.
 *
 *   floor DIR
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc != 2)
                return 2;
        int dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return 1;
        unsigned char rec[384] = { 0 };
        int fd = openat(dfd, "state", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (read(fd, rec, sizeof rec) < 0)
                        return 1;
                close(fd);
        }
        rec[0]++;
        fd = openat(dfd, ".state.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, rec, sizeof rec) != (ssize_t) sizeof rec || fsync(fd) < 0 || close(fd) < 0)
                return 1;
        if (renameat(dfd, ".state.tmp", dfd, "state") < 0 || fsync(dfd) < 0)
                return 1;
        return 0;
}
