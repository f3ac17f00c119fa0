/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood — the command line: global options, the verb table, dispatch.
 * Each verb lives in agent/verb-<name>.c. A new verb is one row in verbs[]
 * (its synopsis and help text included): `lastgood --help`, `help VERB`,
 * `VERB --help`, usage errors and tests/integration/test-cli.sh take it
 * from there.
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
        const char *summary; /* one line in `lastgood --help` */
        /* The forms after "lastgood NAME ", one per line: shown by --help and
         * by every usage error. */
        const char *synopsis;
        /* The rest of `lastgood NAME --help`: what it does, options,
         * arguments, exit status. Usage errors never show it. */
        const char *help;
} Verb;

static int verb_help(Context *ctx, int argc, char **argv);

static const Verb verbs[] = {
        { "boot", 0, 0, verb_boot, "count this boot durably and decide its mode (early boot)", "",
          "Count this boot durably, weigh the evidence about a failed previous boot,\n"
          "and take the recovery step that is due (restore, quarantine, safe mode).\n"
          "Run once from the initramfs (lastgood --root /sysroot boot) and again by\n"
          "lastgood-boot.service, which only reports.\n"
          "\n"
          "Prints one line (with --json one object: mode, failed_boots, threshold,\n"
          "action, culprit, evidence).\n"
          "\n"
          "Exit status: 0, also after an internal error (logged to the kernel log and\n"
          "recorded), so that the boot goes on; 2 only for a usage error.\n" },
        { "confirm", 0, 0, verb_confirm, "run the health checks; on success mark this boot good", "",
          "Run the policy's health checks. When all pass, mark this boot good: the\n"
          "count resets, an incident ends, and changed content is snapshotted as\n"
          "known good.\n"
          "\n"
          "Exit status: 0 confirmed (or already confirmed); 1 a health check failed or\n"
          "the confirmation could not be recorded.\n" },
        { "status", 0, 0, verb_status, "show the boot count, mode, last action, policy errors", "",
          "Show the state store, the failed-boot count and threshold, this boot's\n"
          "mode, the incident and ladder step, the last action, the components'\n"
          "evidence, snapshots and quarantine, and the policy's errors. Read-only.\n"
          "With --json: the object described in docs/status.schema.json.\n"
          "\n"
          "Exit status: 0 shown; 1 the state could not be read.\n" },
        { "safe-mode", 1, 3, verb_safe_mode, "request (or cancel) safe mode for the next boot(s)",
          "--next-boot [--boots N] | --cancel",
          "Request safe mode (security components with safe_mode: disable kept from\n"
          "starting) for the next boot, or withdraw a pending request. Root on the\n"
          "running system needs no helpdesk code.\n"
          "\n"
          "Options:\n"
          "  --next-boot      request safe mode for the next boot\n"
          "  --boots N        ... for the next N boots (1-10)\n"
          "  --cancel         withdraw a pending request\n"
          "\n"
          "Exit status: 0 recorded; 1 the request could not be recorded; 2 usage.\n" },
        { "policy", 1, 4, verb_policy, "validate and print the effective policy", "check [--kernel KVER] [FILE]",
          "Validate the policy (the installed one beneath --root, the --policy file,\n"
          "or only FILE) and print the effective merged policy: YAML, or JSON with\n"
          "--json. Each problem is printed on stderr as FILE:LINE:COLUMN: message.\n"
          "Content paths, units and kernel modules the policy names but this machine\n"
          "(beneath --root) lacks are warned about, FILE:LINE:COLUMN: warning: …;\n"
          "warnings do not fail the check.\n"
          "\n"
          "Options:\n"
          "  --kernel KVER    look kernel modules up for KVER (default: the running\n"
          "                   kernel), in /lib/modules/KVER beneath --root (libkmod)\n"
          "\n"
          "Exit status: 0 valid; 2 the policy has problems, or usage.\n" },
        { "snapshot", 1, -1, verb_snapshot, "create, list, verify, restore or import known-good content",
          "create [--force] [COMPONENT…]\n"
          "list [COMPONENT]\n"
          "verify [COMPONENT]\n"
          "restore COMPONENT [ID]\n"
          "import COMPONENT FILE",
          "Manage known-good content snapshots (taken by confirm at each confirmed\n"
          "boot whose content changed).\n"
          "\n"
          "  create           snapshot the components (default: all) now; unchanged\n"
          "                   content makes none unless --force\n"
          "  list             list the snapshots\n"
          "  verify           check the archives against their manifests\n"
          "  restore          restore the newest (or the given) verified snapshot\n"
          "  import           take a tar, tar.gz or tar.zst archive (paths relative\n"
          "                   to /) as a known-good snapshot\n"
          "\n"
          "Exit status: 0 ok; 1 a snapshot failed verification, a restore or import\n"
          "was refused, or an I/O error; 2 unknown component or usage.\n" },
        { "quarantine", 1, 2, verb_quarantine, "list quarantined components, or release one",
          "list\n"
          "release COMPONENT",
          "  list             the quarantined components and what was done to each\n"
          "  release          undo exactly what the quarantine did (modules, units,\n"
          "                   content back to their prior bytes)\n"
          "\n"
          "Exit status: 0 ok; 1 not quarantined, or the release was refused or\n"
          "failed; 2 usage.\n" },
        { "log", 0, -1, verb_log, "show, verify, or forward the event log to the journal",
          "[-n N] [--since TIME] [--component NAME] [--type TYPE[,TYPE…]]\n"
          "verify\n"
          "forward",
          "Show the hash-chained event log (/var/lib/lastgood/events.jsonl), oldest\n"
          "first; verify its chain; or forward new events to the systemd journal.\n"
          "\n"
          "Filters (combinable; the last N are taken after the others):\n"
          "  -n, --lines N         only the last N matching events\n"
          "  --since TIME          events at or after TIME: YYYY-MM-DD,\n"
          "                        YYYY-MM-DDTHH:MM[:SS][Z] (UTC), or a duration\n"
          "                        before now: -2h, 1d, 30min\n"
          "  --component NAME      events about this component\n"
          "  --type TYPE[,TYPE…]   events of these types (repeatable)\n"
          "`log verify` always checks the whole chain; filters do not apply to it.\n"
          "\n"
          "Exit status: 0 shown, intact or forwarded; 1 the log could not be read, or\n"
          "is not intact; 2 usage (an unknown --type lists the valid ones).\n" },
        { "helpdesk", 1, -1, verb_helpdesk, "enroll the helpdesk secret; make or check one-time codes",
          "enroll [--force]\n"
          "code --secret-file FILE [--counter N] [--count K] [--sha1]\n"
          "verify CODE",
          "  enroll           create this machine's helpdesk secret and show it once\n"
          "                   (--force replaces an existing one)\n"
          "  code             the helpdesk's side: print the code(s) for counter N\n"
          "                   from the escrowed key FILE ('-': stdin); --sha1 uses\n"
          "                   HMAC-SHA-1\n"
          "  verify           check and consume a code on this machine, as boot does\n"
          "\n"
          "Exit status: 0 ok (verify: accepted); 1 refused or failed; 2 usage.\n" },
        { "profile", 1, 2, verb_profile, "list, enable or disable the shipped sensor profiles",
          "list\n"
          "enable NAME\n"
          "disable NAME",
          "Manage the profiles lastgood ships in /usr/share/lastgood/profiles/ (one\n"
          "policy drop-in per product).\n"
          "\n"
          "  list             each profile and its state: enabled, disabled, masked,\n"
          "                   overridden (a local file of that name), vendor-drop-in\n"
          "  enable           link /etc/lastgood/policy.d/NAME.yaml to the profile,\n"
          "                   after checking that the merged policy stays valid\n"
          "  disable          remove that link (only lastgood's own link)\n"
          "\n"
          "Exit status: 0 done or nothing to do; 1 refused (the policy would be\n"
          "invalid, or a local file or mask holds the name) or failed; 2 usage or\n"
          "unknown profile.\n" },
        { "help", 0, 1, verb_help, "show the help, or a verb's help", "[VERB]",
          "Show lastgood's help, or VERB's (the same as 'lastgood VERB --help').\n"
          "\n"
          "Exit status: 0 shown; 2 unknown verb.\n" },
};

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

/* "usage: lastgood NAME FORM" for each form, on F. */
static void verb_print_synopsis(const Verb *v, FILE *f, const char *first) {
        const char *s = v->synopsis ?: "";
        bool again = false;
        do {
                size_t n = strcspn(s, "\n");
                fprintf(f, "%s lastgood %s%s%.*s\n", again ? "      " : first, v->name, n > 0 ? " " : "",
                        (int) n, s);
                s += n;
                again = true;
        } while (*s++ == '\n');
}

static void verb_print_help(const Verb *v) {
        verb_print_synopsis(v, stdout, "Usage:");
        printf("\n%s", v->help ?: "");
        printf("\nGlobal options (--root, --policy, --json, …): see 'lastgood --help'.\n");
}

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
               "  --json           machine-readable output (accepted anywhere on the line)\n"
               "  -v, --verbose    more output (repeat for debug)\n"
               "  -h, --help       this help; 'lastgood VERB --help' or 'lastgood help VERB'\n"
               "                   for a verb's\n"
               "      --version    version\n"
               "\n"
               "Exit status: 0 success; 1 failure (e.g. a health check failed); 2 usage or\n"
               "policy error. `boot` always exits 0 so that the boot goes on.\n"
               "See lastgood(8) and lastgood-policy(5).\n");
}

static int verb_help(Context *ctx, int argc, char **argv) {
        if (argc < 2) {
                help();
                return EXIT_OK;
        }
        const Verb *v = verb_find(argv[1]);
        if (!v)
                return context_usage_error(ctx, "unknown verb '%s'", argv[1]);
        verb_print_help(v);
        return EXIT_OK;
}

/* `VERB --help` / `VERB -h` anywhere among the verb's arguments (up to a
 * "--"), looked for before the verb's own option parsing runs. */
static bool verb_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
                if (streq(argv[i], "--help") || streq(argv[i], "-h"))
                        return true;
        return false;
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
        const Verb *verb = verb_find(name);
        if (!verb) {
                fprintf(stderr, "lastgood: unknown verb '%s'. Try 'lastgood --help'.\n", name);
                return EXIT_USAGE;
        }
        ctx.verb = verb->name;
        int nargs = argc - optind - 1;
        char **vargv = argv + (argc - nargs - 1);
        if (verb_wants_help(nargs + 1, vargv)) {
                verb_print_help(verb);
                return EXIT_OK;
        }
        if (nargs < verb->min_args || (verb->max_args >= 0 && nargs > verb->max_args)) {
                fprintf(stderr, "lastgood %s: too %s arguments.\n", name, nargs < verb->min_args ? "few" : "many");
                verb_print_synopsis(verb, stderr, "usage:");
                return EXIT_USAGE;
        }
        /* Needs no root, and must work when --root is wrong. */
        if (verb->fn == verb_help) {
                int r = verb_help(&ctx, nargs + 1, vargv);
                if (ctx.usage_error)
                        verb_print_synopsis(verb, stderr, "usage:");
                return r;
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

        optind = 0; /* verbs may run getopt again on their own argv */
        r = verb->fn(&ctx, nargs + 1, vargv);
        /* A usage error (context_usage_error()) shows the verb's forms,
         * never its description. */
        if (ctx.usage_error)
                verb_print_synopsis(verb, stderr, "usage:");

        if (ctx.policy_loaded)
                policy_done(&ctx.policy);
        closep(&ctx.root_fd);
        closep(&ctx.runtime_fd);
        log_close();
        if (r < 0)
                return EXIT_FAIL;
        return r;
}
