/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood helpdesk enroll [--force]
 * lastgood helpdesk code --secret-file FILE [--counter N] [--count K] [--sha1]
 * lastgood helpdesk verify CODE
 *
 * enroll and verify act on this machine's secret (policy
 * safe_mode.secret_file beneath --root); code is the helpdesk's side and
 * reads a host file: the escrowed key, or a copy of a machine's secret file.
 */

#include <fcntl.h>
#include <getopt.h>

#include "agent/audit.h"
#include "agent/context.h"
#include "agent/helpdesk.h"
#include "agent/record.h"
#include "lib/encode.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/log.h"

#define CODE_COUNT_MAX 1000

static int helpdesk_enroll_cmd(Context *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                {},
        };
        bool force = false;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, "+f", options, NULL)) >= 0) {
                if (c != 'f')
                        return context_usage_error(ctx, "unknown option to 'enroll'");
                force = true;
        }
        if (optind != argc)
                return context_usage_error(ctx, "'enroll' takes no arguments");

        Policy *p;
        int r = context_policy(ctx, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to load the policy: %m");

        _cleanup_(helpdesk_secret_wipep) HelpdeskSecret s = {};
        r = helpdesk_enroll(ctx->root_fd, p, force, &s);
        if (r == -EEXIST) {
                log_error("A helpdesk secret already exists at %s. Re-enrolling invalidates the key the "
                          "helpdesk holds; use --force to do it anyway.",
                          p->safe_mode.secret_file);
                return EXIT_FAIL;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to write the helpdesk secret %s: %m", p->safe_mode.secret_file);
        {
                /* Who enrolled (a new secret invalidates the helpdesk's old
                 * key); never the key itself. */
                Event e = { .type = EVENT_HELPDESK_ENROLLED, .action = "enroll" };
                char msg[300];
                snprintf(msg, sizeof msg, "helpdesk secret %senrolled by %s", force ? "re-" : "",
                         audit_event_add(&e));
                e.message = msg;
                event_add(&e, "secret_file", p->safe_mode.secret_file);
                event_add(&e, "force", force ? "true" : "false");
                record_append(ctx->root_fd, &e);
        }

        _cleanup_(helpdesk_wipe_freep) char *hex = NULL, *b32 = NULL, *b32plain = NULL, *uri = NULL;
        r = hex_encode(s.key, s.key_len, &hex);
        if (r >= 0)
                r = helpdesk_key_to_base32(s.key, s.key_len, 4, &b32);
        if (r >= 0)
                r = helpdesk_key_to_base32(s.key, s.key_len, 0, &b32plain);
        if (r >= 0 && asprintf(&uri, "otpauth://hotp/lastgood?secret=%s&algorithm=%s&digits=%d&counter=%llu&issuer=lastgood",
                               b32plain, s.algorithm == HOTP_SHA1 ? "SHA1" : "SHA256", HOTP_DIGITS,
                               (unsigned long long) s.counter) < 0) {
                uri = NULL;
                r = -ENOMEM;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to format the key: %m");

        if (ctx->json) {
                JsonWriter w;
                json_init(&w, stdout);
                json_object_begin(&w);
                json_kv_string(&w, "secret_file", p->safe_mode.secret_file);
                json_kv_string(&w, "algorithm", hotp_algorithm_to_string(s.algorithm));
                json_kv_u64(&w, "digits", HOTP_DIGITS);
                json_kv_u64(&w, "counter", s.counter);
                json_kv_string(&w, "key_hex", hex);
                json_kv_string(&w, "key_base32", b32plain);
                json_kv_string(&w, "uri", uri);
                json_object_end(&w);
                putchar('\n');
        } else
                printf("Enrolled a new helpdesk secret in %s.\n"
                       "Escrow this key now (like a disk-encryption recovery key): it is not shown again.\n"
                       "\n"
                       "  algorithm  HOTP (RFC 4226), HMAC-SHA-256, %d digits, first counter %llu\n"
                       "  hex        %s\n"
                       "  base32     %s\n"
                       "  uri        %s\n"
                       "\n"
                       "The helpdesk reads out codes with:\n"
                       "  lastgood helpdesk code --secret-file KEYFILE --counter N\n",
                       p->safe_mode.secret_file, HOTP_DIGITS, (unsigned long long) s.counter, hex, b32, uri);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* Reads FILE (or stdin for "-"): a machine secret file, or an escrowed key
 * (hex or base32, '#' comment lines allowed). */
static int read_secret_file(const char *path, HelpdeskSecret *ret, bool *ret_has_counter) {
        _cleanup_close_ int fd =
                streq(path, "-") ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        _cleanup_(helpdesk_wipe_freep) char *buf = NULL;
        size_t len;
        int r = read_full_fd(fd, HELPDESK_FILE_MAX, &buf, &len);
        if (r < 0)
                return r;

        if (helpdesk_secret_parse(buf, len, ret) >= 0) {
                *ret_has_counter = true;
                return 0;
        }
        /* An escrow file: drop comment lines, parse the rest as one key. */
        char *w = buf;
        for (char *line = buf; line && *line;) {
                char *nl = strchr(line, '\n');
                size_t l = nl ? (size_t) (nl - line) + 1 : strlen(line);
                if (line[0] != '#') {
                        memmove(w, line, l);
                        w += l;
                }
                line = nl ? nl + 1 : NULL;
        }
        *w = '\0';
        _cleanup_(helpdesk_secret_wipep) HelpdeskSecret s = { .algorithm = HOTP_SHA256 };
        r = helpdesk_key_parse(buf, s.key, &s.key_len);
        if (r < 0)
                return r;
        *ret = s;
        *ret_has_counter = false;
        return 0;
}

static int helpdesk_code_cmd(Context *ctx, int argc, char **argv) {
        enum { ARG_SECRET_FILE = 0x100, ARG_COUNTER, ARG_COUNT, ARG_SHA1 };
        static const struct option options[] = {
                { "secret-file", required_argument, NULL, ARG_SECRET_FILE },
                { "counter", required_argument, NULL, ARG_COUNTER },
                { "count", required_argument, NULL, ARG_COUNT },
                { "sha1", no_argument, NULL, ARG_SHA1 },
                {},
        };
        const char *file = NULL;
        uint64_t counter = 0;
        uint32_t count = 1;
        bool have_counter = false, sha1 = false;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SECRET_FILE:
                        file = optarg;
                        break;
                case ARG_COUNTER:
                        if (parse_u64(optarg, &counter) < 0)
                                return context_usage_error(ctx, "--counter needs a non-negative integer");
                        have_counter = true;
                        break;
                case ARG_COUNT:
                        if (parse_u32_range(optarg, 1, CODE_COUNT_MAX, &count) < 0)
                                return context_usage_error(ctx, "--count needs an integer from 1 to 1000");
                        break;
                case ARG_SHA1:
                        sha1 = true;
                        break;
                default:
                        return context_usage_error(ctx, "unknown option to 'code'");
                }
        }
        if (optind != argc)
                return context_usage_error(ctx, "'code' takes no arguments");
        if (!file)
                return context_usage_error(ctx, "'code' needs --secret-file FILE");

        _cleanup_(helpdesk_secret_wipep) HelpdeskSecret s = {};
        bool file_counter = false;
        int r = read_secret_file(file, &s, &file_counter);
        if (r == -EBADMSG)
                return log_error_errno(r,
                                       "%s holds neither a lastgood secret file nor a hex or base32 key of "
                                       "16 to 64 bytes.",
                                       file);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", file);
        if (sha1)
                s.algorithm = HOTP_SHA1;
        if (have_counter)
                s.counter = counter;
        else if (!file_counter)
                log_notice("No --counter given: starting at 0.");
        if (s.counter > UINT64_MAX - count)
                return context_usage_error(ctx, "--counter is too large");

        JsonWriter w;
        if (ctx->json) {
                json_init(&w, stdout);
                json_array_begin(&w);
        }
        for (uint32_t i = 0; i < count; i++) {
                char code[HOTP_DIGITS_MAX + 1];
                r = hotp_code(s.algorithm, s.key, s.key_len, s.counter + i, HOTP_DIGITS, code);
                if (r < 0)
                        return log_error_errno(r, "Failed to compute the code: %m");
                if (ctx->json) {
                        json_object_begin(&w);
                        json_kv_u64(&w, "counter", s.counter + i);
                        json_kv_string(&w, "code", code);
                        json_object_end(&w);
                } else if (count == 1)
                        printf("%s\n", code);
                else
                        printf("%llu %s\n", (unsigned long long) (s.counter + i), code);
                explicit_bzero(code, sizeof code);
        }
        if (ctx->json) {
                json_array_end(&w);
                putchar('\n');
        }
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

static int helpdesk_verify_cmd(Context *ctx, int argc, char **argv) {
        if (argc != 2)
                return context_usage_error(ctx, "'verify' takes exactly one CODE");
        Policy *p;
        int r = context_policy(ctx, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to load the policy: %m");
        bool ok = false;
        r = helpdesk_verify_code(ctx->root_fd, p, argv[1], &ok);
        if (r == -ENOENT)
                return log_error_errno(r, "No helpdesk secret at %s: run 'lastgood helpdesk enroll' first.",
                                       p->safe_mode.secret_file),
                       EXIT_FAIL;
        if (r == -EPERM)
                return log_error_errno(r,
                                       "Refusing the helpdesk secret %s: it must be a regular file owned by "
                                       "root with mode 0600.",
                                       p->safe_mode.secret_file),
                       EXIT_FAIL;
        if (r < 0)
                return log_error_errno(r, "Failed to check the code against %s: %m", p->safe_mode.secret_file);
        if (ctx->json) {
                JsonWriter w;
                json_init(&w, stdout);
                json_object_begin(&w);
                json_kv_bool(&w, "accepted", ok);
                json_object_end(&w);
                putchar('\n');
        } else
                printf("%s\n", ok ? "Code accepted; it cannot be used again."
                                  : "Code refused (wrong, reused or malformed).");
        return ok ? EXIT_OK : EXIT_FAIL;
}

int verb_helpdesk(Context *ctx, int argc, char **argv) {
        if (argc < 2)
                return context_usage_error(ctx, "missing command");
        const char *cmd = argv[1];
        if (streq(cmd, "enroll"))
                return helpdesk_enroll_cmd(ctx, argc - 1, argv + 1);
        if (streq(cmd, "code"))
                return helpdesk_code_cmd(ctx, argc - 1, argv + 1);
        if (streq(cmd, "verify"))
                return helpdesk_verify_cmd(ctx, argc - 1, argv + 1);
        return context_usage_error(ctx, "unknown command '%s'", cmd);
}
