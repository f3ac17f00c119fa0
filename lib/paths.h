/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Every path lastgood owns, in one place. All of them are paths of the
 * installed system: open them beneath the root fd (root_openat(),
 * root_open_dir()), never by pasting them onto --root.
 *
 * The policy can move some of them (boot.state_file, snapshots.dir,
 * safe_mode.secret_file): the *_DEFAULT names are the values it starts from.
 * Documented in lastgood(8) and lastgood-policy(5); a change here is a
 * change of the on-disk interface.
 */

/* ---- persistent state: /var/lib/lastgood ---- */

#define LASTGOOD_STATE_DIR "/var/lib/lastgood"
/* The append-only, hash-chained event log (name inside LASTGOOD_STATE_DIR). */
#define LASTGOOD_EVENTLOG_NAME "events.jsonl"
#define LASTGOOD_EVENTLOG_FILE LASTGOOD_STATE_DIR "/" LASTGOOD_EVENTLOG_NAME
/* Crash records archived from pstore before it is cleared. */
#define LASTGOOD_CRASH_DIR LASTGOOD_STATE_DIR "/crashes"
/* The quarantine registry and the stashed content of each incident. */
#define LASTGOOD_QUARANTINE_DIR LASTGOOD_STATE_DIR "/quarantine"
/* Beside the components' directories there, so no component may be called
 * so (name_is_component()). */
#define LASTGOOD_QUARANTINE_REGISTRY_NAME "registry"
#define LASTGOOD_QUARANTINE_REGISTRY LASTGOOD_QUARANTINE_DIR "/" LASTGOOD_QUARANTINE_REGISTRY_NAME
/* Content a restore replaced: <dir>/<component>/<UTC stamp>/<content path>. */
#define LASTGOOD_REPLACED_DIR LASTGOOD_STATE_DIR "/replaced"
/* How often each recovery ran, per component and action (for the textfile report). */
#define LASTGOOD_RECOVERIES_FILE LASTGOOD_STATE_DIR "/recoveries"
/* The metrics textfile directory found missing (its path): reported once,
 * not at every boot; removed when the directory is there again. */
#define LASTGOOD_REPORT_DIR_MISSING_FILE LASTGOOD_STATE_DIR "/report-dir-missing"
/* The last event-log sequence number forwarded to the journal. */
#define LASTGOOD_JOURNAL_CURSOR_FILE LASTGOOD_STATE_DIR "/journal-cursor"
/* The key that authenticates the boot state record (agent/state.h): 32
 * random bytes, root-owned 0600, made on the first write. */
#define LASTGOOD_STATE_KEY_NAME "state.key"
#define LASTGOOD_STATE_KEY_FILE LASTGOOD_STATE_DIR "/" LASTGOOD_STATE_KEY_NAME
/* The last merged policy that validated at a confirmed boot: what an invalid
 * policy is replaced with (config/policy.h). Root-only. */
#define LASTGOOD_POLICY_LAST_GOOD_FILE LASTGOOD_STATE_DIR "/policy.last-good"
/* The validated policy, compiled (config/policy-cache.h); not state: a
 * missing or stale one only costs a parse. */
#define LASTGOOD_POLICY_CACHE_NAME "policy.cache"
#define LASTGOOD_POLICY_CACHE_FILE LASTGOOD_STATE_DIR "/" LASTGOOD_POLICY_CACHE_NAME
/* Policy defaults (boot.state_file, snapshots.dir, safe_mode.secret_file). */
#define LASTGOOD_STATE_FILE_DEFAULT LASTGOOD_STATE_DIR "/state"
#define LASTGOOD_SNAPSHOT_DIR_DEFAULT LASTGOOD_STATE_DIR "/snapshots"
#define LASTGOOD_HELPDESK_SECRET_DEFAULT LASTGOOD_STATE_DIR "/helpdesk.secret"

/* ---- runtime state: /run/lastgood (gone at the next boot) ---- */

#define LASTGOOD_RUN_DIR "/run/lastgood"
/* Present while this boot is a safe-mode boot; says why and what is held back. */
#define LASTGOOD_SAFEMODE_MARKER LASTGOOD_RUN_DIR "/safe-mode"
#define LASTGOOD_SAFEMODE_BANNER LASTGOOD_RUN_DIR "/safe-mode.issue"
/* Left by the initramfs script (and lastgood-boot.service) once this boot
 * is counted: a later `lastgood boot` in the same boot only reports. */
#define LASTGOOD_BOOTED_MARKER LASTGOOD_RUN_DIR "/booted"
/* The metrics textfile could not be written (read-only root in the
 * initramfs): lastgood-boot.service runs `lastgood boot` again to write it. */
#define LASTGOOD_REPORT_PENDING_MARKER LASTGOOD_RUN_DIR "/report-pending"
/* Mount points: the ESP (safe-mode requests) and a boot.state device. */
#define LASTGOOD_ESP_MOUNT_DIR LASTGOOD_RUN_DIR "/esp"
#define LASTGOOD_STATE_DEVICE_MOUNT LASTGOOD_RUN_DIR "/state"

/* ---- configuration: /etc/lastgood ---- */

#define LASTGOOD_CONFIG_DIR "/etc/lastgood"
#define LASTGOOD_POLICY_FILE LASTGOOD_CONFIG_DIR "/policy.yaml"
#define LASTGOOD_POLICY_DROPIN_DIR LASTGOOD_CONFIG_DIR "/policy.d"

/* ---- vendor files: /usr/lib/lastgood, /usr/share/lastgood ---- */

/* Where a package (a sensor's own, or lastgood's) drops policy files: read
 * beside LASTGOOD_POLICY_DROPIN_DIR, which overrides (same name) or masks
 * (same name, a symlink to /dev/null) each of them, as systemd's conf.d. */
#define LASTGOOD_VENDOR_DIR "/usr/lib/lastgood"
#define LASTGOOD_VENDOR_POLICY_DROPIN_DIR LASTGOOD_VENDOR_DIR "/policy.d"
/* The profiles lastgood ships, one NAME.yaml drop-in per product; `lastgood
 * profile enable NAME` links LASTGOOD_POLICY_DROPIN_DIR/NAME.yaml to one. */
#define LASTGOOD_PROFILES_DIR "/usr/share/lastgood/profiles"
/* What a drop-in symlink points at to mask the same-named vendor file. */
#define LASTGOOD_MASK_TARGET "/dev/null"

/* ---- lastgood's files in other programs' directories ---- */

#define MODPROBE_CONF_DIR "/etc/modprobe.d"
#define MODPROBE_RUNTIME_CONF_DIR "/run/modprobe.d"
#define SYSTEMD_SYSTEM_DIR "/etc/systemd/system"
#define SYSTEMD_RUNTIME_DIR "/run/systemd/system"
#define SYSTEMD_RUNTIME_CONTROL_DIR "/run/systemd/system.control"
#define SYSTEMD_JOURNAL_SOCKET "/run/systemd/journal/socket"
/*
 * "install <module> /bin/false" lines of quarantined modules (persistent).
 *
 * The name is what makes the block stick. kmod (libkmod-config.c) reads the
 * *.conf files of /etc/modprobe.d, /run/modprobe.d, /usr/local/lib/modprobe.d,
 * /usr/lib/modprobe.d and /lib/modprobe.d as one list sorted by strcmp() of
 * the file name (a name in an earlier directory hides the same name in a
 * later one; names starting with "." are skipped), and a module's install
 * command is the first "install" line for it in that order. A vendor's
 * "install sensor /sbin/modprobe --ignore-install sensor" in 00-vendor.conf
 * beat "lastgood-quarantine.conf". '#' (0x23) sorts before every digit,
 * letter, '-', '+', '_' and '.', i.e. before any name a package ships; only
 * names starting with a control character, ' ', '!' or '"' could come first.
 * "#" is harmless in a shell inside a path (a comment only at a word's start),
 * unlike '!' (history expansion). The _LEGACY names are removed when lastgood
 * writes the new ones (upgrades).
 */
#define LASTGOOD_QUARANTINE_MODPROBE_CONF_NAME "#lastgood-quarantine.conf"
#define LASTGOOD_QUARANTINE_MODPROBE_CONF MODPROBE_CONF_DIR "/" LASTGOOD_QUARANTINE_MODPROBE_CONF_NAME
#define LASTGOOD_QUARANTINE_MODPROBE_CONF_LEGACY_NAME "lastgood-quarantine.conf"
/* The same for a safe-mode boot (runtime, this boot only), named likewise. */
#define LASTGOOD_SAFEMODE_MODPROBE_CONF MODPROBE_RUNTIME_CONF_DIR "/#lastgood-safemode.conf"
#define LASTGOOD_SAFEMODE_MODPROBE_CONF_LEGACY MODPROBE_RUNTIME_CONF_DIR "/lastgood-safemode.conf"
/* The console login banner of a safe-mode boot (agetty reads issue.d). */
#define LASTGOOD_SAFEMODE_RUN_ISSUE "/run/issue.d/50-lastgood-safe-mode.issue"
