# Sourced by 60-finalize.sh when IMAGE_LAYOUT=ab (not a stage of its own): the A/B disk of the layout contract
# (docs/image.md "A/B slots and the data partition"). Uses its variables: root out work kernel initrd.
#   1 sbd-esp     FAT32: systemd-boot, loader.conf (default sbd-*), entries sbd-a.conf + sbd-b.conf, /sbd/a/ kernel
#   2 sbd-root-a  SquashFS of the root (read-only), partition = image + SLOT_HEADROOM_PCT %
#   3 sbd-root-b  same size, empty (an update fills it; its entry is skipped until /sbd/b/vmlinuz exists)
#   4 sbd-data    ext4 from a tree: sbd/ (/var/lib/sbd), log/ (/var/log), etc/ and var/ (overlay upper + work)
# Each partition is a file first (mksquashfs, mkfs.vfat -C + mcopy, mkfs.ext4 -d), placed with sfdisk + dd.
: "${KERNEL_CMDLINE_AB:?}" "${AB_ESP_SIZE_MB:?}" "${SLOT_MKSQUASHFS_OPTS:?}" "${SLOT_HEADROOM_PCT:?}" \
  "${DATA_SIZE_MB:?}" "${DATA_LABEL:?}" "${DATA_TYPE:?}" "${CONSOLE:?}"

cmdline_of() { local c=${KERNEL_CMDLINE_AB//@CONSOLE@/$CONSOLE}; echo "${c//@SLOT@/$1}"; }
cmdline_of a > "$out/cmdline"

# --- ESP --------------------------------------------------------------------------------------------------------
loader="$root/usr/lib/systemd/boot/efi/systemd-boot$EFI_ARCH.efi"
[ -f "$loader" ] || { echo "60-finalize: $loader missing (systemd-boot-efi in PACKAGES)" >&2; exit 1; }
upper=$(echo "$EFI_ARCH" | tr a-z A-Z)
mkdir -p "$work/esp/EFI/BOOT" "$work/esp/loader/entries" "$work/esp/sbd/a"
cp "$loader" "$work/esp/EFI/BOOT/BOOT$upper.EFI"
cp "$kernel" "$work/esp/sbd/a/vmlinuz"
cp "$initrd" "$work/esp/sbd/a/initrd.img"
# timeout 0, editor no: as in the single layout. systemd-boot drops an entry whose kernel file is missing, so
# sbd-b.conf waits harmlessly for slot b's first install; sort-key orders a before b (RAUC's backend changes it).
printf 'default sbd-*\ntimeout 0\neditor no\nconsole-mode keep\n' > "$work/esp/loader/loader.conf"
for s in a b; do
  printf 'title sbd (slot %s)\nsort-key sbd-%s\nlinux /sbd/%s/vmlinuz\ninitrd /sbd/%s/initrd.img\noptions %s\n' \
    "$s" "$s" "$s" "$s" "$(cmdline_of "$s")" > "$work/esp/loader/entries/sbd-$s.conf"
done
esp_used_kb=$(du -sk "$work/esp" | cut -f1)
# Room for both slots' kernel + initrd while an update replaces one.
[ $(( esp_used_kb * 2 )) -lt $(( AB_ESP_SIZE_MB * 1024 - 4096 )) ] ||
  { echo "60-finalize: AB_ESP_SIZE_MB=$AB_ESP_SIZE_MB too small for two slots (${esp_used_kb} KB each)" >&2; exit 1; }
mkfs.vfat -F 32 -S 512 -s 1 -n "$ESP_LABEL" -C "$work/esp.img" $(( AB_ESP_SIZE_MB * 1024 )) >/dev/null
(cd "$work/esp" && MTOOLS_SKIP_CHECK=1 mcopy -s -i "$work/esp.img" EFI loader sbd ::/)

# --- data: what the running appliance writes ------------------------------------------------------------------
# /var/log's build-time content moves there; the root keeps empty mount points (/data, /efi, /var/lib/sbd, /var/log).
mkdir -p "$work/data/sbd" "$work/data/log" "$work/data/etc/upper" "$work/data/etc/work" "$work/data/var/upper" \
  "$work/data/var/work"
cp -a "$root/var/log/." "$work/data/log/"
find "$root/var/log" -mindepth 1 -delete
mkdir -p "$root/data" "$root/efi" "$root/var/lib/sbd"
# The state's gate as tmpfiles.d/sbd.conf lays it out (tmpfiles re-applies it at every boot).
uid=$(awk -F: '$1 == "sbd" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "sbd-state" { print $3 }' "$root/etc/group")
chown "$uid:$gid" "$work/data/sbd" && chmod 0750 "$work/data/sbd"
# / has no line: it is the slot root= names, mounted read-only by the initramfs, which also mounts /data, the
# overlays and the binds (scripts/local-bottom/sbd-data, image/hooks/20-packages.sh). The ESP is mounted, not
# automounted: the kernel keeps no autofs4 module (an automount unit fails local-fs.target: emergency mode).
cat > "$root/etc/fstab" <<EOF
# A/B layout (docs/image.md): / is the read-only slot root= names; the initramfs mounts /data (sbd-data), the
# /etc and /var overlays whose upper layers live there, and binds /data/sbd to /var/lib/sbd, /data/log to /var/log.
tmpfs              /tmp  tmpfs  mode=1777,nosuid,nodev,size=128M  0 0
PARTLABEL=sbd-esp  /efi  vfat   umask=0077,nosuid,nodev,noexec,nofail  0 0
EOF
: > "$work/data.img"
mkfs.ext4 -q -F -L "$DATA_LABEL" -d "$work/data" "$work/data.img" "${DATA_SIZE_MB}M"

# --- root slot: SquashFS ----------------------------------------------------------------------------------------
# /etc and /var are up to date with this /usr (the build ran ldconfig, the catalog and hwdb updates through dpkg):
# stamped as systemd-update-done would, so first boot skips the ConditionNeedsUpdate= units (ldconfig.service,
# systemd-journal-catalog-update, …) that otherwise hold sysinit.target back for seconds under emulation. An
# update's newer /usr still triggers them on its first boot.
usr_ns=$(stat -c %Y "$root/usr")000000000
for d in etc var; do
  printf '# This file was created by systemd-update-done. Its only\n# purpose is to hold a timestamp of the time this directory\n# was updated. See man:systemd-update-done.service(8).\nTIMESTAMP_NSEC=%s\n' \
    "$usr_ns" > "$root/$d/.updated"
  touch -r "$root/usr" "$root/$d/.updated"
done
used_mb=$(du -sm "$root" | cut -f1)
# shellcheck disable=SC2086
mksquashfs "$root" "$work/root.img" $SLOT_MKSQUASHFS_OPTS -processors "$(nproc)" >/dev/null
image_bytes=$(stat -c %s "$work/root.img")
slot_mb=$(( (image_bytes * (100 + SLOT_HEADROOM_PCT) / 100 + 8 * 1048576 - 1) / (8 * 1048576) * 8 ))

# --- the disk: 1 MiB for the protective MBR + GPT, four partitions, 1 MiB for the backup GPT -------------------
disk_mb=$(( 1 + AB_ESP_SIZE_MB + 2 * slot_mb + DATA_SIZE_MB + 1 ))
truncate -s "${disk_mb}M" "$work/disk.raw"
a_mb=$(( 1 + AB_ESP_SIZE_MB )) b_mb=$(( 1 + AB_ESP_SIZE_MB + slot_mb )) d_mb=$(( 1 + AB_ESP_SIZE_MB + 2 * slot_mb ))
sfdisk --quiet --no-reread --no-tell-kernel "$work/disk.raw" <<EOF
label: gpt
unit: sectors
first-lba: 2048
start=2048, size=$(( AB_ESP_SIZE_MB * 2048 )), type=$ESP_TYPE, name="sbd-esp"
start=$(( a_mb * 2048 )), size=$(( slot_mb * 2048 )), type=$ROOT_TYPE, name="sbd-root-a"
start=$(( b_mb * 2048 )), size=$(( slot_mb * 2048 )), type=$ROOT_TYPE, name="sbd-root-b"
start=$(( d_mb * 2048 )), size=$(( DATA_SIZE_MB * 2048 )), type=$DATA_TYPE, name="sbd-data"
EOF
dd if="$work/esp.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek="$a_mb" conv=notrunc,sparse status=none
dd if="$work/data.img" of="$work/disk.raw" bs=1M seek="$d_mb" conv=notrunc,sparse status=none
mv "$work/disk.raw" "$out/disk.raw"
# The root slot's image alone (what an update bundle carries: scripts/update-bundle.sh).
mv "$work/root.img" "$out/root.squashfs"

zstd -q -f -T0 "-$IMAGE_ZSTD_LEVEL" "$out/disk.raw" -o "$out/sbd-$ARCH.img.zst.tmp"
mv "$out/sbd-$ARCH.img.zst.tmp" "$out/sbd-$ARCH.img.zst"
bmaptool -q create -o "$out/sbd-$ARCH.img.bmap" "$out/disk.raw"
rm -f "$out/sbd-$ARCH.qcow2"

mb() { du -sm "$@" 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
mbs() { du -sm --apparent-size "$1" | cut -f1; }
{
  echo "sbd image $ARCH (A/B layout) — $(date -u +%Y-%m-%dT%H:%MZ)"
  printf '  %-34s %6s MB\n' "compressed image (sbd-$ARCH.img.zst)" "$(mbs "$out/sbd-$ARCH.img.zst")"
  printf '  %-34s %6s MB\n' "GPT disk (disk.raw)" "$disk_mb"
  printf '  %-34s %6s MB\n' "  sbd-esp (vfat)" "$AB_ESP_SIZE_MB"
  printf '  %-34s %6s MB\n' "  sbd-root-a, sbd-root-b (each)" "$slot_mb"
  printf '  %-34s %6s MB\n' "  root image (SquashFS, zstd)" "$(mbs "$out/root.squashfs")"
  printf '  %-34s %6s MB\n' "  sbd-data (ext4, grows at boot)" "$DATA_SIZE_MB"
  printf '  %-34s %6s MB\n' "installed (rootfs)" "$used_mb"
  printf '  %-34s %6s MB\n' "  node (/usr/local/bin/node)" "$(mb "$root/usr/local/bin/node")"
  printf '  %-34s %6s MB\n' "  sbd app (/usr/lib/sbd)" "$(mb "$root/usr/lib/sbd")"
  printf '  %-34s %6s MB\n' "  kernel modules (/usr/lib/modules)" "$(mb "$root/usr/lib/modules")"
  printf '  %-34s %6s MB  payload %s\n' "kernel (vmlinuz)" "$(mbs "$out/vmlinuz")" "$kernel_payload"
  printf '  %-34s %6s MB\n' "initrd (initrd.img)" "$(mbs "$out/initrd.img")"
  echo "removed from the root (stage 55, installed sizes):"
  cat "$out/trim-report.txt" 2>/dev/null || true
} > "$out/size-report.txt"
