/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the event log reader: the input is a whole
 * events.jsonl (hostile: edited, truncated, binary). It is verified as a file
 * (streaming, from a memfd), each line is parsed on its own, and the tail is
 * analysed the way eventlog_append() does before it chains a new line.
 * A log that verifies must consist of lines that all parse.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz-eventlog.c agent/eventlog.c lib/util.c lib/log.c lib/fileio.c \
 *     lib/rootfs.c lib/json.c lib/fault.c $(pkg-config --cflags --libs nettle) -o fuzz-eventlog
 *   ./fuzz-eventlog -max_total_time=60 tests/fuzz/corpus/eventlog
 */
#include <stdio.h>
#include <sys/mman.h>

#include "agent/eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *) data;

        /* line by line */
        size_t bad = 0, lines = 0;
        for (const char *p = buf, *end = buf + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = (size_t) ((nl ? nl : end) - p);
                EventRecord r;
                if (eventlog_parse_line(p, len, &r) == 0) {
                        if (!r.type_name || !r.time || !r.message || strlen(r.prev) != 64)
                                abort();
                        /* the name maps to a type of the table, or to none */
                        if (r.type != _EVENT_TYPE_INVALID && !streq(event_type_to_string(r.type), r.type_name))
                                abort();
                        event_record_done(&r);
                } else
                        bad++;
                lines++;
                p += len + (nl ? 1 : 0);
        }

        /* the whole file, streaming */
        int fd = memfd_create("events", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (size > 0 && write(fd, data, size) != (ssize_t) size) {
                close(fd);
                return 0;
        }
        (void) lseek(fd, 0, SEEK_SET);
        size_t n = 0;
        char *problem = NULL;
        int r = eventlog_verify_fd(fd, &n, &problem);
        close(fd);
        if (r == 0 && (bad > 0 || problem || n != lines))
                abort();
        if (r == 1 && !problem)
                abort();
        free(problem);

        /* the tail, as a window that does and does not reach the start */
        EventLogTail t;
        for (int at_start = 0; at_start <= 1; at_start++) {
                eventlog_tail_analyze(buf, size, at_start, &t);
                if (t.torn_bytes > size ||
                    (t.last_line && (t.last_line < buf || t.last_line + t.last_len > buf + size)))
                        abort();
        }
        return 0;
}
