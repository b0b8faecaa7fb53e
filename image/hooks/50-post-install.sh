#!/usr/bin/env bash
# Stage 50 "post-install" — system identity, users and services. Args: ROOTFS OUT CACHE REPO.
#  - hostname, hosts, fstab, an empty machine-id (systemd makes one at first boot);
#  - the sbd system users, one per daemon, and their groups (sysusers.d), and the admin account whose login shell is the admin CLI; its password is
#    SBD_ADMIN_PASSWORD from the environment, or ADMIN_PASSWORD_DEFAULT, which must then be changed at first login;
#  - units: an sbd-* unit is installed only when this build's CLI has its command (no unit for a daemon that does
#    not exist yet), then the presets in rootfs/usr/lib/systemd/system-preset are applied.
set -euo pipefail
root=${1:?rootfs} repo=${4:?repo}
: "${IMAGE_HOSTNAME:?}" "${ADMIN_USER:?}" "${ADMIN_PASSWORD_DEFAULT:?}" "${ROOTFS_LABEL:?}"

echo "$IMAGE_HOSTNAME" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$IMAGE_HOSTNAME" > "$root/etc/hosts"
printf 'LABEL=%s\t/\t%s\tdefaults,noatime\t0\t1\n' "$ROOTFS_LABEL" "$ROOTFS_FS" > "$root/etc/fstab"
: > "$root/etc/machine-id"

# Units whose command this build lacks are removed. Format of the map: UNIT<TAB>words of `sbd <command>`.
cli=(node "$repo/dist/src/cli/main.js")
help=$("${cli[@]}" help 2>/dev/null || true)
while IFS=$'\t' read -r unit words; do
  [ -z "$unit" ] || [[ $unit == \#* ]] && continue
  if [ -f "$root/usr/lib/systemd/system/$unit" ] && ! grep -q "^  sbd $words " <<<"$help"; then
    echo "post-install: no \`sbd $words\` in this build: leaving out $unit"
    rm -f "$root/usr/lib/systemd/system/$unit"
  fi
done < "$repo/image/units.map"

chroot "$root" systemd-sysusers
# The sudo rules (the admin shell; the state owner's exact systemctl lines) must parse, or sudo refuses them all.
chroot "$root" visudo -cqf /etc/sudoers.d/sbd-admin
if [ -n "${SBD_ADMIN_PASSWORD:-}" ]; then pw=$SBD_ADMIN_PASSWORD; forced=no; else pw=$ADMIN_PASSWORD_DEFAULT; forced=yes; fi
hash=$(printf '%s' "$pw" | openssl passwd -6 -stdin)
if ! chroot "$root" getent passwd "$ADMIN_USER" >/dev/null; then
  chroot "$root" useradd --create-home --shell /usr/lib/sbd/bin/admin-login --comment 'sbd administrator' \
    --groups systemd-journal "$ADMIN_USER"
fi
chroot "$root" usermod --password "$hash" "$ADMIN_USER"
[ "$forced" = yes ] && chroot "$root" chage --lastday 0 "$ADMIN_USER"
grep -qx /usr/lib/sbd/bin/admin-login "$root/etc/shells" || echo /usr/lib/sbd/bin/admin-login >> "$root/etc/shells"
echo "post-install: admin user \"$ADMIN_USER\" (password change forced at first login: $forced)"

# Debian's units the appliance does not need at boot (image/masked.units).
masked=$(grep -v '^#' "$repo/image/masked.units" | xargs)
systemctl --root="$root" mask $masked
echo "post-install: masked $masked"

units=$(cd "$root/usr/lib/systemd/system" && ls sbd-*.service 2>/dev/null || true)
systemctl --root="$root" preset systemd-networkd.service systemd-network-generator.service \
  systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer $units
echo "post-install: sbd units: ${units//$'\n'/ }"
