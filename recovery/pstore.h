/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel's crash records (pstore): what crashed the previous boot.
 *
 * A kernel oops or panic is dumped by pstore into a backend (efi-pstore:
 * UEFI variables; ramoops: reserved RAM) and shows up on the next boot as
 * files in /sys/fs/pstore: dmesg-efi-<id>, dmesg-ramoops-<n>, … Each file is
 * one part of one dump: a header line "Panic#2 Part1" (reason, dump count,
 * part), then kernel log lines "<4>[    3.82] …". Part1 holds the newest
 * lines; one dump is split into ~1 KiB parts by efi-pstore. With oops=panic,
 * one crash gives two dumps: "Oops#1" and "Panic#2". The efi id encodes
 * (time * 100 + part) * 1000 + count; tests/fixtures/pstore/README.md shows
 * real records from Debian's 6.1 kernel.
 *
 * Records are hostile input (a corrupt NVRAM, a crafted file in --pstore):
 * every read is capped, every string kept is cut and made printable ASCII,
 * and parsing never trusts a length or a number it reads.
 *
 * This module only reads: the parser (pstore_parse_records()) is pure, and
 * pstore_read() feeds it from a directory. Archiving the records and
 * clearing them from pstore is crash-archive.h.
 */

#include <stdint.h>

#include "lib/util.h"

#define PSTORE_RECORD_MAX (1024u * 1024u)      /* bytes read per record */
#define PSTORE_TOTAL_MAX (16u * 1024u * 1024u) /* bytes read over all records */
#define PSTORE_RECORDS_MAX 64                  /* records parsed (the newest) */
#define PSTORE_CANDIDATES_MAX 1024             /* directory entries considered */
#define PSTORE_MODULES_MAX 512                 /* "Modules linked in:" entries kept */
#define PSTORE_FRAMES_MAX 128                  /* call-trace frames kept */
#define PSTORE_COMM_MAX 15                     /* TASK_COMM_LEN - 1: the kernel cuts a comm here */

typedef struct CrashModule {
        char *name;     /* as printed: "fakesensor" */
        char flags[16]; /* inside the parentheses: "OE+", or "" */
        bool loading;   /* '+': its init was running when the kernel died */
        bool unloading; /* '-' */
} CrashModule;

/* One line of the fatal block's call trace. */
typedef struct CrashFrame {
        char *module;   /* "fakesensor" from "fakesensor_init+0xc6/0x1000 [fakesensor]"; NULL: core kernel */
        char *bpf_prog; /* "falcon_x" from "bpf_prog_6deef7357e7b4530_falcon_x+0x…"; NULL: not BPF */
        bool reliable;  /* not '?'-marked (a '?' frame is a stale address found on the stack) */
} CrashFrame;

/*
 * One dump: all the parts of one "<Reason>#<count>".
 *
 * The crash fields (reason … last_unloaded) come from the dump's fatal
 * block only: its last oops or panic report, from the report's header
 * ("BUG: …", "Oops: …", "general protection fault …", "Kernel panic - not
 * syncing: …", …) through its CPU line, RIP, call trace, "Modules linked
 * in:" and "---[ end trace …" / "Kernel panic" line. A line anywhere else
 * in the dump is never read into them, whatever it says (see the comment
 * above the parser in pstore.c for what a local user can and cannot put
 * into the fatal block).
 */
typedef struct CrashEvent {
        char *kind;        /* header reason: "Panic", "Oops", …; NULL: the record had no header */
        uint32_t count;    /* the dump count ("#2") */
        uint64_t time_sec; /* realtime seconds the dump was written (efi id, ramoops header or
                              * file mtime); 0 when unknown */
        char **files;      /* the record files, Part1 (newest text) first */
        uint32_t n_parts;
        bool incomplete;    /* parts missing below the highest, or a part was cut at the cap */
        bool fatal_block;   /* an oops or panic report was found: the fields below describe the last one */
        uint32_t n_reports; /* oops and panic reports in the dump (the last is the fatal block) */
        uint32_t n_ignored; /* lines that look like oops lines but are not part of the fatal block's
                              * structure (another report, user space, out of order) */
        char *reason;       /* "Kernel panic - not syncing: Fatal exception" */
        char *oops; /* "BUG: kernel NULL pointer dereference, …", "general protection fault…", … */
        char *rip;  /* "fs_parse_rules+0x2d/0xf40" (kernel-mode RIP/pc only) */
        char *fault_module; /* "fakesensor" from "RIP: …[fakesensor]"; NULL: core kernel or unknown */
        char *fault_bpf;    /* "falcon_x" when the RIP is in BPF program bpf_prog_<tag>_falcon_x */
        char *comm;         /* "insmod"; at most PSTORE_COMM_MAX bytes as the kernel cut it */
        uint32_t pid;
        bool has_pid;
        char *taint;          /* taint letters of the CPU line ("GOE"); "" for "Not tainted"; NULL unknown */
        char *kernel_release; /* "6.1.0-56-amd64" */
        CrashFrame *frames;   /* the call trace, innermost first */
        size_t n_frames;
        CrashModule *modules;
        size_t n_modules;
        bool modules_listed; /* a "Modules linked in:" line was seen */
        char *last_unloaded;
} CrashEvent;

typedef struct CrashReport {
        bool found;         /* at least one dmesg record was read */
        size_t n_records;   /* records parsed */
        size_t n_skipped;   /* not regular files, unreadable, or beyond the caps */
        CrashEvent *events; /* newest first */
        size_t n_events;
} CrashReport;

void crash_report_done(CrashReport *r);

/*
 * Reads the dmesg-* records in DIR (a host path, /sys/fs/pstore or --pstore),
 * at most PSTORE_RECORDS_MAX of them (the newest), each capped at
 * PSTORE_RECORD_MAX; symlinks and non-regular files are skipped (O_NOFOLLOW),
 * ".enc.z" records (the kernel could not decompress them) are inflated when
 * they are deflate data. A missing DIR means no records (found=false).
 * Returns 0, or a negative errno for a real I/O error on the directory.
 */
int pstore_read(const char *dir, CrashReport *ret) _wur_;

/* One record in memory: what pstore_read() hands to the parser (tests, fuzzing). */
typedef struct PstoreRecord {
        const char *name; /* "dmesg-efi-179560510201001" */
        const char *data; /* need not be NUL-terminated; may contain NULs */
        size_t len;
        uint64_t mtime_sec; /* pstorefs sets it to the dump time; 0 unknown */
        bool truncated;     /* cut at the cap while reading */
} PstoreRecord;

/* Groups RECORDS into dumps and parses them. Returns 0 or -ENOMEM. */
int pstore_parse_records(const PstoreRecord *records, size_t n, CrashReport *ret) _wur_;

/*
 * How strongly the crash that killed the machine names a component.
 *
 * Only the fatal block of the newest dump counts (CrashEvent). STRONG: the
 * RIP is in one of its modules or BPF programs, or the crashing task
 * (Comm:) is one of its processes, or the kernel panicked with one of its
 * panic messages (the audit subsystem's, for auditd's rules). MEDIUM: a reliable (not '?') call-trace
 * frame is in one of its modules or BPF programs. WEAK — never enough on
 * its own to quarantine or enter safe mode: one of its modules was being
 * loaded ('+') or is listed in "Modules linked in:". Taint flags name no
 * component and are never evidence.
 */
typedef enum CrashStrength {
        CRASH_STRENGTH_NONE,
        CRASH_STRENGTH_WEAK,
        CRASH_STRENGTH_MEDIUM,
        CRASH_STRENGTH_STRONG,
} CrashStrength;
const char *crash_strength_to_string(CrashStrength s); /* "none", "weak", "medium", "strong" */

/* What names a component in a crash record: shell globs (fnmatch), any list
 * may be NULL. kernel_modules: '-' and '_' alike; processes: matched against
 * Comm:, a pattern matching a comm the kernel cut at PSTORE_COMM_MAX on its
 * first PSTORE_COMM_MAX characters; bpf_programs: matched against <name> of
 * bpf_prog_<tag>_<name>. */
typedef struct CrashIdentity {
        char *const *kernel_modules;
        char *const *processes;
        char *const *bpf_programs;
        char *const *panic_messages; /* the fatal block's "Kernel panic - not syncing: MESSAGE" */
} CrashIdentity;

typedef struct CrashVerdict {
        CrashStrength strength; /* the strongest evidence naming the identity */
        /* The newest dump has a fatal block and it names the identity at most
         * weakly: the record points elsewhere (at points_at). */
        bool cleared;
        /* Every piece of evidence, strongest first, "; "-separated: "RIP in
         * falcon_lsm_pinned_16306 (strong); falcon_lsm_pinned_16306 was being
         * loaded (weak)"; when cleared it starts "cleared: the crash was in
         * the core kernel (swapper/0)". "" when there is nothing to say. */
        char why[320];
        char points_at[128]; /* "the core kernel (swapper/0)", "other_driver (kworker/3:1)"; "" no fatal block */
} CrashVerdict;

/* Weighs the fatal block of R's newest dump against ID (NULL: names nothing). Pure. */
void pstore_weigh(const CrashReport *r, const CrashIdentity *id, CrashVerdict *ret);

/* What the fatal block of R's newest dump names: "the core kernel
 * (swapper/0)", "fakesensor (insmod)", "BPF program falcon_x (falcon-sensor-b)".
 * Returns false (BUF "") when there is no fatal block. */
bool pstore_points_at(const CrashReport *r, char *buf, size_t size);

/* One line for logs and events, e.g. "Panic#2: Kernel panic - not syncing:
 * Fatal exception; BUG: kernel NULL pointer dereference, address: …; RIP
 * fs_parse_rules+0x2d/0xf40 [fakesensor]; loading fakesensor; insmod[89];
 * taint GOE". Returns BUF. */
const char *crash_report_summary(const CrashReport *r, char *buf, size_t size);

/* The dmesg-* files of a pstore directory (pstore_read() and the crash
 * archive, crash-archive.h, read them the same way). */
typedef struct PstoreFile {
        char *name;
        uint64_t time_sec; /* the dump time: from the efi id, else the file's mtime; 0 unknown */
} PstoreFile;
void pstore_files_free(PstoreFile *f, size_t n);

/* The dmesg-* regular files of the directory DFD, newest first, at most
 * PSTORE_CANDIDATES_MAX; symlinks, other file types and the excess are
 * counted in *ret_skipped and otherwise left alone. */
int pstore_list_files(int dfd, PstoreFile **ret, size_t *ret_n, size_t *ret_skipped) _wur_;

/* Reads at most CAP bytes of NAME in DFD, never through a symlink and only
 * from a regular file (-EBADF otherwise); *ret_truncated when there was
 * more. *ret_mtime_sec (optional): the file's mtime, 0 unknown. */
int pstore_read_file(int dfd, const char *name, size_t cap, char **ret, size_t *ret_len, bool *ret_truncated,
                     uint64_t *ret_mtime_sec) _wur_;
