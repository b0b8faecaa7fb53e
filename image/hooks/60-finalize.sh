#!/usr/bin/env bash
# Stage 60 "finalize" — the artifacts in OUT. Args: ROOTFS OUT CACHE REPO.
#  disk.raw            one ext4 file system, whole disk (mkfs.ext4 -d: no loop device, no root privileges needed)
#  sbd-<arch>.qcow2    the same, compressed (qcow2 with zstd clusters) — the image to ship
#  vmlinuz, initrd.img for direct kernel boot;  cmdline: the kernel command line;  size-report.txt
set -euo pipefail
root=${1:?rootfs} out=${2:?out}
: "${ARCH:?}" "${CMDLINE:?}" "${ROOTFS_LABEL:?}" "${ROOTFS_FREE_MB:?}"
kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)
cp "$kernel" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img.tmp" && mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$CMDLINE" > "$out/cmdline"

used_mb=$(du -sm "$root" | cut -f1)
size_mb=$(( (used_mb + ROOTFS_FREE_MB + 63) / 64 * 64 ))
rm -f "$out/disk.raw.tmp"
mkfs.ext4 -q -F -L "$ROOTFS_LABEL" -d "$root" "$out/disk.raw.tmp" "${size_mb}M"
mv "$out/disk.raw.tmp" "$out/disk.raw"
qemu-img convert -c -O qcow2 -o compression_type=zstd "$out/disk.raw" "$out/sbd-$ARCH.qcow2.tmp"
mv "$out/sbd-$ARCH.qcow2.tmp" "$out/sbd-$ARCH.qcow2"

mb() { du -sm "$@" 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
mbs() { du -sm --apparent-size "$1" | cut -f1; }
{
  echo "sbd image $ARCH — $(date -u +%Y-%m-%dT%H:%MZ)"
  printf '  %-34s %6s MB\n' "compressed qcow2 (sbd-$ARCH.qcow2)" "$(mbs "$out/sbd-$ARCH.qcow2")"
  printf '  %-34s %6s MB\n' "raw disk (disk.raw)" "$size_mb"
  printf '  %-34s %6s MB\n' "installed (rootfs)" "$used_mb"
  printf '  %-34s %6s MB\n' "  node (/usr/local/bin/node)" "$(mb "$root/usr/local/bin/node")"
  printf '  %-34s %6s MB\n' "  sbd app (/usr/lib/sbd)" "$(mb "$root/usr/lib/sbd")"
  printf '  %-34s %6s MB\n' "  kernel modules (/usr/lib/modules)" "$(mb "$root/usr/lib/modules")"
  printf '  %-34s %6s MB\n' "  /boot (kernel + initrd)" "$(mb "$root/boot")"
  printf '  %-34s %6s MB\n' "kernel (vmlinuz)" "$(mbs "$out/vmlinuz")"
  printf '  %-34s %6s MB\n' "initrd (initrd.img)" "$(mbs "$out/initrd.img")"
} > "$out/size-report.txt"
