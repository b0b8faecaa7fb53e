#!/usr/bin/env bash
# Stage 45 "firmware" — what RAUC updates need in the root (docs/firmware-update.md). Args: ROOTFS OUT CACHE REPO.
#  /usr/lib/sbd/firmware-version   this build's version (FIRMWARE_VERSION, default <package version>+<UTC time>),
#                                  also OUT/firmware-version for scripts/update-bundle.sh
#  /etc/rauc/system.conf           compatible sbd-ARCH;  /etc/rauc/keyring.pem: the firmware-signing CA
#                                  (scripts/firmware-keys.sh: FIRMWARE_KEYRING, else the development CA)
# The slot's kernel and initrd are not in the root: the ESP holds the booted ones and an update bundle carries the
# new ones beside its root image (scripts/update-bundle.sh), which the slot hook copies to the ESP (issue 19 item 5:
# a second copy in the root cost 14 MB of the x86-64 image, more on arm64).
set -euo pipefail
root=${1:?rootfs} out=${2:?out} repo=${4:?repo}
: "${ARCH:?}"
version=${FIRMWARE_VERSION:-$(node -p "require('$repo/package.json').version")+$(date -u +%Y%m%d.%H%M%S)}
[[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+~-]*$ ]] || { echo "45-firmware: bad FIRMWARE_VERSION '$version'" >&2; exit 1; }
printf '%s\n' "$version" > "$root/usr/lib/sbd/firmware-version"
printf '%s\n' "$version" > "$out/firmware-version"
sed -i "s/@ARCH@/$ARCH/g" "$root/etc/rauc/system.conf"
eval "$("$repo/scripts/firmware-keys.sh")"
install -m 0644 "$FIRMWARE_KEYRING" "$root/etc/rauc/keyring.pem"
echo "firmware: version $version, keyring $(openssl x509 -noout -subject -in "$FIRMWARE_KEYRING")"
