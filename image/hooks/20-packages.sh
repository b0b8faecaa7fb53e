#!/usr/bin/env bash
# Stage 20 "packages" — mmdebstrap --customize-hook: runs after every listed package is installed. $1 = the rootfs.
# Part of the cached base. Cuts /lib/modules to KEEP_MODULES + INITRD_MODULES and their dependencies (the Debian
# kernel's 396 MB of modules are most of a naive rootfs), rebuilds the module index (depmod in the chroot), then
# builds the initramfs once (mmdebstrap ran with INITRD=No).
set -euo pipefail
root=${1:?rootfs}
: "${KEEP_MODULES:?KEEP_MODULES not exported by image/build.sh}"
for kdir in "$root"/lib/modules/*; do
  kver=$(basename "$kdir")
  # Module name -> path, and path -> dependency paths, from the kernel's own modules.dep.
  keep=$(awk -v want="$(echo $KEEP_MODULES $INITRD_MODULES | tr '-' '_')" '
    BEGIN { n = split(want, w, /[ \n\t]+/); for (i = 1; i <= n; i++) if (w[i] != "") wanted[w[i]] = 1 }
    {
      path = $1; sub(/:$/, "", path)
      name = path; sub(/.*\//, "", name); sub(/\.ko(\.[a-z]+)?$/, "", name); gsub(/-/, "_", name)
      byname[name] = path; deps[path] = ""
      for (i = 2; i <= NF; i++) deps[path] = deps[path] " " $i
    }
    END {
      for (m in wanted) if (m in byname) stack[++sp] = byname[m]
      while (sp > 0) {
        p = stack[sp--]; if (p in kept) continue; kept[p] = 1
        n = split(deps[p], d, " "); for (i = 1; i <= n; i++) if (!(d[i] in kept)) stack[++sp] = d[i]
      }
      for (p in kept) print p
    }' "$kdir/modules.dep")
  before=$(du -sm "$kdir" | cut -f1)
  keeplist=$(mktemp)
  printf '%s\n' $keep | sed "s|^|$kdir/|" | sort > "$keeplist"
  find "$kdir/kernel" -type f -name '*.ko*' | sort | comm -23 - "$keeplist" | xargs -r rm -f
  find "$kdir/kernel" -type d -empty -delete
  rm -f "$keeplist"
  chroot "$root" depmod -a "$kver"
  echo "kernel $kver: kept $(printf '%s\n' $keep | wc -l) modules, /lib/modules ${before} MB -> $(du -sm "$kdir" | cut -f1) MB"
done
chroot "$root" update-initramfs -c -k all
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
