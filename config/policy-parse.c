/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading one policy file. The file is hostile until checked:
 *
 *  - libyaml's event API only (its document loader follows aliases, which can
 *    form cycles or billion-laughs expansions, and has no depth limit);
 *  - the events build a small tree, refused early past POLICY_MAX_DEPTH
 *    levels (libyaml itself has no limit: 200k nested '[' costs it ~100 s if
 *    it is allowed to finish), with anchors, aliases, tags, NUL bytes and
 *    more than one document refused;
 *  - the tree is then checked against a fixed schema: unknown and duplicate
 *    keys are errors (libyaml accepts duplicates silently), every value is
 *    type- and range-checked, and every problem is reported with its
 *    position, keeping going after a bad value (but not after a syntax
 *    error, where positions stop meaning anything);
 *  - the values land in a scratch copy of the policy that replaces the real
 *    one only when the file had no error at all.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <yaml.h>

#include "config/policy-internal.h"
#include "lib/fileio.h"
#include "lib/dlib.h"
#include "lib/names.h"
#include "lib/paths.h"
#include "lib/rootfs.h"

/* ---- the tree ---------------------------------------------------------- */

typedef enum YNodeType {
        YNODE_SCALAR,
        YNODE_SEQUENCE,
        YNODE_MAPPING,
} YNodeType;

typedef struct YNode {
        YNodeType type;
        bool bad;         /* already reported (anchor, alias, tag, NUL): checks skip it */
        bool plain;       /* a plain (unquoted) scalar */
        size_t line, col; /* 1-based */
        char *value;      /* scalars: NUL-terminated */
        /* sequences: the items; mappings: key, value, key, value, … */
        struct YNode **items;
        size_t n_items, cap_items;
} YNode;

static void ynode_free(YNode *n) {
        if (!n)
                return;
        for (size_t i = 0; i < n->n_items; i++)
                ynode_free(n->items[i]);
        free(n->items);
        free(n->value);
        free(n);
}

static void ynode_freep(YNode **n) {
        ynode_free(*n);
}

static int ynode_append(YNode *parent, YNode *child) {
        if (parent->n_items == parent->cap_items) {
                size_t cap = parent->cap_items ? parent->cap_items * 2 : 4;
                YNode **items = realloc(parent->items, cap * sizeof(YNode *));
                if (!items)
                        return -ENOMEM;
                parent->items = items;
                parent->cap_items = cap;
        }
        parent->items[parent->n_items++] = child;
        return 0;
}

/* The checks keep going after a bad value (to report every problem) but
 * stop after a syntax error and after POLICY_MAX_ERRORS. */
typedef struct ParseContext {
        Policy *p; /* where errors go */
        const char *filename;
        const char *buf;
        size_t len;
        unsigned n_errors;
        unsigned n_bad; /* bad nodes met while checking (reported when built) */
        bool stop;
        int oom; /* -ENOMEM once an allocation failed */
} ParseContext;

_printf_(4, 5) static void perr(ParseContext *c, size_t line, size_t col, const char *fmt, ...) {
        if (c->stop || c->oom)
                return;
        if (c->n_errors >= POLICY_MAX_ERRORS) {
                c->stop = true;
                if (policy_add_error(c->p, c->filename, line, col, "too many errors, giving up") < 0)
                        c->oom = -ENOMEM;
                return;
        }
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                c->oom = -ENOMEM;
                return;
        }
        c->n_errors++;
        if (policy_add_error(c->p, c->filename, line, col, "%s", msg) < 0)
                c->oom = -ENOMEM;
}

#define perr_node(c, n, ...) perr((c), (n)->line, (n)->col, __VA_ARGS__)

/* libyaml reader errors carry a byte offset, not a mark: count lines and
 * characters (not bytes: libyaml's columns count characters) up to it. */
static void offset_to_position(const char *buf, size_t len, size_t offset, size_t *ret_line, size_t *ret_col) {
        size_t line = 1, col = 1;
        if (offset > len)
                offset = len;
        for (size_t i = 0; i < offset; i++) {
                unsigned char ch = (unsigned char) buf[i];
                if (ch == '\n' || (ch == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
                        line++;
                        col = 1;
                } else if ((ch & 0xc0) != 0x80)
                        col++;
        }
        *ret_line = line;
        *ret_col = col;
}

static void report_yaml_error(ParseContext *c, const yaml_parser_t *parser) {
        size_t line, col;
        switch (parser->error) {
        case YAML_MEMORY_ERROR:
                c->oom = -ENOMEM;
                return;
        case YAML_READER_ERROR:
                offset_to_position(c->buf, c->len, parser->problem_offset, &line, &col);
                perr(c, line, col, "not valid text: %s", parser->problem ?: "unreadable input");
                break;
        default:
                line = parser->problem_mark.line + 1;
                col = parser->problem_mark.column + 1;
                if (parser->context)
                        perr(c, line, col, "syntax error: %s %s", parser->problem ?: "unexpected input",
                             parser->context);
                else
                        perr(c, line, col, "syntax error: %s", parser->problem ?: "unexpected input");
        }
        c->stop = true;
}

/* Refuses what lets one node stand for another (anchors, aliases) or change
 * its meaning (tags). Returns true when the node is acceptable. */
static bool check_node_props(ParseContext *c, const yaml_mark_t *m, const yaml_char_t *anchor,
                             const yaml_char_t *tag) {
        bool ok = true;
        if (anchor) {
                perr(c, m->line + 1, m->column + 1, "anchors are not allowed");
                ok = false;
        }
        if (tag) {
                perr(c, m->line + 1, m->column + 1, "tags are not allowed");
                ok = false;
        }
        return ok;
}

static YNode *ynode_new(YNodeType type, const yaml_mark_t *m) {
        YNode *n = calloc(1, sizeof(YNode));
        if (n) {
                n->type = type;
                n->line = m->line + 1;
                n->col = m->column + 1;
        }
        return n;
}

/* libyaml, loaded when a file is parsed (lib/dlib.h): an invocation that
 * finds its policy compiled (config/policy-cache.h) never maps it. */
#define YAML_LIB_SONAME "libyaml-0.so.2"
static struct {
        DLIB_FIELD(yaml_parser_initialize)
        DLIB_FIELD(yaml_parser_set_input_string)
        DLIB_FIELD(yaml_parser_parse)
        DLIB_FIELD(yaml_event_delete)
        DLIB_FIELD(yaml_parser_delete)
} yaml;
static void *yaml_handle;

static int yaml_load(void) {
        const DlibSym syms[] = {
                DLIB_SYM(yaml, yaml_parser_initialize), DLIB_SYM(yaml, yaml_parser_set_input_string),
                DLIB_SYM(yaml, yaml_parser_parse),      DLIB_SYM(yaml, yaml_event_delete),
                DLIB_SYM(yaml, yaml_parser_delete),
        };
        return dlib_load(&yaml_handle, YAML_LIB_SONAME, syms, ELEMENTSOF(syms));
}

/* Builds the tree of the (single) document from libyaml events. *ret is NULL
 * when the stream holds no document. */
static int build_tree(ParseContext *c, YNode **ret) {
        _cleanup_(ynode_freep) YNode *root = NULL;
        YNode *stack[POLICY_MAX_DEPTH];
        size_t depth = 0;
        unsigned n_documents = 0;
        yaml_parser_t parser;

        if (yaml_load() < 0) {
                perr(c, 1, 1, "cannot be parsed: %s is missing", YAML_LIB_SONAME);
                c->stop = true;
                return 0;
        }
        if (!yaml.yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml.yaml_parser_set_input_string(&parser, (const unsigned char *) c->buf, c->len);

        for (bool done = false; !done && !c->stop && !c->oom;) {
                yaml_event_t ev;
                if (!yaml.yaml_parser_parse(&parser, &ev)) {
                        report_yaml_error(c, &parser);
                        break;
                }
                YNode *node = NULL;
                bool ok = true, want_node = false;
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++n_documents > 1) {
                                perr(c, ev.start_mark.line + 1, ev.start_mark.column + 1,
                                     "only one YAML document is allowed");
                                c->stop = true;
                        }
                        break;
                case YAML_ALIAS_EVENT:
                        perr(c, ev.start_mark.line + 1, ev.start_mark.column + 1, "aliases are not allowed");
                        want_node = true;
                        node = ynode_new(YNODE_SCALAR, &ev.start_mark);
                        ok = false;
                        if (node && !(node->value = strdup(""))) {
                                ynode_free(node);
                                node = NULL;
                        }
                        break;
                case YAML_SCALAR_EVENT:
                        ok = check_node_props(c, &ev.start_mark, ev.data.scalar.anchor, ev.data.scalar.tag);
                        want_node = true;
                        node = ynode_new(YNODE_SCALAR, &ev.start_mark);
                        if (!node)
                                break;
                        node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                        node->value = strndup((const char *) ev.data.scalar.value, ev.data.scalar.length);
                        if (!node->value) {
                                c->oom = -ENOMEM;
                                break;
                        }
                        /* "\0" in a quoted scalar: C strings would silently cut it. */
                        if (strlen(node->value) != ev.data.scalar.length) {
                                perr_node(c, node, "NUL characters are not allowed");
                                ok = false;
                        }
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        if (depth >= POLICY_MAX_DEPTH) {
                                /* Refused at once: do not let libyaml walk the rest. */
                                perr(c, ev.start_mark.line + 1, ev.start_mark.column + 1,
                                     "nesting deeper than %u levels", POLICY_MAX_DEPTH);
                                c->stop = true;
                                break;
                        }
                        if (ev.type == YAML_SEQUENCE_START_EVENT)
                                ok = check_node_props(c, &ev.start_mark, ev.data.sequence_start.anchor,
                                                      ev.data.sequence_start.tag);
                        else
                                ok = check_node_props(c, &ev.start_mark, ev.data.mapping_start.anchor,
                                                      ev.data.mapping_start.tag);
                        want_node = true;
                        node = ynode_new(ev.type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQUENCE : YNODE_MAPPING,
                                         &ev.start_mark);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        if (depth > 0)
                                depth--;
                        break;
                default:
                        break;
                }
                yaml.yaml_event_delete(&ev);

                if (node) {
                        node->bad = !ok;
                        int r = 0;
                        if (depth > 0)
                                r = ynode_append(stack[depth - 1], node);
                        else if (!root)
                                root = node;
                        else
                                r = -EINVAL; /* cannot happen: one document, one root */
                        if (r < 0) {
                                ynode_free(node);
                                if (r == -ENOMEM)
                                        c->oom = r;
                                else
                                        c->stop = true;
                                break;
                        }
                        if (node->type != YNODE_SCALAR)
                                stack[depth++] = node;
                } else if (want_node)
                        c->oom = -ENOMEM;
        }
        yaml.yaml_parser_delete(&parser);
        if (c->oom)
                return c->oom;
        *ret = TAKE_PTR(root);
        return 0;
}

/* ---- values ------------------------------------------------------------ */

#define DEVICE_VALUE_MAX_LEN 64
#define ARG_MAX_LEN 4096
#define COMMAND_MAX_ARGS 64

/* A value as it may appear in a message: hostile bytes escaped, long values
 * cut, so an error line cannot carry terminal escapes or flood a log. */
static const char *show(char buf[static 96], const YNode *n) {
        if (n->type == YNODE_MAPPING)
                return "a mapping";
        if (n->type == YNODE_SEQUENCE)
                return "a sequence";
        if (n->plain && n->value[0] == '\0')
                return "an empty value";
        size_t o = 0;
        buf[o++] = '\'';
        for (const unsigned char *s = (const unsigned char *) n->value; *s; s++) {
                if (o > 72) {
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                if (*s < 0x20 || *s == 0x7f || *s == '\\') {
                        o += (size_t) snprintf(buf + o, 8, "\\x%02x", *s);
                } else
                        buf[o++] = (char) *s;
        }
        buf[o++] = '\'';
        buf[o] = '\0';
        return buf;
}

static bool is_null(const YNode *n) {
        return !n->bad && n->type == YNODE_SCALAR && n->plain &&
               (n->value[0] == '\0' || streq(n->value, "~") || streq(n->value, "null") ||
                streq(n->value, "Null") || streq(n->value, "NULL"));
}

static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static bool data_path_ok(const char *s) {
        /* Where snapshots are kept: never the whole system, never the
         * kernel's or the runtime's virtual trees. (Content paths are
         * checked by name_is_content_path().) */
        static const char *const forbidden[] = { "/proc", "/sys", "/dev", "/run" };
        if (!path_is_normalized_absolute(s) || streq(s, "/"))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(forbidden); i++)
                if (path_is_under(s, forbidden[i]))
                        return false;
        return true;
}

static bool device_ok(const char *s) {
        static const char *const prefixes[] = { "LABEL=", "PARTLABEL=", "UUID=" };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t pl = strlen(prefixes[i]);
                if (!strneq(s, prefixes[i], pl))
                        continue;
                const char *v = s + pl;
                size_t l = strlen(v);
                if (l < 1 || l > DEVICE_VALUE_MAX_LEN || has_control_chars(v) || strchr(v, '/'))
                        return false;
                if (i != 2)
                        return true;
                /* UUIDs of ext4 (36 chars) and FAT ("ABCD-1234") alike: hex and dashes. */
                return strspn(v, "0123456789abcdefABCDEF-") == l;
        }
        return false;
}

/* "an integer from 1 to 50": what the field wants, for messages. */
static const char *describe(char buf[static 160], const Field *f) {
        char a[32], b[32];
        switch (f->type) {
        case FT_SECTION:
                return "a mapping";
        case FT_VERSION:
                return "1";
        case FT_U32:
        case FT_U64:
                snprintf(buf, 160, "an integer from %llu to %llu", (unsigned long long) f->min,
                         (unsigned long long) f->max);
                return buf;
        case FT_BOOL:
                return "true or false";
        case FT_DURATION:
                snprintf(buf, 160, "a duration from %s to %s (like 90s, 5min, 72h)",
                         format_duration(a, f->min), format_duration(b, f->max));
                return buf;
        case FT_SIZE:
                snprintf(buf, 160, "a size from %s to %s (like 512M, 1G)", policy_format_size(a, f->min),
                         policy_format_size(b, f->max));
                return buf;
        case FT_ENUM:
        case FT_LADDER: {
                size_t o = (size_t) snprintf(buf, 160, "one of");
                for (size_t i = 0; i < f->n_names && o < 160; i++)
                        o += (size_t) snprintf(buf + o, 160 - o, "%s %s", i ? "," : "", f->names[i]);
                return buf;
        }
        case FT_PATH:
                return "a normalized absolute path";
        case FT_PATH_OR_EMPTY:
                return "a normalized absolute path or \"\"";
        case FT_DATA_PATH:
                return "a normalized absolute path, not / and not in /proc, /sys, /dev or /run";
        case FT_DATA_PATH_LIST:
                return "a normalized absolute path";
        case FT_EXCLUDE_LIST:
                return "a normalized absolute path or glob of one (* ? [...], '*' not crossing '/')";
        case FT_DEVICE:
                return "LABEL=…, PARTLABEL=… or UUID=…";
        case FT_NAME:
                return "a name of 1 to 63 characters a-z A-Z 0-9 _ . - not starting with '.', not 'registry'";
        case FT_MODULE_LIST:
                return "a kernel module name (1 to 55 characters a-z A-Z 0-9 _ -) or a glob of one (* ? [...])";
        case FT_PROCESS_LIST:
                return "a process name or glob (printable ASCII, at most 15 characters as the kernel cuts a "
                       "comm, or ending in '*')";
        case FT_BPF_LIST:
                return "a BPF program name or glob (a-z A-Z 0-9 _ . * ? [...])";
        case FT_PANIC_LIST:
                return "a panic message or glob (printable ASCII, like \"audit: *\")";
        case FT_UNIT_LIST:
                return "a unit name with a type suffix (like foo.service) or a glob of one (foo*.service)";
        case FT_COMMAND:
                return "a string";
        case FT_HEALTH_CHECKS:
        case FT_COMPONENTS:
                return "a list";
        }
        return "?";
}

static void wrong(ParseContext *c, const char *path, const Field *f, const YNode *n) {
        char d[160], v[96];
        perr_node(c, n, "%s: expected %s, got %s", path, describe(d, f), show(v, n));
}

/* The scalar text of N, or NULL after reporting what was wrong. */
static const char *scalar(ParseContext *c, const char *path, const Field *f, const YNode *n) {
        if (n->bad) {
                c->n_bad++;
                return NULL;
        }
        if (n->type != YNODE_SCALAR) {
                wrong(c, path, f, n);
                return NULL;
        }
        return n->value;
}

static int set_string(void *base, const Field *f, const char *v) {
        char **slot = policy_field_at(base, f);
        char *copy = NULL;
        if (v) {
                copy = strdup(v);
                if (!copy)
                        return -ENOMEM;
        }
        free(*slot);
        *slot = copy;
        return 0;
}

/* Whether one string item of a list field is acceptable. */
static bool list_item_ok(const Field *f, const char *v, size_t index) {
        switch (f->type) {
        case FT_DATA_PATH_LIST:
                return name_is_content_path(v);
        case FT_EXCLUDE_LIST:
                return name_is_exclude_pattern(v);
        case FT_MODULE_LIST:
                return name_is_module_pattern(v);
        case FT_PROCESS_LIST:
                return name_is_process_pattern(v);
        case FT_BPF_LIST:
                return name_is_bpf_pattern(v);
        case FT_PANIC_LIST:
                return name_is_panic_pattern(v);
        case FT_UNIT_LIST:
                return name_is_unit_pattern(v);
        case FT_COMMAND:
                return strlen(v) <= ARG_MAX_LEN && (index > 0 || path_is_normalized_absolute(v));
        default:
                return false;
        }
}

/* Key paths are only for messages: a long one is cut, harmlessly. */
static void item_path(char buf[static 128], const char *path, size_t i) {
        if (snprintf(buf, 128, "%s[%zu]", path, i) >= 128)
                memcpy(buf + 124, "...", 4);
}

static void parse_string_list(ParseContext *c, const char *path, const Field *f, const YNode *n, void *base) {
        size_t max = f->type == FT_COMMAND ? COMMAND_MAX_ARGS : POLICY_MAX_LIST;
        _cleanup_strv_free_ char **l = NULL;
        bool ok = true;

        if (n->bad)
                return;
        if (is_null(n) && f->type != FT_COMMAND) {
                /* "units:" with nothing after it: an empty list. */
        } else if (n->type != YNODE_SEQUENCE) {
                char v[96];
                perr_node(c, n, "%s: expected a list, got %s", path, show(v, n));
                return;
        } else if (n->n_items == 0 && f->type == FT_COMMAND) {
                perr_node(c, n, "%s: must not be empty", path);
                return;
        } else if (n->n_items > max) {
                perr_node(c, n, "%s: more than %zu entries", path, max);
                return;
        }
        for (size_t i = 0; n->type == YNODE_SEQUENCE && i < n->n_items; i++) {
                const YNode *item = n->items[i];
                char ipath[128], d[160], v[96];
                item_path(ipath, path, i);
                const char *s = scalar(c, ipath, f, item);
                if (!s) {
                        ok = false;
                        continue;
                }
                if (f->type == FT_DATA_PATH_LIST && name_has_glob(s)) {
                        /* Taken literally it would name a file called '*': nothing would ever
                         * be snapshotted, and nobody would hear of it. */
                        perr_node(c, item, "%s: content paths are literal, globs (* ? [) are not allowed, got %s",
                                  ipath, show(v, item));
                        ok = false;
                        continue;
                }
                const char *why = f->type == FT_DATA_PATH_LIST && path_is_normalized_absolute(s)
                                          ? name_content_path_refusal(s)
                                          : NULL;
                if (why) {
                        /* The system's directories and lastgood's own: see lastgood-policy(5). */
                        perr_node(c, item, "%s: refusing %s as content: %s", ipath, show(v, item), why);
                        ok = false;
                        continue;
                }
                char starred[NAME_PATTERN_MAX + 1];
                if (f->type == FT_PROCESS_LIST && !list_item_ok(f, s, i) &&
                    snprintf(starred, sizeof starred, "%s*", s) < (int) sizeof starred &&
                    name_is_process_pattern(starred)) {
                        /* Valid but for its length: say what the kernel does with a long name. */
                        if (!name_has_glob(s) && !strchr(s, '\\'))
                                perr_node(c, item,
                                          "%s: the kernel cuts a comm to %d characters, a longer pattern must "
                                          "end in '*' (like '%.*s*'), got %s",
                                          ipath, NAME_COMM_MAX, NAME_COMM_MAX, s, show(v, item));
                        else
                                perr_node(c, item,
                                          "%s: the kernel cuts a comm to %d characters, a pattern needing more "
                                          "must end in '*', got %s",
                                          ipath, NAME_COMM_MAX, show(v, item));
                        ok = false;
                        continue;
                }
                if (!list_item_ok(f, s, i)) {
                        perr_node(c, item, "%s: expected %s, got %s", ipath,
                                  f->type == FT_COMMAND ? "an absolute path to the program" : describe(d, f),
                                  show(v, item));
                        ok = false;
                        continue;
                }
                if (strv_push(&l, s) < 0) {
                        c->oom = -ENOMEM;
                        return;
                }
                if (f->type == FT_MODULE_LIST)
                        /* As lsmod and /proc/modules spell them. */
                        name_module_pattern_normalize(l[strv_length(l) - 1]);
        }
        if (!ok)
                return;
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l) {
                        c->oom = -ENOMEM;
                        return;
                }
        }
        char ***slot = policy_field_at(base, f);
        strv_free(*slot);
        *slot = TAKE_PTR(l);
}

static void parse_ladder(ParseContext *c, const char *path, const Field *f, const YNode *n, Policy *p) {
        LadderStep steps[POLICY_MAX_LADDER];
        size_t n_steps = 0;
        bool ok = true;
        char v[96];

        if (n->bad)
                return;
        if (n->type != YNODE_SEQUENCE) {
                perr_node(c, n, "%s: expected a list of steps, got %s", path, show(v, n));
                return;
        }
        if (n->n_items == 0) {
                perr_node(c, n, "%s: must not be empty", path);
                return;
        }
        for (size_t i = 0; i < n->n_items; i++) {
                const YNode *item = n->items[i];
                char ipath[128];
                item_path(ipath, path, i);
                const char *s = scalar(c, ipath, f, item);
                if (!s) {
                        ok = false;
                        continue;
                }
                int step = -1;
                for (size_t k = 0; k < f->n_names; k++)
                        if (streq(s, f->names[k]))
                                step = (int) k;
                if (step < 0) {
                        wrong(c, ipath, f, item);
                        ok = false;
                        continue;
                }
                bool dup = false;
                for (size_t j = 0; j < n_steps; j++)
                        dup = dup || steps[j] == (LadderStep) step;
                if (dup) {
                        perr_node(c, item, "%s: duplicate step '%s'", ipath, s);
                        ok = false;
                        continue;
                }
                /* No duplicates and _LADDER_STEP_MAX <= POLICY_MAX_LADDER:
                 * this cannot overflow. */
                steps[n_steps++] = (LadderStep) step;
        }
        if (!ok)
                return;
        memcpy(p->recovery.ladder, steps, n_steps * sizeof(LadderStep));
        p->recovery.n_ladder = n_steps;
}

static void parse_fields(ParseContext *c, const char *path, const Field *fields, size_t n_fields,
                         const YNode *n, void *base, unsigned *ret_set);

/* One scalar-ish field; base is what the offsets are relative to. */
static void parse_value(ParseContext *c, const char *path, const Field *f, const YNode *n, void *base) {
        const char *s;
        uint64_t u64;
        uint32_t u32;
        int r;

        switch (f->type) {
        case FT_SECTION:
                if (n->bad || is_null(n))
                        return;
                parse_fields(c, path, f->sub, f->n_sub, n, base, NULL);
                return;
        case FT_DATA_PATH_LIST:
        case FT_EXCLUDE_LIST:
        case FT_MODULE_LIST:
        case FT_PROCESS_LIST:
        case FT_BPF_LIST:
        case FT_PANIC_LIST:
        case FT_UNIT_LIST:
        case FT_COMMAND:
                parse_string_list(c, path, f, n, base);
                return;
        case FT_LADDER:
        case FT_HEALTH_CHECKS:
        case FT_COMPONENTS:
                /* Handled by their callers (they need the whole policy). */
                return;
        default:
                break;
        }

        s = scalar(c, path, f, n);
        if (!s)
                return;

        switch (f->type) {
        case FT_VERSION:
                if (!streq(s, "1"))
                        wrong(c, path, f, n);
                return;
        case FT_U32:
                if (parse_u32_range(s, (uint32_t) f->min, (uint32_t) f->max, &u32) < 0)
                        return wrong(c, path, f, n);
                *(uint32_t *) policy_field_at(base, f) = u32;
                return;
        case FT_U64:
        case FT_DURATION:
        case FT_SIZE:
                r = f->type == FT_DURATION ? parse_duration(s, &u64)
                    : f->type == FT_SIZE   ? parse_size(s, &u64)
                                           : parse_u64(s, &u64);
                if (r < 0 || u64 < f->min || u64 > f->max)
                        return wrong(c, path, f, n);
                *(uint64_t *) policy_field_at(base, f) = u64;
                return;
        case FT_BOOL:
                /* Only YAML 1.2's spelling: "yes", "on" or "1" are too easy
                 * to mean something else. */
                if (!streq(s, "true") && !streq(s, "false"))
                        return wrong(c, path, f, n);
                *(bool *) policy_field_at(base, f) = streq(s, "true");
                return;
        case FT_ENUM:
                for (size_t i = 0; i < f->n_names; i++)
                        if (streq(s, f->names[i])) {
                                *(unsigned *) policy_field_at(base, f) = (unsigned) i;
                                return;
                        }
                return wrong(c, path, f, n);
        case FT_PATH:
        case FT_PATH_OR_EMPTY:
        case FT_DATA_PATH:
                if (f->type == FT_PATH_OR_EMPTY && (is_null(n) || s[0] == '\0'))
                        s = "";
                else if (f->type == FT_DATA_PATH ? !data_path_ok(s) : !path_is_normalized_absolute(s))
                        return wrong(c, path, f, n);
                if (set_string(base, f, s) < 0)
                        c->oom = -ENOMEM;
                return;
        case FT_DEVICE:
                if (is_null(n) || s[0] == '\0')
                        s = NULL;
                else if (!device_ok(s))
                        return wrong(c, path, f, n);
                if (set_string(base, f, s) < 0)
                        c->oom = -ENOMEM;
                return;
        case FT_NAME:
                if (!name_is_component(s))
                        return wrong(c, path, f, n);
                if (set_string(base, f, s) < 0)
                        c->oom = -ENOMEM;
                return;
        default:
                return;
        }
}

static void parse_health_checks(ParseContext *c, const char *path, const YNode *n, Policy *p);
static void parse_components(ParseContext *c, const char *path, const YNode *n, Policy *p);

/* Applies the mapping N to BASE through FIELDS; *ret_set gets a bit per
 * field (by index) that N set. */
static void parse_fields(ParseContext *c, const char *path, const Field *fields, size_t n_fields,
                         const YNode *n, void *base, unsigned *ret_set) {
        const YNode *seen[POLICY_MAX_FIELDS] = {};
        unsigned set = 0;
        char v[96];

        if (n->bad)
                return;
        if (n->type != YNODE_MAPPING) {
                if (*path)
                        perr_node(c, n, "%s: expected a mapping, got %s", path, show(v, n));
                else
                        perr_node(c, n, "the top level must be a mapping, got %s", show(v, n));
                return;
        }
        for (size_t i = 0; i + 1 < n->n_items && !c->stop && !c->oom; i += 2) {
                const YNode *k = n->items[i], *val = n->items[i + 1];
                char kpath[128];
                if (k->bad || val->bad) {
                        /* Reported when the tree was built; nothing applies. */
                        c->n_bad++;
                        continue;
                }
                if (k->type != YNODE_SCALAR) {
                        perr_node(c, k, "%s%skeys must be strings, got %s", path, *path ? ": " : "", show(v, k));
                        continue;
                }
                if (snprintf(kpath, sizeof kpath, "%s%s%s", path, *path ? "." : "", k->value) >= (int) sizeof kpath)
                        memcpy(kpath + sizeof kpath - 4, "...", 4);
                const Field *f = NULL;
                size_t fi = 0;
                for (; fi < n_fields; fi++)
                        if (streq(fields[fi].key, k->value)) {
                                f = &fields[fi];
                                break;
                        }
                if (!f) {
                        YNode shown = { .type = YNODE_SCALAR, .value = kpath };
                        perr_node(c, k, "unknown key %s", show(v, &shown));
                        continue;
                }
                if (seen[fi]) {
                        perr_node(c, k, "duplicate key '%s' (first at line %zu)", kpath, seen[fi]->line);
                        continue;
                }
                seen[fi] = k;
                set |= 1u << fi;
                /* These three only occur in tables applied to the Policy. */
                if (f->type == FT_LADDER)
                        parse_ladder(c, kpath, f, val, base);
                else if (f->type == FT_HEALTH_CHECKS)
                        parse_health_checks(c, kpath, val, base);
                else if (f->type == FT_COMPONENTS)
                        parse_components(c, kpath, val, base);
                else
                        parse_value(c, kpath, f, val, base);
        }
        if (ret_set)
                *ret_set = set;
}

/* A list of mappings (health checks, components): the common checks. */
static bool entry_list_ok(ParseContext *c, const char *path, const YNode *n, size_t max) {
        char v[96];
        if (n->bad)
                return false;
        if (n->type != YNODE_SEQUENCE) {
                perr_node(c, n, "%s: expected a list, got %s", path, show(v, n));
                return false;
        }
        if (n->n_items > max) {
                perr_node(c, n, "%s: more than %zu entries", path, max);
                return false;
        }
        return true;
}

static bool entry_name_unique(ParseContext *c, const char *path, const YNode *item, char ***names,
                              const char *name) {
        if (strv_contains(*names, name)) {
                perr_node(c, item, "%s: duplicate name '%s'", path, name);
                return false;
        }
        if (strv_push(names, name) < 0)
                c->oom = -ENOMEM;
        return true;
}

/* One entry of a list of mappings (IPATH): its defaults, its keys, its
 * required keys and a name unique in the list. Returns whether it is usable;
 * *ret_set gets a bit per field it set. */
static bool parse_entry(ParseContext *c, const char *ipath, const YNode *item, const Field *fields,
                        size_t n_fields, void *entry, char ***names, unsigned *ret_set) {
        unsigned before = c->n_errors, bad_before = c->n_bad;
        const char *name = NULL;

        *ret_set = 0;
        if (policy_fields_init(fields, n_fields, entry) < 0) {
                c->oom = -ENOMEM;
                return false;
        }
        parse_fields(c, ipath, fields, n_fields, item, entry, ret_set);
        if (item->bad || item->type != YNODE_MAPPING || c->n_errors != before || c->n_bad != bad_before)
                return false;
        for (size_t k = 0; k < n_fields; k++) {
                if (fields[k].required && !(*ret_set & (1u << k))) {
                        perr_node(c, item, "%s: missing required key '%s'", ipath, fields[k].key);
                        return false;
                }
                if (fields[k].type == FT_NAME && !name)
                        name = *(char **) policy_field_at(entry, &fields[k]);
        }
        return entry_name_unique(c, ipath, item, names, name);
}

static void parse_health_checks(ParseContext *c, const char *path, const YNode *n, Policy *p) {
        _cleanup_strv_free_ char **names = NULL;
        HealthCheck *checks = NULL;
        size_t n_checks = 0;
        bool ok = true;

        if (!is_null(n)) {
                if (!entry_list_ok(c, path, n, POLICY_MAX_HEALTH_CHECKS))
                        return;
                checks = calloc(n->n_items + 1, sizeof(HealthCheck));
                if (!checks) {
                        c->oom = -ENOMEM;
                        return;
                }
        }
        for (size_t i = 0; !is_null(n) && i < n->n_items; i++) {
                const YNode *item = n->items[i];
                char ipath[128];
                unsigned set = 0;
                item_path(ipath, path, i);
                ok = parse_entry(c, ipath, item, policy_health_check_fields,
                                 ELEMENTSOF(policy_health_check_fields), &checks[n_checks++], &names, &set) &&
                     ok;
        }
        if (!ok || c->oom) {
                for (size_t i = 0; i < n_checks; i++)
                        policy_health_check_done(&checks[i]);
                free(checks);
                return;
        }
        for (size_t i = 0; i < p->confirm.n_health_checks; i++)
                policy_health_check_done(&p->confirm.health_checks[i]);
        free(p->confirm.health_checks);
        p->confirm.health_checks = checks;
        p->confirm.n_health_checks = n_checks;
}

/* Moves the fields SET in SRC over DST (a drop-in overriding only the keys it
 * sets), leaving SRC owning only what was not moved. */
static void component_merge(Component *dst, Component *src, unsigned set) {
        for (size_t i = 0; i < ELEMENTSOF(policy_component_fields); i++) {
                const Field *f = &policy_component_fields[i];
                if (!(set & (1u << i)))
                        continue;
                void *d = policy_field_at(dst, f), *s = policy_field_at(src, f);
                switch (f->type) {
                case FT_NAME:
                        break; /* the key it was found by */
                case FT_DATA_PATH_LIST:
                case FT_EXCLUDE_LIST:
                case FT_MODULE_LIST:
                case FT_PROCESS_LIST:
                case FT_BPF_LIST:
                case FT_PANIC_LIST:
                case FT_UNIT_LIST:
                        strv_free(*(char ***) d);
                        *(char ***) d = *(char ***) s;
                        *(char ***) s = NULL;
                        break;
                case FT_ENUM:
                        *(unsigned *) d = *(unsigned *) s;
                        break;
                case FT_U32:
                        *(uint32_t *) d = *(uint32_t *) s;
                        break;
                default:
                        abort(); /* a component field type added without a merge rule */
                }
        }
}

static const YNode *mapping_value(const YNode *map, const char *key) {
        for (size_t i = 0; map->type == YNODE_MAPPING && i + 1 < map->n_items; i += 2)
                if (map->items[i]->type == YNODE_SCALAR && streq(map->items[i]->value, key))
                        return map->items[i + 1];
        return NULL;
}

static unsigned component_field_bit(FieldType t) {
        for (size_t i = 0; i < ELEMENTSOF(policy_component_fields); i++)
                if (policy_component_fields[i].type == t)
                        return 1u << i;
        return 0;
}

/* Every exclude entry of the component COMP (as merged with earlier files)
 * lies below one of its content paths: an exclude elsewhere would name state
 * the component does not own, and one naming a content path itself would
 * exclude the whole path silently. ITEM set the keys SET: an entry of this
 * file is reported where it is written, one from an earlier file at the
 * content this file gave. */
static void check_excludes(ParseContext *c, const char *ipath, const YNode *item, const Component *comp,
                           unsigned set) {
        bool set_exclude = set & component_field_bit(FT_EXCLUDE_LIST);
        if (!set_exclude && !(set & component_field_bit(FT_DATA_PATH_LIST)))
                return; /* neither changed here: checked with the file that set them */
        const YNode *list = set_exclude ? mapping_value(item, "exclude") : NULL;
        const YNode *content = mapping_value(item, "content");
        for (size_t i = 0; comp->exclude && comp->exclude[i]; i++) {
                const char *e = comp->exclude[i];
                bool under = false, whole = false;
                for (char **cp = comp->content; cp && *cp; cp++) {
                        under = under || name_exclude_is_under(e, *cp);
                        whole = whole || streq(e, *cp);
                }
                if (under)
                        continue;
                const char *why = whole ? "names a content path itself (remove it from content instead)"
                                        : "is not below any of the component's content paths";
                char v[96];
                if (list && list->type == YNODE_SEQUENCE && i < list->n_items)
                        perr_node(c, list->items[i], "%s.exclude[%zu]: %s %s", ipath, i,
                                  show(v, list->items[i]), why);
                else {
                        YNode shown = { .type = YNODE_SCALAR, .value = (char *) e };
                        perr_node(c, content ?: item, "%s.content: exclude entry %s (from an earlier file) %s",
                                  ipath, show(v, &shown), why);
                }
        }
}

static void parse_components(ParseContext *c, const char *path, const YNode *n, Policy *p) {
        _cleanup_strv_free_ char **names = NULL;

        if (is_null(n) || !entry_list_ok(c, path, n, POLICY_MAX_COMPONENTS))
                return;
        for (size_t i = 0; i < n->n_items && !c->oom; i++) {
                const YNode *item = n->items[i];
                char ipath[128];
                unsigned set = 0;
                Component comp = {};
                item_path(ipath, path, i);
                if (!parse_entry(c, ipath, item, policy_component_fields,
                                 ELEMENTSOF(policy_component_fields), &comp, &names, &set)) {
                        policy_component_done(&comp);
                        continue;
                }
                Component *existing = (Component *) policy_find_component(p, comp.name);
                if (existing) {
                        component_merge(existing, &comp, set);
                        policy_component_done(&comp);
                        check_excludes(c, ipath, item, existing, set);
                        continue;
                }
                check_excludes(c, ipath, item, &comp, set);
                if (p->n_components >= POLICY_MAX_COMPONENTS) {
                        perr_node(c, item, "%s: more than %u components in all", ipath, POLICY_MAX_COMPONENTS);
                        policy_component_done(&comp);
                        continue;
                }
                Component *nc = realloc(p->components, (p->n_components + 1) * sizeof(Component));
                if (!nc) {
                        policy_component_done(&comp);
                        c->oom = -ENOMEM;
                        return;
                }
                p->components = nc;
                p->components[p->n_components++] = comp;
        }
}

/* Where this file gave component NAME's content (its content list, else
 * the entry), or NULL when this file does not set NAME. *ret_index gets the
 * entry's place in the file. */
static const YNode *file_component(const YNode *root, const char *name, size_t *ret_index) {
        const YNode *list = mapping_value(root, "components");
        for (size_t i = 0; list && list->type == YNODE_SEQUENCE && i < list->n_items; i++) {
                const YNode *item = list->items[i], *nm = mapping_value(item, "name");
                if (nm && nm->type == YNODE_SCALAR && streq(nm->value, name)) {
                        *ret_index = i;
                        return item;
                }
        }
        return NULL;
}

/* INNER's content path A lies in OUTER's content path B (or is it): a
 * restore or quarantine of OUTER would roll back or move INNER's content
 * too, unless OUTER excludes A (an entry matching A or a directory of it). */
static bool content_nested(const Component *outer, const char *b, const char *a) {
        if (!path_is_under(a, b))
                return false;
        return streq(a, b) || !name_exclude_match(outer->exclude, a, NAME_MATCH_LEADING_DIR);
}

/* Content nested across two components of the merged policy P. Checked for
 * each pair at least one of which this file (ROOT) sets, and reported once,
 * at the later one this file sets: at its content entry when this file gave
 * its content, else at the entry. */
static void check_nesting(ParseContext *c, const YNode *root, const Policy *p) {
        for (size_t i = 0; i < p->n_components && !c->stop && !c->oom; i++) {
                const Component *x = &p->components[i];
                size_t xi;
                const YNode *item = file_component(root, x->name, &xi);
                if (!item)
                        continue;
                const YNode *content = mapping_value(item, "content");
                char ipath[128];
                item_path(ipath, "components", xi);
                for (size_t j = 0; j < p->n_components; j++) {
                        const Component *y = &p->components[j];
                        size_t yi;
                        if (j == i || (file_component(root, y->name, &yi) && yi > xi))
                                continue; /* reported at Y */
                        for (size_t k = 0; x->content && x->content[k]; k++)
                                for (char **b = y->content; b && *b; b++) {
                                        bool inner = content_nested(y, *b, x->content[k]);
                                        bool outer = !inner && content_nested(x, x->content[k], *b);
                                        if (!inner && !outer)
                                                continue;
                                        const YNode *at = content && content->type == YNODE_SEQUENCE &&
                                                                          k < content->n_items
                                                                  ? content->items[k]
                                                                  : item;
                                        char v[96];
                                        YNode shown = { .type = YNODE_SCALAR, .value = x->content[k] };
                                        perr_node(c, at,
                                                  "%s.content[%zu]: %s %s content '%s' of component '%s': "
                                                  "restoring one would roll back the other (the outer "
                                                  "component must exclude the inner path)",
                                                  ipath, k, show(v, &shown),
                                                  streq(x->content[k], *b) ? "is also"
                                                  : inner                  ? "lies in"
                                                                           : "holds",
                                                  *b, y->name);
                                }
                }
        }
}

int policy_parse_buffer(Policy *p, const char *filename, const char *buf, size_t len) {
        ParseContext c = { .p = p, .filename = filename, .buf = buf, .len = len };
        if (len > POLICY_MAX_FILE_SIZE) {
                perr(&c, 1, 1, "file is larger than %u bytes", POLICY_MAX_FILE_SIZE);
                return c.oom ?: (int) c.n_errors;
        }

        _cleanup_(ynode_freep) YNode *root = NULL;
        int r = build_tree(&c, &root);
        if (r < 0)
                return r;
        if (!c.stop && (!root || is_null(root)))
                perr(&c, root ? root->line : 1, root ? root->col : 1,
                     "empty policy (expected a mapping, at least \"version: 1\")");
        if (c.stop || !root || is_null(root))
                /* Syntax error, or nothing to check: positions past a syntax
                 * error mean nothing, report only what was found. */
                return c.oom ?: (int) c.n_errors;

        Policy scratch;
        r = policy_copy_settings(p, &scratch);
        if (r < 0)
                return r;
        parse_fields(&c, "", policy_top_fields, ELEMENTSOF(policy_top_fields), root, &scratch, NULL);
        if (c.n_errors == 0)
                check_nesting(&c, root, &scratch);
        if (c.oom) {
                policy_done(&scratch);
                return c.oom;
        }
        /* All or nothing: a file with any error contributes nothing. */
        if (c.n_errors == 0)
                policy_take_settings(p, &scratch);
        policy_done(&scratch);
        return (int) c.n_errors;
}

/* ---- where entries were written ------------------------------------------ */

void policy_origins_done(PolicyOrigins *o) {
        if (!o)
                return;
        for (size_t i = 0; i < o->n; i++) {
                free(o->items[i].component);
                free(o->items[i].where);
        }
        free(o->items);
        *o = (PolicyOrigins) {};
}

const char *policy_origin(const PolicyOrigins *o, const char *component, const char *key, size_t index) {
        for (size_t i = 0; i < o->n; i++)
                if (o->items[i].index == index && streq(o->items[i].key, key) &&
                    streq(o->items[i].component, component))
                        return o->items[i].where;
        return NULL;
}

/* Drops what earlier files said of COMPONENT's list KEY (this file replaces it). */
static void origins_forget(PolicyOrigins *o, const char *component, const char *key) {
        size_t n = 0;
        for (size_t i = 0; i < o->n; i++) {
                PolicyOrigin *x = &o->items[i];
                if (streq(x->key, key) && streq(x->component, component)) {
                        free(x->component);
                        free(x->where);
                } else
                        o->items[n++] = *x;
        }
        o->n = n;
}

static int origins_add(PolicyOrigins *o, const char *file, const char *component, const char *key,
                       size_t index, const YNode *n) {
        PolicyOrigin x = { .key = key, .index = index };
        x.component = strdup(component);
        if (!x.component || asprintf(&x.where, "%s:%zu:%zu", file, n->line, n->col) < 0) {
                free(x.component);
                return -ENOMEM;
        }
        PolicyOrigin *items = realloc(o->items, (o->n + 1) * sizeof(PolicyOrigin));
        if (!items) {
                free(x.component);
                free(x.where);
                return -ENOMEM;
        }
        o->items = items;
        o->items[o->n++] = x;
        return 0;
}

/* The component lists of one file's tree (a file that loaded cleanly). */
static int origins_of_tree(PolicyOrigins *o, const char *file, const YNode *root) {
        const YNode *list = mapping_value(root, "components");
        for (size_t i = 0; list && list->type == YNODE_SEQUENCE && i < list->n_items; i++) {
                const YNode *item = list->items[i], *nm = mapping_value(item, "name");
                if (!nm || nm->type != YNODE_SCALAR)
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(policy_component_fields); k++) {
                        const Field *f = &policy_component_fields[k];
                        const YNode *v =
                                policy_field_kind(f->type) == FK_STRV ? mapping_value(item, f->key) : NULL;
                        if (!v)
                                continue;
                        origins_forget(o, nm->value, f->key);
                        for (size_t j = 0; v->type == YNODE_SEQUENCE && j < v->n_items; j++) {
                                int r = origins_add(o, file, nm->value, f->key, j, v->items[j]);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

int policy_origins_load(int root_fd, const Policy *p, PolicyOrigins *ret) {
        PolicyOrigins o = {};
        for (char **file = p->files; file && *file; file++) {
                int flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
                _cleanup_close_ int fd =
                        root_fd >= 0 ? root_openat(root_fd, *file, flags, 0) : open(*file, flags);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                if (fd < 0 || read_full_fd(fd, POLICY_MAX_FILE_SIZE, &buf, &len) < 0)
                        continue; /* changed since: its entries have no position */
                Policy scratch = {};
                ParseContext c = { .p = &scratch, .filename = *file, .buf = buf, .len = len };
                _cleanup_(ynode_freep) YNode *root = NULL;
                int r = build_tree(&c, &root);
                if (r >= 0 && c.oom)
                        r = c.oom;
                if (r >= 0 && root && !c.stop && !c.n_errors)
                        r = origins_of_tree(&o, *file, root);
                policy_done(&scratch);
                if (r < 0) {
                        policy_origins_done(&o);
                        return r;
                }
        }
        *ret = o;
        return 0;
}
