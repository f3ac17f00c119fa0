/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the crash record parser: hostile pstore records, as
 * pstore_read() hands them over. The input is split into records at "\n\x1e\n";
 * a record starting with \x1f is named "….enc.z" (inflated first), one
 * starting with \x1d is a ramoops record; the others are efi records whose
 * ids give them a time, a part and a count. Then attribution, the summary and
 * the evidence run on the result, and every string kept must be printable.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz-pstore.c recovery/pstore.c agent/eventlog.c lib/util.c lib/log.c \
 *     lib/fileio.c lib/rootfs.c lib/json.c lib/fault.c $(pkg-config --cflags --libs nettle zlib) \
 *     -o fuzz-pstore
 *   ./fuzz-pstore -max_total_time=60 tests/fuzz/corpus/pstore
 */
#include <stdio.h>

#include "agent/eventlog.h"
#include "agent/record.h"
#include "recovery/pstore.h"

#define MAX_RECORDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PstoreRecord recs[MAX_RECORDS];
        char names[MAX_RECORDS][64];
        size_t n = 0;
        const char *p = (const char *) data, *end = p + size;

        while (p <= end && n < MAX_RECORDS) {
                const char *sep = memmem(p, (size_t) (end - p), "\n\x1e\n", 3);
                const char *stop = sep ? sep + 1 : end; /* keep the record's last newline */
                PstoreRecord *r = &recs[n];
                const char *body = p;
                unsigned long long id = (1700000000ULL + n / 4) * 100000ULL + (n % 4 + 1) * 1000ULL + 1 + n / 8;
                if (body < stop && *body == '\x1f') {
                        body++;
                        snprintf(names[n], sizeof names[n], "dmesg-efi-%llu.enc.z", id);
                } else if (body < stop && *body == '\x1d') {
                        body++;
                        snprintf(names[n], sizeof names[n], "dmesg-ramoops-%zu", n);
                } else
                        snprintf(names[n], sizeof names[n], "dmesg-efi-%llu", id);
                *r = (PstoreRecord) {
                        .name = names[n],
                        .data = body,
                        .len = (size_t) (stop - body),
                        .mtime_sec = n & 1 ? 1700000000 + n : 0,
                        .truncated = n == 7,
                };
                n++;
                if (!sep)
                        break;
                p = sep + 3;
        }

        CrashReport rep;
        if (pstore_parse_records(recs, n, &rep) < 0)
                return 0;
        if (rep.n_events > n || (n > 0) != rep.found)
                abort();
        size_t parts = 0;
        for (size_t i = 0; i < rep.n_events; i++) {
                const CrashEvent *ev = &rep.events[i];
                if (strv_length(ev->files) != ev->n_parts || ev->n_modules > PSTORE_MODULES_MAX)
                        abort();
                parts += ev->n_parts;
                const char *s[] = { ev->kind,          ev->reason,   ev->oops,  ev->rip,
                                    ev->fault_module,  ev->comm,     ev->taint, ev->kernel_release,
                                    ev->last_unloaded, ev->fault_bpf };
                for (size_t k = 0; k < ELEMENTSOF(s); k++)
                        check_printable(s[k]);
                for (size_t k = 0; k < ev->n_modules; k++)
                        check_printable(ev->modules[k].name);
                for (char **f = ev->files; f && *f; f++)
                        check_printable(*f);
        }
        if (parts != n)
                abort(); /* every record lands in exactly one dump */

        char *mods[] = { "fakesensor", "other-driver", "a*", NULL };
        char *procs[] = { "falcon-sensor-bpf", "sh", NULL };
        char *progs[] = { "falcon_*", NULL };
        CrashIdentity id = { .kernel_modules = mods, .processes = procs, .bpf_programs = progs };
        CrashVerdict v;
        pstore_weigh(&rep, &id, &v);
        check_printable(v.why);
        check_printable(v.points_at);
        if (v.strength > CRASH_STRENGTH_STRONG || (v.strength != CRASH_STRENGTH_NONE && !v.why[0]) ||
            (v.cleared && v.strength >= CRASH_STRENGTH_MEDIUM))
                abort();
        for (size_t i = 0; i < rep.n_events; i++) {
                const CrashEvent *ev = &rep.events[i];
                if (ev->n_frames > PSTORE_FRAMES_MAX || (ev->comm && strlen(ev->comm) > 2 * PSTORE_COMM_MAX + 1))
                        abort();
                for (size_t k = 0; k < ev->n_frames; k++) {
                        check_printable(ev->frames[k].module);
                        check_printable(ev->frames[k].bpf_prog);
                }
        }
        char buf[512];
        crash_report_summary(&rep, buf, sizeof buf);
        check_printable(buf);
        Event e = { .type = EVENT_CRASH_RECORD, .message = buf };
        record_add_crash_evidence(&e, &rep, &v);
        crash_report_done(&rep);
        return 0;
}
