/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/journal.h"

#include <ctype.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agent/eventlog.h"
#include "lib/fileio.h"
#include "lib/log.h"

/* One field in the native protocol: "KEY=value\n", or for values that
 * contain a newline "KEY\n" + 64-bit LE length + value + "\n". */
static void put_field(FILE *f, const char *key, const char *value) {
        if (!value)
                return;
        if (!strchr(value, '\n')) {
                fprintf(f, "%s=%s\n", key, value);
                return;
        }
        uint64_t n = strlen(value);
        fprintf(f, "%s\n", key);
        for (int i = 0; i < 8; i++)
                fputc((int) ((n >> (8 * i)) & 0xff), f);
        fwrite(value, 1, n, f);
        fputc('\n', f);
}

/* Journal field names: upper case letters, digits and '_'. */
static void field_name(char *buf, size_t size, const char *prefix, const char *key) {
        size_t n = (size_t) snprintf(buf, size, "%s", prefix);
        for (const char *k = key; *k && n + 1 < size; k++)
                buf[n++] = isalnum((unsigned char) *k) ? (char) toupper((unsigned char) *k) : '_';
        buf[n] = '\0';
}

static int send_event(int fd, const struct sockaddr_un *sa, const EventRecord *e) {
        _cleanup_(memstream_done) MemStream m = {};
        FILE *f = memstream_init(&m);
        if (!f)
                return -ENOMEM;
        char seq[24], prio[4];
        snprintf(seq, sizeof seq, "%" PRIu64, e->seq);
        snprintf(prio, sizeof prio, "%d", event_type_priority(e->type));
        put_field(f, "MESSAGE", e->message);
        put_field(f, "PRIORITY", prio);
        put_field(f, "SYSLOG_IDENTIFIER", "lastgood");
        put_field(f, "MESSAGE_ID", event_type_message_id(e->type));
        put_field(f, "LASTGOOD_TYPE", e->type_name);
        put_field(f, "LASTGOOD_SEQ", seq);
        put_field(f, "LASTGOOD_TIME", e->time);
        put_field(f, "LASTGOOD_BOOT_ID", e->boot_id);
        put_field(f, "COMPONENT", e->component);
        put_field(f, "ACTION", e->action);
        for (char **k = e->evidence; k && k[0] && k[1]; k += 2) {
                char name[80];
                field_name(name, sizeof name, "LASTGOOD_EVIDENCE_", k[0]);
                put_field(f, name, k[1]);
        }
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = memstream_finalize(&m, &buf, &len);
        if (r < 0)
                return r;
        if (sendto(fd, buf, len, MSG_NOSIGNAL, (const struct sockaddr *) sa, sizeof *sa) < 0)
                return -errno;
        return 0;
}

int journal_forward(int root_fd, const char *socket_path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(socket_path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, socket_path);

        uint64_t cursor = 0;
        _cleanup_free_ char *cur = NULL;
        int r = read_full_root(root_fd, JOURNAL_CURSOR, 64, &cur, NULL);
        if (r >= 0) {
                cur[strcspn(cur, "\n")] = '\0';
                if (parse_u64(cur, &cursor) < 0)
                        cursor = 0; /* unreadable cursor: resend rather than lose */
        } else if (r != -ENOENT)
                return r;

        EventRecord *ev = NULL;
        size_t n = 0;
        r = eventlog_read(root_fd, &ev, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                event_records_free(ev, n);
                return -errno;
        }
        int sent = 0;
        uint64_t last = cursor;
        for (size_t i = 0; i < n; i++) {
                if (!ev[i].valid || ev[i].seq <= cursor)
                        continue;
                r = send_event(fd, &sa, &ev[i]);
                if (r < 0)
                        break;
                last = ev[i].seq;
                sent++;
        }
        event_records_free(ev, n);
        if (last != cursor) {
                char buf[24];
                int k = snprintf(buf, sizeof buf, "%" PRIu64 "\n", last);
                int w = write_atomic_root(root_fd, JOURNAL_CURSOR, buf, (size_t) k, 0644);
                if (w < 0)
                        return w;
        }
        return r < 0 ? r : sent;
}
