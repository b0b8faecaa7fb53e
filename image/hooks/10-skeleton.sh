#!/usr/bin/env bash
# Stage 10 "skeleton" — mmdebstrap --essential-hook: runs after the Essential:yes packages are unpacked and
# before the package list (and so the kernel) is installed. $1 = the rootfs. Part of the cached base.
# It prepares the initramfs so that hook 20 can build it once, small: only the listed modules (MODULES=list —
# MODULES=dep fails inside a chroot, the default "most" gives a 30 MB initrd) and zstd.
set -euo pipefail
root=${1:?rootfs}
: "${INITRD_MODULES:?INITRD_MODULES not exported by image/build.sh}"
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/usr/share/initramfs-tools/modules.d"
printf 'MODULES=list\nCOMPRESS=zstd\n' > "$root/etc/initramfs-tools/conf.d/sbd.conf"
# Not /etc/initramfs-tools/modules: that is a conffile of initramfs-tools and would clash on install.
printf '%s\n' $INITRD_MODULES > "$root/usr/share/initramfs-tools/modules.d/sbd"
