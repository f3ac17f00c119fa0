/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/audit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <unistd.h>

#include "lib/util.h"

/* A user name from the environment, made safe for a log line: the POSIX
 * portable set plus '@' and '$' (domain and machine accounts), at most 32
 * bytes; anything else becomes '?'. */
static void sanitize_name(const char *s, char out[static 33]) {
        size_t n = 0;
        for (; s[n] && n < 32; n++) {
                char c = s[n];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          c == '.' || c == '_' || c == '-' || c == '@' || c == '$';
                out[n] = ok ? c : '?';
        }
        out[n] = '\0';
}

/* The name of UID in the user database, in OUT; false when it has none. */
static bool user_name(uid_t uid, char out[static 33]) {
        const struct passwd *pw = getpwuid(uid);
        if (!pw || !pw->pw_name || !*pw->pw_name)
                return false;
        sanitize_name(pw->pw_name, out);
        return true;
}

void audit_actor_format(const AuditInput *in, char *buf, size_t size) {
        char name[33];
        if (in->sudo_user && *in->sudo_user) {
                sanitize_name(in->sudo_user, name);
                snprintf(buf, size, "%s via sudo (uid %u)", name, (unsigned) in->uid);
        } else if (in->loginuid != AUDIT_LOGINUID_UNSET) {
                if (user_name((uid_t) in->loginuid, name))
                        snprintf(buf, size, "%s (login uid %" PRIu32 ", uid %u)", name, in->loginuid,
                                 (unsigned) in->uid);
                else
                        snprintf(buf, size, "login uid %" PRIu32 " (uid %u)", in->loginuid, (unsigned) in->uid);
        } else if (user_name(in->uid, name))
                snprintf(buf, size, "%s (uid %u)", name, (unsigned) in->uid);
        else
                snprintf(buf, size, "uid %u", (unsigned) in->uid);
}

/* /proc/self/loginuid; AUDIT_LOGINUID_UNSET when absent (no audit support,
 * a container) or unreadable. */
static uint32_t read_loginuid(void) {
        _cleanup_close_ int fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return AUDIT_LOGINUID_UNSET;
        char buf[16];
        ssize_t n = loop_read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return AUDIT_LOGINUID_UNSET;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        uint32_t v;
        if (parse_u32_range(buf, 0, UINT32_MAX, &v) < 0)
                return AUDIT_LOGINUID_UNSET;
        return v;
}

void audit_actor_detect(char buf[static AUDIT_ACTOR_MAX]) {
        AuditInput in = {
                .sudo_user = getenv("SUDO_USER"),
                .loginuid = read_loginuid(),
                .uid = geteuid(),
        };
        audit_actor_format(&in, buf, AUDIT_ACTOR_MAX);
}

const char *audit_event_add(Event *e) {
        char actor[AUDIT_ACTOR_MAX];
        audit_actor_detect(actor);
        event_addf(e, "actor", "%s", actor);
        event_addf(e, "actor_uid", "%u", (unsigned) geteuid());
        for (size_t i = 0; i < e->n_evidence; i++)
                if (streq(e->evidence[i].key, "actor"))
                        return e->evidence[i].value;
        return "?";
}

int audit_next_boot_actor(int root_fd, char *buf, size_t size) {
        EventRecord *recs = NULL;
        size_t n = 0;
        const char *actor = NULL;
        int r = eventlog_read(root_fd, &recs, &n);
        for (size_t i = n; r >= 0 && i > 0 && !actor; i--) {
                const EventRecord *e = &recs[i - 1];
                if (!e->valid || (e->type != EVENT_SAFE_MODE_SCHEDULED && e->type != EVENT_SAFE_MODE_CANCELLED))
                        continue;
                if (e->type == EVENT_SAFE_MODE_CANCELLED)
                        break; /* the pending count is not from a request the log shows */
                for (char **kv = e->evidence; kv && kv[0] && kv[1]; kv += 2)
                        if (streq(kv[0], "actor"))
                                actor = kv[1];
                if (!actor)
                        break;
        }
        if (actor)
                snprintf(buf, size, "safe-mode --next-boot by %s", actor);
        else
                snprintf(buf, size, "safe-mode --next-boot (requester not in the event log)");
        event_records_free(recs, n);
        return actor ? 0 : -ENOENT;
}
