/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lastgood snapshot create [--force] [COMPONENT…]
 *                  list [COMPONENT] [--json]
 *                  verify [COMPONENT]
 *                  restore COMPONENT [ID]
 *                  import COMPONENT FILE
 *
 * Exit status: 0 ok; 1 failure (a snapshot failed verification, a restore or
 * import was refused, I/O errors); 2 usage (unknown component, bad args).
 * Every subcommand first finishes an interrupted restore, as `boot` does.
 */
#include <time.h>

#include "agent/audit.h"
#include "agent/context.h"
#include "agent/record.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/names.h"
#include "recovery/snapshot.h"

static void progress_tty(const char *what, uint64_t entries, uint64_t bytes, void *userdata) {
        fprintf(stderr, "\r%s: %llu entries, %llu MiB\033[K", what, (unsigned long long) entries,
                (unsigned long long) (bytes >> 20));
        *(bool *) userdata = true;
}

static void progress_end(bool *shown) {
        if (*shown)
                fputs("\r\033[K", stderr);
        *shown = false;
}

static void format_time(uint64_t usec, char buf[static 32]) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!usec || !gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
                strcpy(buf, "-");
}

/* The component named NAME, or NULL after a usage message. */
static const Component *find_component(const Policy *p, const char *name) {
        const Component *c = policy_find_component(p, name);
        if (!c)
                log_error("Unknown component '%s' (not in the policy).", name);
        else if (strv_length(c->content) == 0) {
                log_error("Component '%s' has no content paths in the policy.", name);
                return NULL;
        }
        return c;
}

/* The --json result of restore and import: {component, id[, replaced_content]}. */
static void print_json_result(const char *component, const char *id, const char *keep) {
        JsonWriter w;
        json_init(&w, stdout);
        json_object_begin(&w);
        json_kv_string(&w, "component", component);
        json_kv_string(&w, "id", id);
        if (keep)
                json_kv_string(&w, "replaced_content", keep);
        json_object_end(&w);
        putchar('\n');
}

/* The event of a restore or import done by hand, naming who did it. */
static void record_by_hand(Context *ctx, EventType type, const char *component, const char *id,
                           const char *what, const char *detail_key, const char *detail) {
        Event e = { .type = type,
                    .component = component,
                    .action = type == EVENT_SNAPSHOT_IMPORTED ? "import" : "restore" };
        char msg[512];
        snprintf(msg, sizeof msg, "%s snapshot %s by %s", what, id, audit_event_add(&e));
        e.message = msg;
        event_add(&e, "snapshot", id);
        event_add(&e, detail_key, detail);
        record_append(ctx->root_fd, &e);
}

static int do_create(Context *ctx, Policy *p, int argc, char **argv) {
        bool force = false;
        _cleanup_free_ const Component **list = calloc((size_t) argc + p->n_components + 1, sizeof(Component *));
        if (!list)
                return log_error_errno(-ENOMEM, "Out of memory");
        size_t n = 0;
        for (int i = 0; i < argc; i++) {
                if (streq(argv[i], "--force"))
                        force = true;
                else if (argv[i][0] == '-')
                        return context_usage_error(ctx, "create: unknown option '%s'", argv[i]);
                else if (!(list[n++] = find_component(p, argv[i])))
                        return EXIT_USAGE;
        }
        if (n == 0)
                for (size_t i = 0; i < p->n_components; i++)
                        if (strv_length(p->components[i].content) > 0)
                                list[n++] = &p->components[i];
        if (n == 0) {
                log_error("No component with content paths in the policy.");
                return EXIT_USAGE;
        }

        JsonWriter w;
        if (ctx->json) {
                json_init(&w, stdout);
                json_array_begin(&w);
        }
        int ret = EXIT_OK;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *id = NULL;
                bool created = true;
                int r = force ? snapshot_create(ctx->root_fd, p, list[i], &id)
                              : snapshot_create_if_changed(ctx->root_fd, p, list[i], /* not_after_usec= */ 0,
                                                           &created, &id, NULL);
                if (r < 0) {
                        log_error_errno(r, "Failed to snapshot component '%s': %m", list[i]->name);
                        ret = EXIT_FAIL;
                        continue;
                }
                if (ctx->json) {
                        json_object_begin(&w);
                        json_kv_string(&w, "component", list[i]->name);
                        json_kv_string(&w, "id", id);
                        json_kv_bool(&w, "created", created);
                        json_object_end(&w);
                } else if (created)
                        printf("%s: created snapshot %s\n", list[i]->name, id);
                else
                        printf("%s: unchanged since snapshot %s, none created\n", list[i]->name, id ?: "-");
        }
        if (ctx->json) {
                json_array_end(&w);
                putchar('\n');
        }
        return ret;
}

static int do_list(Context *ctx, Policy *p, int argc, char **argv) {
        if (argc > 1)
                return context_usage_error(ctx, "list: too many arguments");
        if (argc == 1 && !name_is_component(argv[0])) {
                log_error("Invalid component name '%s'.", argv[0]);
                return EXIT_USAGE;
        }
        SnapshotInfo *list;
        size_t n;
        int r = snapshot_list(ctx->root_fd, p, argc == 1 ? argv[0] : NULL, &list, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list snapshots: %m");
        if (ctx->json) {
                JsonWriter w;
                json_init(&w, stdout);
                json_array_begin(&w);
                for (size_t i = 0; i < n; i++) {
                        json_object_begin(&w);
                        json_kv_string(&w, "component", list[i].component);
                        json_kv_string(&w, "id", list[i].id);
                        json_kv_u64(&w, "created_usec", list[i].created_usec);
                        json_kv_u64(&w, "content_ctime_usec", list[i].content_ctime_usec);
                        json_kv_u64(&w, "size_bytes", list[i].size_bytes);
                        json_kv_u64(&w, "entries", list[i].n_entries);
                        json_kv_u64(&w, "expanded_bytes", list[i].expanded_bytes);
                        json_kv_string(&w, "compression", list[i].compression);
                        json_kv_string(&w, "source", list[i].source);
                        json_kv_bool(&w, "bad", list[i].bad);
                        json_kv_string(&w, "bad_reason", list[i].bad_reason);
                        json_object_end(&w);
                }
                json_array_end(&w);
                putchar('\n');
        } else if (n == 0)
                printf("No snapshots.\n");
        else {
                printf("%-16s %-20s %-21s %10s %8s %-6s %s\n", "COMPONENT", "ID", "CREATED", "SIZE",
                       "ENTRIES", "SOURCE", "STATUS");
                for (size_t i = 0; i < n; i++) {
                        char t[32];
                        format_time(list[i].created_usec, t);
                        printf("%-16s %-20s %-21s %10llu %8llu %-6s %s%s%s\n", list[i].component, list[i].id, t,
                               (unsigned long long) list[i].size_bytes, (unsigned long long) list[i].n_entries,
                               list[i].source ?: "-", list[i].bad ? "BAD" : "ok",
                               list[i].bad_reason ? ": " : "", list[i].bad_reason ?: "");
                }
        }
        snapshot_info_free(list, n);
        return EXIT_OK;
}

static int do_verify(Context *ctx, Policy *p, int argc, char **argv) {
        if (argc > 1)
                return context_usage_error(ctx, "verify: too many arguments");
        if (argc == 1 && !find_component(p, argv[0]))
                return EXIT_USAGE;
        SnapshotInfo *list;
        size_t n;
        int r = snapshot_list(ctx->root_fd, p, argc == 1 ? argv[0] : NULL, &list, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list snapshots: %m");
        JsonWriter w;
        if (ctx->json) {
                json_init(&w, stdout);
                json_array_begin(&w);
        }
        int ret = EXIT_OK;
        for (size_t i = 0; i < n; i++) {
                const Component *c = policy_find_component(p, list[i].component);
                if (!c) {
                        log_warning("Snapshot %s/%s belongs to no component of the policy, skipping",
                                    list[i].component, list[i].id);
                        continue;
                }
                r = snapshot_verify(ctx->root_fd, p, c, list[i].id);
                if (r < 0) {
                        if (r != -EBADMSG)
                                log_error_errno(r, "Failed to verify snapshot %s/%s: %m", c->name, list[i].id);
                        ret = EXIT_FAIL;
                }
                if (ctx->json) {
                        json_object_begin(&w);
                        json_kv_string(&w, "component", c->name);
                        json_kv_string(&w, "id", list[i].id);
                        json_kv_bool(&w, "ok", r >= 0);
                        json_object_end(&w);
                } else
                        printf("%s/%s: %s\n", c->name, list[i].id, r >= 0 ? "ok" : "FAILED");
        }
        if (ctx->json) {
                json_array_end(&w);
                putchar('\n');
        }
        snapshot_info_free(list, n);
        return ret;
}

static int do_restore(Context *ctx, Policy *p, int argc, char **argv) {
        if (argc < 1 || argc > 2)
                return context_usage_error(ctx, "restore takes COMPONENT [ID]");
        const Component *c = find_component(p, argv[0]);
        if (!c)
                return EXIT_USAGE;
        _cleanup_free_ char *keep = NULL, *id = NULL;
        int r = snapshot_default_keep_dir(c->name, &keep);
        if (r < 0)
                return log_error_errno(r, "Failed to name the keep directory: %m");
        r = snapshot_restore(ctx->root_fd, p, c, argc == 2 ? argv[1] : NULL, 0, keep, &id);
        if (r == -EINVAL && argc == 2) {
                log_error("Invalid snapshot id '%s'.", argv[1]);
                return EXIT_USAGE;
        }
        if (r == -ENOENT) {
                log_error("No usable snapshot of component '%s'%s%s.", c->name, argc == 2 ? " with id " : "",
                          argc == 2 ? argv[1] : "");
                return EXIT_FAIL;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to restore component '%s': %m", c->name);
                return EXIT_FAIL;
        }
        record_by_hand(ctx, EVENT_SNAPSHOT_RESTORED, c->name, id, "restored", "replaced_content", keep);
        if (ctx->json)
                print_json_result(c->name, id, keep);
        else
                printf("%s: restored snapshot %s; the replaced content is in %s\n", c->name, id, keep);
        return EXIT_OK;
}

static int do_import(Context *ctx, Policy *p, int argc, char **argv) {
        if (argc != 2)
                return context_usage_error(ctx, "import takes COMPONENT FILE");
        const Component *c = find_component(p, argv[0]);
        if (!c)
                return EXIT_USAGE;
        _cleanup_free_ char *id = NULL;
        int r = snapshot_import(ctx->root_fd, p, c, argv[1], &id);
        if (r < 0) {
                log_error_errno(r, "Failed to import '%s' for component '%s': %m", argv[1], c->name);
                return EXIT_FAIL;
        }
        record_by_hand(ctx, EVENT_SNAPSHOT_IMPORTED, c->name, id, "imported", "archive", argv[1]);
        if (ctx->json)
                print_json_result(c->name, id, NULL);
        else
                printf("%s: imported '%s' as snapshot %s\n", c->name, argv[1], id);
        return EXIT_OK;
}

int verb_snapshot(Context *ctx, int argc, char **argv) {
        static const struct {
                const char *name;
                int (*fn)(Context *ctx, Policy *p, int argc, char **argv);
        } subs[] = {
                { "create", do_create },   { "list", do_list },     { "verify", do_verify },
                { "restore", do_restore }, { "import", do_import },
        };
        const char *sub = argv[1];
        for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                if (!streq(subs[i].name, sub))
                        continue;
                /* Only create has an option: anything else that looks like
                 * one is a usage error, not a component name. */
                for (int j = 2; j < argc; j++)
                        if (argv[j][0] == '-' && argv[j][1] &&
                            !(streq(sub, "create") && streq(argv[j], "--force")))
                                return context_usage_error(ctx, "%s: unknown option '%s'", sub, argv[j]);
                Policy *p;
                int r = context_policy(ctx, &p);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the policy: %m");
                r = snapshot_recover_interrupted(ctx->root_fd, p);
                if (r < 0 && r != -EBUSY)
                        log_warning_errno(r, "Failed to recover an interrupted snapshot operation, ignoring: %m");
                bool shown = false;
                if (isatty(STDERR_FILENO))
                        snapshot_set_progress(progress_tty, &shown);
                r = subs[i].fn(ctx, p, argc - 2, argv + 2);
                progress_end(&shown);
                snapshot_set_progress(NULL, NULL);
                return r;
        }
        return context_usage_error(ctx, "unknown subcommand '%s'", sub);
}
