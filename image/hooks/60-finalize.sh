#!/usr/bin/env bash
# Stage 60 "finalize" — the artifacts in OUT. Args: ROOTFS OUT CACHE REPO.
#  disk.raw              the GPT disk that UEFI firmware boots: ESP (systemd-boot, loader entry, kernel, initrd) +
#                        ext4 root. Each partition is built as a file (mkfs.vfat -C + mcopy, mkfs.ext4 -d: no loop
#                        device), then placed with sfdisk + dd. The same bytes are flashed.
#  sbd-<arch>.img.zst    disk.raw compressed (zstd) — the image to ship;  sbd-<arch>.img.bmap: its block map
#                        (bmaptool create) so `bmaptool copy` writes only the used blocks
#  vmlinuz, initrd.img   for image/run.sh --boot kernel (QEMU's direct kernel boot);  cmdline;  size-report.txt
# IMAGE_LAYOUT=ab: the disk is made by 60-finalize-ab.sh instead (A/B root slots + data partition).
set -euo pipefail
root=${1:?rootfs} out=${2:?out} cache=${3:?cache} repo=${4:?repo}
here=$(cd "$(dirname "$0")" && pwd)
# The A/B layout's settings (build.sh exports the single layout's; IMAGE_LAYOUT from the environment wins).
# shellcheck source=../settings.conf
source "$repo/image/settings.conf"
: "${ARCH:?}" "${CMDLINE:?}" "${ROOTFS_LABEL:?}" "${ROOTFS_FREE_MB:?}" "${ESP_SIZE_MB:?}" "${ESP_LABEL:?}" \
  "${ESP_TYPE:?}" "${ROOT_TYPE:?}" "${EFI_ARCH:?}" "${IMAGE_ZSTD_LEVEL:?}"
kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)
cp "$kernel" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img.tmp" && mv "$out/initrd.img.tmp" "$out/initrd.img"
# x86-64: the same kernel with an LZ4 payload instead of Debian's XZ (image/kernel-lz4.sh: under TCG the EFI stub
# spent 4-5 s of every boot unpacking XZ). KERNEL_LZ4=0 keeps Debian's file; so does a failure (say, the archive no
# longer has the kernel's exact source), loudly, and the size report names the payload either way.
kernel_payload="as Debian ships it"
if [ "$ARCH" = x86_64 ] && [ "${KERNEL_LZ4:-1}" = 1 ]; then
  if "$repo/image/kernel-lz4.sh" "$kernel" "$(ls "$root"/boot/config-* | sort -V | tail -1)" "$cache" "$out/vmlinuz"; then
    kernel_payload="LZ4 (image/kernel-lz4.sh)"
  else
    echo "60-finalize: WARNING: kept Debian's XZ kernel, image/kernel-lz4.sh failed (boots ~4 s slower under TCG)" >&2
  fi
fi
# The root's /boot copies are pruned below: the ESP takes these.
kernel=$out/vmlinuz initrd=$out/initrd.img
# A new GPT id for the root partition each build: the kernel finds its root by it (not /dev/vda, which is the whole
# disk now, nor a label another disk in the machine could carry too).
root_uuid=$(cat /proc/sys/kernel/random/uuid)
cmdline=${CMDLINE//@ROOT_PARTUUID@/$root_uuid}
echo "$cmdline" > "$out/cmdline"

work=$(mktemp -d "$out/finalize.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The root was trimmed by stage 55 (55-trim.sh: what the running appliance never reads; OUT/trim-report.txt). Its
# /boot copy of the kernel and initrd goes here, once copied: the ESP boots them (and --boot kernel takes the copies
# in OUT); in the root they are 14 MB that compress to nothing, and no kernel is installed on a running appliance.
rm -f "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-* "$root"/boot/System.map-* "$root"/boot/config-* \
  "$root"/vmlinuz "$root"/vmlinuz.old "$root"/initrd.img "$root"/initrd.img.old
if [ "$IMAGE_LAYOUT" = ab ]; then
  # shellcheck source=60-finalize-ab.sh
  source "$here/60-finalize-ab.sh"
  exit 0
fi
# --- ESP: systemd-boot from the rootfs' own systemd-boot-efi (the target architecture's build) ------------------
loader="$root/usr/lib/systemd/boot/efi/systemd-boot$EFI_ARCH.efi"
[ -f "$loader" ] || { echo "60-finalize: $loader missing (systemd-boot-efi in PACKAGES)" >&2; exit 1; }
upper=$(echo "$EFI_ARCH" | tr a-z A-Z)
mkdir -p "$work/esp/EFI/BOOT" "$work/esp/loader/entries" "$work/esp/sbd"
cp "$loader" "$work/esp/EFI/BOOT/BOOT$upper.EFI"
cp "$kernel" "$work/esp/sbd/vmlinuz"
cp "$initrd" "$work/esp/sbd/initrd.img"
# timeout 0: straight to the default entry (a key held during start shows the menu); editor no: the console must not
# be able to change the kernel command line (init=/bin/sh would give root, which the appliance has no login for).
printf 'default sbd.conf\ntimeout 0\neditor no\nconsole-mode keep\n' > "$work/esp/loader/loader.conf"
printf 'title sbd\nlinux /sbd/vmlinuz\ninitrd /sbd/initrd.img\noptions %s\n' "$cmdline" > "$work/esp/loader/entries/sbd.conf"
esp_used_kb=$(du -sk "$work/esp" | cut -f1)
[ "$esp_used_kb" -lt $(( ESP_SIZE_MB * 1024 - 4096 )) ] || { echo "60-finalize: ESP_SIZE_MB=$ESP_SIZE_MB too small (${esp_used_kb} KB)" >&2; exit 1; }
mkfs.vfat -F 32 -S 512 -s 1 -n "$ESP_LABEL" -C "$work/esp.img" $(( ESP_SIZE_MB * 1024 )) >/dev/null
(cd "$work/esp" && MTOOLS_SKIP_CHECK=1 mcopy -s -i "$work/esp.img" EFI loader sbd ::/)

# --- root: ext4 from the tree -----------------------------------------------------------------------------------
used_mb=$(du -sm "$root" | cut -f1)
root_mb=$(( (used_mb + ROOTFS_FREE_MB + 63) / 64 * 64 ))
: > "$work/root.img"
mkfs.ext4 -q -F -L "$ROOTFS_LABEL" -d "$root" "$work/root.img" "${root_mb}M"

# --- the disk: 1 MiB for the protective MBR + GPT, the two partitions, 1 MiB for the backup GPT ---------------
disk_mb=$(( 1 + ESP_SIZE_MB + root_mb + 1 ))
truncate -s "${disk_mb}M" "$work/disk.raw"
sfdisk --quiet --no-reread --no-tell-kernel "$work/disk.raw" <<EOF
label: gpt
unit: sectors
first-lba: 2048
start=2048, size=$(( ESP_SIZE_MB * 2048 )), type=$ESP_TYPE, name="ESP"
start=$(( (1 + ESP_SIZE_MB) * 2048 )), size=$(( root_mb * 2048 )), type=$ROOT_TYPE, uuid=$root_uuid, name="$ROOTFS_LABEL"
EOF
dd if="$work/esp.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek=$(( 1 + ESP_SIZE_MB )) conv=notrunc,sparse status=none
mv "$work/disk.raw" "$out/disk.raw"

# --- what is shipped: compressed image + block map -------------------------------------------------------------
zstd -q -f -T0 "-$IMAGE_ZSTD_LEVEL" "$out/disk.raw" -o "$out/sbd-$ARCH.img.zst.tmp"
mv "$out/sbd-$ARCH.img.zst.tmp" "$out/sbd-$ARCH.img.zst"
bmaptool -q create -o "$out/sbd-$ARCH.img.bmap" "$out/disk.raw"
rm -f "$out/sbd-$ARCH.qcow2"

mb() { du -sm "$@" 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
mbs() { du -sm --apparent-size "$1" | cut -f1; }
{
  echo "sbd image $ARCH — $(date -u +%Y-%m-%dT%H:%MZ)"
  printf '  %-34s %6s MB\n' "compressed image (sbd-$ARCH.img.zst)" "$(mbs "$out/sbd-$ARCH.img.zst")"
  printf '  %-34s %6s MB\n' "GPT disk (disk.raw)" "$disk_mb"
  printf '  %-34s %6s MB\n' "  ESP (vfat)" "$ESP_SIZE_MB"
  printf '  %-34s %6s MB\n' "  root (ext4)" "$root_mb"
  printf '  %-34s %6s MB\n' "installed (rootfs)" "$used_mb"
  printf '  %-34s %6s MB\n' "  node (/usr/local/bin/node)" "$(mb "$root/usr/local/bin/node")"
  printf '  %-34s %6s MB\n' "  sbd app (/usr/lib/sbd)" "$(mb "$root/usr/lib/sbd")"
  printf '  %-34s %6s MB\n' "  kernel modules (/usr/lib/modules)" "$(mb "$root/usr/lib/modules")"
  printf '  %-34s %6s MB  payload %s\n' "kernel (vmlinuz)" "$(mbs "$out/vmlinuz")" "$kernel_payload"
  printf '  %-34s %6s MB\n' "initrd (initrd.img)" "$(mbs "$out/initrd.img")"
  echo "removed from the root (stage 55, installed sizes):"
  cat "$out/trim-report.txt" 2>/dev/null || true
} > "$out/size-report.txt"
