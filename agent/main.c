/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood — the command line: global options, the verb table, dispatch.
 * Each verb lives in agent/verb-<name>.c.
 */

#include <getopt.h>

#include "agent/context.h"
#include "lib/log.h"
#include "lib/rootfs.h"


typedef struct Verb {
        const char *name;
        int min_args; /* not counting the verb itself */
        int max_args; /* -1: any */
        VerbFn fn;
        const char *summary;
} Verb;

static const Verb verbs[] = {
        { "boot", 0, 0, verb_boot, "count this boot durably and decide its mode (early boot)" },
        { "confirm", 0, 0, verb_confirm, "run the health checks; on success mark this boot good" },
        { "status", 0, 0, verb_status, "show the boot count, mode, last action, policy errors" },
        { "safe-mode", 1, 3, verb_safe_mode, "--next-boot [--boots N] | --cancel" },
        { "policy", 1, 2, verb_policy, "check [FILE]: validate and print the effective policy" },
        { "snapshot", 1, -1, verb_snapshot, "create|list|verify|restore|import known-good content" },
        { "quarantine", 1, 2, verb_quarantine, "list | release COMPONENT" },
        { "log", 0, 1, verb_log, "[verify|forward]: show, verify, or forward the event log to the journal" },
        { "helpdesk", 1, -1, verb_helpdesk,
          "enroll [--force] | code --secret-file F [--counter N] [--count N] [--sha1] | verify CODE" },
};

static void help(void) {
        printf("Usage: lastgood [OPTIONS] VERB [ARGS…]\n"
               "\n"
               "Crash-loop boot recovery: counts boots that never reached \"confirmed good\",\n"
               "and after repeated failures restores, then quarantines, the security\n"
               "component that broke the boot, then falls back to a one-boot safe mode.\n"
               "\n"
               "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-11s %s\n", verbs[i].name, verbs[i].summary);
        printf("\n"
               "Options:\n"
               "  --root DIR       operate on the system mounted at DIR (default /)\n"
               "  --runtime-root DIR  whose /run receives runtime (one-boot) configuration;\n"
               "                   the initramfs passes / (its /run moves to the real root)\n"
               "  --policy FILE    read only this policy file (default\n"
               "                   /etc/lastgood/policy.yaml + policy.d/*.yaml under the root)\n"
               "  --pstore DIR     crash records directory (default /sys/fs/pstore)\n"
               "  --cmdline STR    kernel command line to use instead of /proc/cmdline\n"
               "  --esp DIR        a mounted EFI system partition (default: found with libblkid)\n"
               "  --json           machine-readable output\n"
               "  -v, --verbose    more output (repeat for debug)\n"
               "  -h, --help       this help\n"
               "      --version    version\n"
               "\n"
               "Exit status: 0 success; 1 failure (e.g. a health check failed); 2 usage or\n"
               "policy error. `boot` always exits 0 so that the boot goes on.\n"
               "See lastgood(8) and lastgood-policy(5).\n");
}

int main(int argc, char **argv) {
        enum {
                ARG_ROOT = 0x100,
                ARG_RUNTIME_ROOT,
                ARG_POLICY,
                ARG_PSTORE,
                ARG_CMDLINE,
                ARG_ESP,
                ARG_JSON,
                ARG_VERSION
        };
        static const struct option options[] = {
                { "root", required_argument, NULL, ARG_ROOT },
                { "runtime-root", required_argument, NULL, ARG_RUNTIME_ROOT },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "pstore", required_argument, NULL, ARG_PSTORE },
                { "cmdline", required_argument, NULL, ARG_CMDLINE },
                { "esp", required_argument, NULL, ARG_ESP },
                { "json", no_argument, NULL, ARG_JSON },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        Context ctx = {
                .root_dir = "/",
                .root_fd = -1,
                .runtime_fd = -1,
                .pstore_dir = "/sys/fs/pstore",
        };

        /* --json is accepted anywhere on the line ("lastgood status --json"). */
        int n = 1;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--json"))
                        ctx.json = true;
                else
                        argv[n++] = argv[i];
        }
        argc = n;
        argv[argc] = NULL;

        int c;
        while ((c = getopt_long(argc, argv, "+vh", options, NULL)) >= 0) {
                switch (c) {
                case ARG_ROOT:
                        ctx.root_dir = optarg;
                        break;
                case ARG_RUNTIME_ROOT:
                        ctx.runtime_root = optarg;
                        break;
                case ARG_POLICY:
                        ctx.policy_path = optarg;
                        break;
                case ARG_PSTORE:
                        ctx.pstore_dir = optarg;
                        break;
                case ARG_CMDLINE:
                        ctx.cmdline = optarg;
                        break;
                case ARG_ESP:
                        ctx.esp_dir = optarg;
                        break;
                case 'v':
                        ctx.verbose++;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                case ARG_VERSION:
                        printf("lastgood %s\n", LASTGOOD_VERSION);
                        return EXIT_OK;
                default:
                        fprintf(stderr, "Try 'lastgood --help'.\n");
                        return EXIT_USAGE;
                }
        }
        log_set_max_level(ctx.verbose >= 2 ? LOG_LVL_DEBUG : ctx.verbose ? LOG_LVL_INFO : LOG_LVL_NOTICE);

        if (optind >= argc) {
                fprintf(stderr, "lastgood: missing verb. Try 'lastgood --help'.\n");
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        const Verb *verb = NULL;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        verb = &verbs[i];
        if (!verb) {
                fprintf(stderr, "lastgood: unknown verb '%s'. Try 'lastgood --help'.\n", name);
                return EXIT_USAGE;
        }
        int nargs = argc - optind - 1;
        if (nargs < verb->min_args || (verb->max_args >= 0 && nargs > verb->max_args)) {
                fprintf(stderr, "lastgood %s: %s arguments (usage: lastgood %s %s).\n", name,
                        nargs < verb->min_args ? "too few" : "too many", name, verb->summary);
                return EXIT_USAGE;
        }

        /* `boot` must never stop a boot: it logs to the kernel log as well. */
        if (streq(name, "boot"))
                log_open_kmsg();

        int r = root_open(ctx.root_dir, &ctx.root_fd);
        if (r < 0) {
                log_error_errno(r, "Failed to open root directory '%s': %m", ctx.root_dir);
                return streq(name, "boot") ? EXIT_OK : EXIT_USAGE;
        }

        r = root_open(ctx.runtime_root ?: ctx.root_dir, &ctx.runtime_fd);
        if (r < 0) {
                log_error_errno(r, "Failed to open runtime root '%s': %m", ctx.runtime_root);
                return streq(name, "boot") ? EXIT_OK : EXIT_USAGE;
        }

        char **vargv = argv + (argc - nargs - 1);
        optind = 0; /* verbs may run getopt again on their own argv */
        r = verb->fn(&ctx, nargs + 1, vargv);

        if (ctx.policy_loaded)
                policy_done(&ctx.policy);
        closep(&ctx.root_fd);
        closep(&ctx.runtime_fd);
        log_close();
        if (r < 0)
                return EXIT_FAIL;
        return r;
}
