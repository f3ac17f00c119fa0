#!/bin/sh
# Installs (or removes) lastgood's boot integration; `make install` and
# `make uninstall` call it after the binary and the policy:
#
#   DESTDIR=… PREFIX=… SYSCONFDIR=… MANDIR=… INITRD=… dist/install.sh install|uninstall
#
# What goes where:
#   initramfs-tools hook + local-bottom script  PREFIX=/usr: /usr/share/initramfs-tools/
#                                               otherwise:   SYSCONFDIR/initramfs-tools/
#                                               (initramfs-tools reads only those two)
#   dracut module 90lastgood                    /usr/lib/dracut/modules.d/90lastgood/
#                                               (whatever PREFIX: dracut reads only that)
#   which of the two: INITRD=auto (default) | initramfs-tools | dracut | both.
#   auto looks at the target system (DESTDIR, or /): dracut's functions
#   without initramfs-tools' → dracut; initramfs-tools' without dracut's →
#   initramfs-tools; both or neither (a staging directory, a package) → both.
#   uninstall removes both.
#   systemd units                               PREFIX/lib/systemd/system/
#   GRUB safe-mode entry                        SYSCONFDIR/grub.d/42_lastgood
#   man pages (docs/man/*.5, *.8, if built)     MANDIR/man5, MANDIR/man8
#   bash completion (dist/bash-completion/)     PREFIX/share/bash-completion/completions/
# Installed files name the binary as PREFIX/sbin/lastgood.
#
# With an empty DESTDIR (a real install) the units are enabled (disabled on
# uninstall) when systemctl exists; the initramfs and grub.cfg are not
# regenerated: the script says which commands do it.
set -eu

action=${1:-}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
SYSCONFDIR=${SYSCONFDIR:-/etc}
MANDIR=${MANDIR:-$PREFIX/share/man}
SBINDIR=${SBINDIR:-$PREFIX/sbin}
src=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$src/.." && pwd)

if [ "$PREFIX" = /usr ]; then
        itdir=/usr/share/initramfs-tools
else
        itdir=$SYSCONFDIR/initramfs-tools
fi
dracutdir=/usr/lib/dracut/modules.d/90lastgood
INITRD=${INITRD:-auto}
unitdir=$PREFIX/lib/systemd/system
units="lastgood-boot.service lastgood-confirm.service lastgood-journal.service"
datadir=$PREFIX/share/lastgood

# install_subst MODE SRC DEST — installs SRC with @SBINDIR@/@SYSCONFDIR@ filled in.
install_subst() {
        mkdir -p "$(dirname "$DESTDIR$3")"
        sed -e "s|@SBINDIR@|$SBINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" "$2" >"$DESTDIR$3.tmp"
        chmod "$1" "$DESTDIR$3.tmp"
        mv -f "$DESTDIR$3.tmp" "$DESTDIR$3"
        echo "  $3"
}

# initrd_tools — prints which initrd generators to install for (INITRD).
initrd_tools() {
        case $INITRD in
        initramfs-tools | dracut) echo "$INITRD" ;;
        both) echo "initramfs-tools dracut" ;;
        auto)
                local it=0 dr=0
                [ -e "$DESTDIR/usr/share/initramfs-tools/hook-functions" ] && it=1
                [ -e "$DESTDIR/usr/lib/dracut/dracut-functions.sh" ] && dr=1
                if [ $dr = 1 ] && [ $it = 0 ]; then
                        echo dracut
                elif [ $it = 1 ] && [ $dr = 0 ]; then
                        echo initramfs-tools
                else
                        echo "initramfs-tools dracut"
                fi
                ;;
        *)
                echo "install.sh: INITRD=$INITRD: expected auto, initramfs-tools, dracut or both" >&2
                return 2
                ;;
        esac
}

have_systemctl() { [ -z "$DESTDIR" ] && command -v systemctl >/dev/null 2>&1; }

do_install() {
        local tools regen=
        tools=$(initrd_tools) || exit 2
        echo "lastgood boot integration (initrd: $tools):"
        case " $tools " in *" initramfs-tools "*)
                install_subst 0755 "$src/initramfs-tools/hooks/lastgood" "$itdir/hooks/lastgood"
                install_subst 0755 "$src/initramfs-tools/scripts/local-bottom/lastgood" "$itdir/scripts/local-bottom/lastgood"
                regen="update-initramfs -u"
                ;;
        esac
        case " $tools " in *" dracut "*)
                install_subst 0755 "$src/dracut/90lastgood/module-setup.sh" "$dracutdir/module-setup.sh"
                install_subst 0755 "$src/dracut/90lastgood/lastgood-pre-pivot.sh" "$dracutdir/lastgood-pre-pivot.sh"
                regen="${regen:+$regen or }dracut -f"
                ;;
        esac
        for u in $units; do
                install_subst 0644 "$src/systemd/$u" "$unitdir/$u"
        done
        install_subst 0755 "$src/grub.d/42_lastgood" "$SYSCONFDIR/grub.d/42_lastgood"
        for page in "$top"/docs/man/*.5 "$top"/docs/man/*.8; do
                [ -f "$page" ] || continue
                sec=${page##*.}
                install -D -m 0644 "$page" "$DESTDIR$MANDIR/man$sec/$(basename "$page")"
                echo "  $MANDIR/man$sec/$(basename "$page")"
        done
        if [ -f "$src/bash-completion/lastgood" ]; then
                install -D -m 0644 "$src/bash-completion/lastgood" "$DESTDIR$PREFIX/share/bash-completion/completions/lastgood"
                echo "  $PREFIX/share/bash-completion/completions/lastgood"
        fi
        # The status schema and the Prometheus rules, where the man page says.
        for f in "$top/docs/status.schema.json" "$src/prometheus/lastgood.rules.yml"; do
                [ -f "$f" ] || continue
                case $f in *.json) d=$datadir ;; *) d=$datadir/prometheus ;; esac
                install -D -m 0644 "$f" "$DESTDIR$d/$(basename "$f")"
                echo "  $d/$(basename "$f")"
        done
        # Safe mode's login banner: agetty reads /etc/issue.d, not /run/issue.d,
        # on Debian 12; the link dangles (and is skipped) outside safe mode.
        mkdir -p "$DESTDIR$SYSCONFDIR/issue.d"
        ln -sfn /run/lastgood/safe-mode.issue "$DESTDIR$SYSCONFDIR/issue.d/zz-lastgood-safe-mode.issue"
        echo "  $SYSCONFDIR/issue.d/zz-lastgood-safe-mode.issue"
        if have_systemctl; then
                systemctl daemon-reload 2>/dev/null || true
                systemctl enable $units 2>/dev/null || systemctl --root=/ enable $units || true
        fi
        if [ -z "$DESTDIR" ]; then
                echo "next: $regen (lastgood in the initramfs), update-grub (the safe-mode entry)"
        fi
}

do_uninstall() {
        if have_systemctl; then
                systemctl disable $units 2>/dev/null || systemctl --root=/ disable $units 2>/dev/null || true
        fi
        for f in "$itdir/hooks/lastgood" "$itdir/scripts/local-bottom/lastgood" \
                "$dracutdir/module-setup.sh" "$dracutdir/lastgood-pre-pivot.sh" \
                "$unitdir/lastgood-boot.service" "$unitdir/lastgood-confirm.service" "$unitdir/lastgood-journal.service" \
                "$datadir/status.schema.json" "$datadir/prometheus/lastgood.rules.yml" \
                "$SYSCONFDIR/issue.d/zz-lastgood-safe-mode.issue" \
                "$SYSCONFDIR/grub.d/42_lastgood" "$PREFIX/share/bash-completion/completions/lastgood"; do
                rm -f "$DESTDIR$f"
        done
        rmdir "$DESTDIR$datadir/prometheus" "$DESTDIR$datadir" "$DESTDIR$dracutdir" 2>/dev/null || true
        for page in "$top"/docs/man/*.5 "$top"/docs/man/*.8 "$DESTDIR$MANDIR"/man5/lastgood*.5 "$DESTDIR$MANDIR"/man8/lastgood*.8; do
                case $page in *\**) continue ;; esac
                sec=${page##*.}
                rm -f "$DESTDIR$MANDIR/man$sec/$(basename "$page")"
        done
        if have_systemctl; then
                systemctl daemon-reload 2>/dev/null || true
        fi
        if [ -z "$DESTDIR" ]; then
                echo "next: update-initramfs -u (or dracut -f) and update-grub, to drop lastgood from the initramfs and the menu"
        fi
}

case $action in
install) do_install ;;
uninstall) do_uninstall ;;
*)
        echo "usage: dist/install.sh install|uninstall (DESTDIR, PREFIX, SYSCONFDIR, MANDIR, INITRD from the environment)" >&2
        exit 2
        ;;
esac
