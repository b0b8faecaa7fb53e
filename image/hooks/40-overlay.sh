#!/usr/bin/env bash
# Stage 40 "overlay" — lays rootfs/ over the tree: systemd units, sysusers.d, tmpfiles.d, presets, /etc/sbd
# defaults, the admin login shell and its sudo rule. Args: ROOTFS OUT CACHE REPO. Everything is owned by root.
set -euo pipefail
root=${1:?rootfs} repo=${4:?repo}
cp -a --no-preserve=ownership "$repo/rootfs/." "$root/"
# Files copied from a checkout keep the checkout's umask: pin the modes that matter.
# Only the overlay's own files are touched.
(cd "$repo/rootfs" && find . -type f) | while read -r f; do
  case "$f" in
    ./etc/sudoers.d/*) mode=0440 ;;
    ./usr/lib/sbd/bin/*) mode=0755 ;;
    *) mode=0644 ;;
  esac
  chmod "$mode" "$root/$f"
done
echo "overlay: $(cd "$repo/rootfs" && find . -type f | wc -l) files"
