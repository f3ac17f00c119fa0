/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Safe mode: one boot without the security components, nothing persistent
 * changed. Everything is written beneath root_fd's /run (a tmpfs on a real
 * system, so the next boot is normal again by construction; in the
 * initramfs, initramfs-tools moves its /run onto the real root's /run, so the
 * caller passes the root whose /run survives into the system):
 *
 *   /run/modprobe.d/#lastgood-safemode.conf      "blacklist X" + "install X /bin/false"
 *   /run/systemd/system/UNIT -> /dev/null        what `systemctl mask --runtime` does
 *   /run/systemd/system.control/UNIT -> /dev/null
 *        /run/systemd/system ranks below /etc/systemd/system, so a runtime
 *        mask alone does not hide a unit file an admin put in /etc (checked
 *        with systemd 252: `systemctl --root` says "disabled"); system.control
 *        ranks above /etc and masks it ("masked-runtime").
 *   /run/lastgood/safe-mode                      reason, time, what is disabled
 *   /run/lastgood/safe-mode.issue                the console banner
 *   /run/issue.d/50-lastgood-safe-mode.issue     the same banner
 *
 * The banner, on Debian 12 (util-linux 2.38 agetty, checked here): agetty
 * reads /etc/issue and then /etc/issue.d/ *.issue; it reads /run/issue and
 * /run/issue.d only when /etc/issue does not exist, which on Debian it does.
 * So the package installs one static link, /etc/issue.d/
 * zz-lastgood-safe-mode.issue -> /run/lastgood/safe-mode.issue: dangling (and
 * silently skipped by agetty) on normal boots, the banner in safe mode. The
 * /run/issue.d copy serves systems without /etc/issue. Safe mode itself
 * never writes under /etc.
 */

#include "config/policy.h"
#include "lib/paths.h" /* LASTGOOD_SAFEMODE_*: the files it writes */
#include "lib/util.h"

#define SAFEMODE_MAX_REASON 512u

/*
 * Keeps every component with safe_mode: disable from starting for this boot,
 * writing beneath ROOT_FD's /run. A kernel_modules glob stands for the
 * modules installed under MODULES_ROOT_FD's /lib/modules that it matches
 * (recovery/module-expand.h: the installed system's, not the initramfs's);
 * a glob that matches none is listed in the marker file. A units glob
 * likewise stands for the unit files installed beneath MODULES_ROOT_FD
 * (recovery/unit-expand.h), each masked.
 * Best effort: every step is attempted even if one fails (safe mode is the
 * last rung of the ladder). Names that are not safe to write (see
 * name_is_module(), name_is_unit()) are skipped and listed in the marker file; a
 * unit path in /run that already holds something other than a /dev/null link
 * is left alone (the system.control mask still applies).
 * Returns the number of components disabled, or the first -errno.
 */
int safemode_apply(int modules_root_fd, int root_fd, const Policy *p, const char *reason) _wur_;
/* safemode_apply() when the installed system and /run are beneath one root. */
int safemode_apply_runtime(int root_fd, const Policy *p, const char *reason) _wur_;

/* True when the marker file exists. */
bool safemode_is_active(int root_fd);

/* The marker file's text (reason, time, components, modules, units);
 * -ENOENT when not in safe mode. */
int safemode_describe(int root_fd, char **ret_text) _wur_;

/* Removes what safemode_apply_runtime() wrote (only /dev/null links among the
 * unit paths): for a cancelled safe mode, or a /run that is not a tmpfs.
 * Returns 0 also when there was nothing to remove. */
int safemode_clear_runtime(int root_fd) _wur_;
