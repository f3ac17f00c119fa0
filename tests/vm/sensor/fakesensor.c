// SPDX-License-Identifier: GPL-2.0
/*
 * fakesensor — a stand-in for an EDR/antivirus kernel sensor, for lastgood's
 * VM tests. It fails the way real sensors have failed in the field:
 *
 *  - At load time it reads its content ("channel") file
 *    /etc/fakesensor/rules.bin and parses it. The parser trusts the file's
 *    header: on malformed content it dereferences NULL — a real oops, which
 *    with oops=panic becomes a panic, a reboot and (with efi-pstore) a crash
 *    record naming this module. A content update that ships a bad file thus
 *    puts the machine in a crash loop.
 *  - Built with -DFAKESENSOR_BAD_MODULE it is a bad *module* update: it
 *    crashes at load whatever the content.
 *  - A content file with a "spin" rule makes the rule compiler loop with
 *    interrupts off: the machine hangs with no crash record, and only a
 *    hardware watchdog gets it back.
 *
 * Content format (text):
 *   FAKESENSOR-RULES 1
 *   version <string>
 *   rule <pattern>          (any number)
 *   end
 *
 * A missing content file is not an error: the sensor runs with no rules.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kernel_read_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/irqflags.h>

#define FS_CONTENT "/etc/fakesensor/rules.bin"
#define FS_MAGIC "FAKESENSOR-RULES 1\n"
#define FS_MAX_SIZE (256 * 1024)

#ifdef FAKESENSOR_BAD_MODULE
#define FS_BUILD "1.1-broken"
#else
#define FS_BUILD "1.0"
#endif

struct fs_ruleset {
        unsigned int nrules;
        unsigned int flags;
        char version[64];
};

static struct fs_ruleset *fs_active;
static unsigned int fs_nrules;

/* Returns the ruleset described by the header, or NULL when the header is
 * not ours. (The vendor's updater was supposed to have validated it.) */
static noinline struct fs_ruleset *fs_parse_header(const char *buf, size_t len)
{
        struct fs_ruleset *rs;

        if (len < strlen(FS_MAGIC) || memcmp(buf, FS_MAGIC, strlen(FS_MAGIC)) != 0)
                return NULL;
        rs = kzalloc(sizeof(*rs), GFP_KERNEL);
        if (!rs)
                return NULL;
        strscpy(rs->version, "unknown", sizeof(rs->version));
        return rs;
}

static noinline void fs_compile_rule(struct fs_ruleset *rs, const char *pattern)
{
        if (strncmp(pattern, "spin", 4) == 0) {
                /* The bug the watchdog scenario needs: the compiler never
                 * terminates, and with interrupts off nothing else runs. */
                pr_emerg("fakesensor: compiling rule '%s'\n", pattern);
                local_irq_disable();
                for (;;)
                        cpu_relax();
        }
        rs->nrules++;
}

static noinline int fs_parse_rules(char *buf, size_t len)
{
        struct fs_ruleset *rs = fs_parse_header(buf, len);
        char *line, *p = buf;

        /* BUG (deliberate): no NULL check. Malformed content → NULL deref. */
        rs->flags = 0;
        p += strlen(FS_MAGIC);
        while ((line = strsep(&p, "\n")) != NULL) {
                if (strncmp(line, "version ", 8) == 0)
                        strscpy(rs->version, line + 8, sizeof(rs->version));
                else if (strncmp(line, "rule ", 5) == 0)
                        fs_compile_rule(rs, line + 5);
                else if (strcmp(line, "end") == 0)
                        break;
        }
        fs_active = rs;
        fs_nrules = rs->nrules;
        return 0;
}

#ifdef FAKESENSOR_BAD_MODULE
struct fs_hw {
        void (*attach)(void);
};

static noinline int fs_attach_hooks(struct fs_hw *hw)
{
        /* The broken build: the hook table is not initialised. */
        hw->attach();
        return 0;
}
#endif

static int __init fakesensor_init(void)
{
        void *buf = NULL;
        size_t size = 0;
        ssize_t n;
        int r;

        pr_info("fakesensor: build %s loading\n", FS_BUILD);
#ifdef FAKESENSOR_BAD_MODULE
        r = fs_attach_hooks(NULL);
        if (r)
                return r;
#endif
        n = kernel_read_file_from_path(FS_CONTENT, 0, &buf, FS_MAX_SIZE, &size, READING_POLICY);
        if (n < 0) {
                pr_warn("fakesensor: no content (%s: %zd), running without rules\n", FS_CONTENT, n);
                return 0;
        }
        /* NUL-terminate for the line parser. */
        {
                char *text = kmalloc(n + 1, GFP_KERNEL);

                if (!text) {
                        vfree(buf);
                        return -ENOMEM;
                }
                memcpy(text, buf, n);
                text[n] = '\0';
                vfree(buf);
                r = fs_parse_rules(text, n);
                kfree(text);
        }
        if (r)
                return r;
        pr_info("fakesensor: active, %u rules, content version %s, build %s\n",
                fs_nrules, fs_active->version, FS_BUILD);
        return 0;
}

static void __exit fakesensor_exit(void)
{
        kfree(fs_active);
        pr_info("fakesensor: unloaded\n");
}

module_init(fakesensor_init);
module_exit(fakesensor_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Fake EDR sensor for lastgood's crash-loop tests");
MODULE_VERSION(FS_BUILD);
