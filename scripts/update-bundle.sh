#!/usr/bin/env bash
# `make update-bundle [ARCH=x86_64]`: a signed RAUC bundle of the built image's root slot (docs/firmware-update.md).
#   scripts/update-bundle.sh ARCH [OUTPUT.raucb]
# Inputs: the image built by image/build.sh in ${SBD_IMAGE_DIR:-build/image}/ARCH: its root slot image (ROOT_IMAGE,
# default root.squashfs there: the A/B layout's slot image, image/hooks/60-finalize-ab.sh; or root.img) and firmware-version. Signing: scripts/firmware-keys.sh
# (FIRMWARE_KEY/FIRMWARE_CERT from the environment, else the development key in build/firmware-keys/).
# BUNDLE_FORMAT: verity (default; what the appliance accepts) or plain (host tests: no dm-verity in a container).
# The bundle carries the slot hook rootfs/usr/lib/sbd/bin/rauc-post-install (kernel + initrd to the ESP) and, when
# the image folder has them (image/build.sh writes them), that build's vmlinuz and initrd.img for it: the root slot
# image has no copy of its own (image/hooks/45-firmware.sh). Checked
# with `rauc info --keyring` before it is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: scripts/update-bundle.sh ARCH [OUTPUT.raucb]}
case "$arch" in x86_64|arm64) ;; *) echo "update-bundle: ARCH is x86_64 or arm64, not '$arch'" >&2; exit 2 ;; esac
command -v rauc >/dev/null || { echo "update-bundle: rauc missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
out=${SBD_IMAGE_DIR:-build/image}/$arch
root_image=${ROOT_IMAGE:-}
if [ -z "$root_image" ]; then
  for f in root.squashfs root.img; do [ -f "$out/$f" ] && { root_image=$out/$f; break; }; done
fi
[ -n "$root_image" ] && [ -f "$root_image" ] || { echo "update-bundle: no root slot image in $out (build the A/B image, or set ROOT_IMAGE)" >&2; exit 1; }
version=${FIRMWARE_VERSION:-$(head -n1 "$out/firmware-version" 2>/dev/null || true)}
[ -n "$version" ] || { echo "update-bundle: no $out/firmware-version (image/hooks/45-firmware.sh writes it)" >&2; exit 1; }
format=${BUNDLE_FORMAT:-verity}
bundle=${2:-$out/sbd-$arch-$version.raucb}
eval "$(scripts/firmware-keys.sh)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/content"
ln "$root_image" "$work/content/rootfs.img" 2>/dev/null || cp "$root_image" "$work/content/rootfs.img"
install -m 0755 rootfs/usr/lib/sbd/bin/rauc-post-install "$work/content/hook"
for f in vmlinuz initrd.img; do
  [ ! -f "$out/$f" ] || cp "$out/$f" "$work/content/$f"
done
cat > "$work/content/manifest.raucm" <<MANIFEST
[update]
compatible=sbd-$arch
version=$version
description=sbd firmware $version ($arch)

[bundle]
format=$format

[hooks]
filename=hook

[image.rootfs]
filename=rootfs.img
hooks=post-install
MANIFEST
rm -f "$bundle"
rauc bundle --cert="$FIRMWARE_CERT" --key="$FIRMWARE_KEY" "$work/content" "$bundle" >/dev/null
rauc info --keyring="$FIRMWARE_KEYRING" "$bundle" >/dev/null 2>&1 || { echo "update-bundle: $bundle does not verify against $FIRMWARE_KEYRING" >&2; exit 1; }
echo "update-bundle: $bundle ($(du -m "$bundle" | cut -f1) MB, version $version, compatible sbd-$arch, $format)"
