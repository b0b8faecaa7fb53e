#!/usr/bin/env bash
# Builds the sbd firmware image for one architecture: `image/build.sh x86_64|arm64 [--if-stale]`.
#
# Stages, always in this order (each a script in image/hooks/, documented in docs/image.md):
#   10-skeleton     mmdebstrap --essential-hook: initramfs settings, hostname, fstab     ┐ base rootfs, cached as
#   20-packages     mmdebstrap --customize-hook: trim kernel modules, build the initrd   ┘ build/image/cache/base-*.tar
#   30-app          Node 20 (registry package), the built JS, production node_modules
#   40-overlay      rootfs/ laid over the tree (units, sysusers.d, tmpfiles.d, presets, /etc/sbd)
#   45-firmware     firmware version, RAUC's system.conf + keyring (scripts/firmware-keys.sh)
#   50-post-install system users, admin login, unit presets, sudo rule
#   55-trim         what the running appliance never reads goes (apt, dpkg + its database, Perl, udev's hwdb,
#                   gconv, ICU's locale data…); OUT/trim-report.txt lists it (in the size report)
#   60-finalize     GPT disk, built as files (no loop devices): IMAGE_LAYOUT=ab (default) ESP (systemd-boot,
#                   kernel, initrd) + two read-only SquashFS root slots + a data partition (60-finalize-ab.sh);
#                   single: ESP + one ext4 root. .img.zst + bmap to flash, kernel + initrd for direct boot, size report
# The base cache key is a hash of every setting that shapes the base (suite, packages, modules) plus hooks 10 and 20,
# so a change to the app, the overlay or the later hooks reuses it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
ARCH=${1:?usage: image/build.sh x86_64|arm64 [--if-stale]}
mode=${2:-}
case "$ARCH" in x86_64|arm64) ;; *) echo "image/build.sh: unknown ARCH \"$ARCH\" (x86_64 or arm64)" >&2; exit 2;; esac
[ "$(id -u)" = 0 ] || { echo "image/build.sh: needs root (mmdebstrap --mode=root, chroot)" >&2; exit 1; }

# shellcheck source=settings.conf
source "$here/settings.conf"
case "$IMAGE_LAYOUT" in ab|single) ;; *) echo "image/build.sh: IMAGE_LAYOUT is ab or single, not \"$IMAGE_LAYOUT\"" >&2; exit 2 ;; esac
var() { local n="$1_$ARCH"; printf '%s' "${!n}"; }
DEB_ARCH=$(var DEB_ARCH); KERNEL_PACKAGE=$(var KERNEL_PACKAGE); CONSOLE=$(var CONSOLE)
ROOT_TYPE=$(var ROOT_TYPE); EFI_ARCH=$(var EFI_ARCH)
CMDLINE=${KERNEL_CMDLINE//@CONSOLE@/$CONSOLE}
export ARCH DEB_ARCH CONSOLE CMDLINE INITRD_MODULES KEEP_MODULES NODE_VERSION IMAGE_HOSTNAME ADMIN_USER \
  ADMIN_PASSWORD_DEFAULT ROOTFS_FS ROOTFS_LABEL ROOTFS_FREE_MB ESP_SIZE_MB ESP_LABEL ESP_TYPE ROOT_TYPE EFI_ARCH \
  IMAGE_ZSTD_LEVEL PG_PACKAGES PG_PROGRAMS PG_MODULES

# SBD_IMAGE_DIR: another output folder (parallel work on the image); the base cache stays shared.
build="${SBD_IMAGE_DIR:-$repo/build/image}"
cache="$repo/build/image/cache"
out="$build/$ARCH"
mkdir -p "$cache" "$out"

hash_of() { sha256sum | cut -c1-16; }
base_key=$( { printf '%s\n' "$SUITE" "$COMPONENTS" "$SECURITY_SUITE" "$VARIANT" "$DEB_ARCH" "$KERNEL_PACKAGE" \
  $PACKAGES -- "$PG_PACKAGES" "$PG_PROGRAMS" "$PG_MODULES" -- $INITRD_MODULES -- $KEEP_MODULES; cat "$here/hooks/10-skeleton.sh" "$here/hooks/20-packages.sh"; } | hash_of)
# The whole input of the final image: base + app + overlay + later hooks + settings (the admin password too).
inputs_key=$( { echo "$base_key" "$IMAGE_LAYOUT"; cat "$here/settings.conf" "$here/build.sh" "$here"/hooks/*.sh "$here"/kernel-lz4.sh "$here"/*.mjs "$here"/units.map "$here"/masked.units "$repo/package-lock.json" "$repo"/scripts/bundle*.ts;
  echo "${SBD_ADMIN_PASSWORD:-}" "${FIRMWARE_VERSION:-}" "${FIRMWARE_KEYRING:-}" "${FIRMWARE_CERT:-}"; for d in "$repo/dist/src" "$repo/dist/native" "$repo/rootfs"; do
  [ -d "$d" ] && find "$d" -type f -print0 | sort -z | xargs -0 -r sha256sum; done; } | hash_of)
if [ "$mode" = --if-stale ] && [ -f "$out/inputs.key" ] && [ "$(cat "$out/inputs.key")" = "$inputs_key" ] \
   && [ -f "$out/disk.raw" ]; then
  echo "image $ARCH is up to date ($out)"
  exit 0
fi

t0=$(date +%s)
stamp() { echo "[image $ARCH +$(( $(date +%s) - t0 ))s] $*"; }

if [ "$ARCH" != x86_64 ] && [ "$(uname -m)" != aarch64 ]; then
  # Foreign rootfs: binaries inside run through qemu-user (binfmt_misc).
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
  arch-test "$DEB_ARCH" >/dev/null || { echo "image/build.sh: cannot run $DEB_ARCH binaries (qemu-user-static, binfmt)" >&2; exit 1; }
fi

base_tar="$cache/base-$ARCH-$base_key.tar"
if [ -f "$base_tar" ]; then
  stamp "base rootfs cached: $(basename "$base_tar")"
else
  stamp "building base rootfs with mmdebstrap ($SUITE, $DEB_ARCH)"
  # INITRD=No: the kernel's postinst skips the initramfs; hook 20 builds it once, with the module list.
  INITRD=No mmdebstrap --variant="$VARIANT" --mode=root --arch="$DEB_ARCH" \
    --include="$(echo $PACKAGES $KERNEL_PACKAGE | tr ' ' ',')" \
    --components="$COMPONENTS" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/lib/firmware/*' --dpkgopt='path-exclude=/usr/lib/firmware/*' \
    --dpkgopt='force-unsafe-io' \
    --essential-hook="$here/hooks/10-skeleton.sh \"\$1\"" \
    --customize-hook="$here/hooks/20-packages.sh \"\$1\"" \
    --skip=cleanup/reproducible \
    "$SUITE" "$cache/partial-$ARCH-$base_key.$$.tar" ${SBD_APT_MIRROR:+"$SBD_APT_MIRROR"} 2>&1 | sed 's/^/  /'
  mv "$cache/partial-$ARCH-$base_key.$$.tar" "$base_tar"
  # Keep the three newest bases per architecture (parallel image work may use different ones).
  ls -t "$cache"/base-"$ARCH"-*.tar | tail -n +4 | xargs -r rm -f
  stamp "base rootfs built"
fi

root="$out/rootfs"
rm -rf "$root" && mkdir -p "$root"
tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$base_tar" -C "$root"
stamp "base extracted"
for hook in 30-app 40-overlay 45-firmware 50-post-install 55-trim 60-finalize; do
  stamp "hook $hook"
  "$here/hooks/$hook.sh" "$root" "$out" "$cache" "$repo"
done
rm -rf "$root"
echo "$inputs_key" > "$out/inputs.key"
stamp "done: $out"
cat "$out/size-report.txt"
