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
# The A/B layout (IMAGE_LAYOUT=ab, docs/image.md "A/B slots"): the root slot is a read-only SquashFS; the initramfs
# mounts the data partition and what must be writable on top of it before systemd starts, so PID 1 already sees a
# writable /etc (machine-id, the admin's password) and /var. Inert unless the kernel command line names sbd.slot=.
install -D -m 0755 /dev/stdin "$root/etc/initramfs-tools/scripts/local-bottom/sbd-data" <<'SH'
#!/bin/sh
# sbd-data (initramfs local-bottom): / is the read-only slot at ${rootmnt}. Mounts PARTLABEL=sbd-data at /data,
# overlays /etc and /var with upper layers kept there (/data/etc, /data/var), and binds /data/sbd to /var/lib/sbd
# and /data/log to /var/log. The run-init move of ${rootmnt} carries these mounts along. klibc tools only.
case "$1" in prereqs) exit 0 ;; esac
case " $(cat /proc/cmdline) " in *" sbd.slot="*) ;; *) exit 0 ;; esac
. /scripts/functions
dev=/dev/disk/by-partlabel/sbd-data
i=0
while [ ! -b "$dev" ] && [ "$i" -lt 30 ]; do sleep 1; i=$((i + 1)); done
if [ ! -b "$dev" ]; then log_failure_msg "sbd-data: no partition labelled sbd-data: / stays read-only"; exit 0; fi
r=${rootmnt}
if ! mount -t ext4 -o noatime,nodev,nosuid "$dev" "$r/data"; then
  log_failure_msg "sbd-data: cannot mount $dev: / stays read-only"; exit 0
fi
for d in etc var; do
  mkdir -p "$r/data/$d/upper" "$r/data/$d/work"
  mount -t overlay -o "lowerdir=$r/$d,upperdir=$r/data/$d/upper,workdir=$r/data/$d/work" "sbd-$d" "$r/$d" ||
    log_failure_msg "sbd-data: overlay on /$d failed"
done
mkdir -p "$r/data/sbd" "$r/data/log"
mount -o bind "$r/data/sbd" "$r/var/lib/sbd" || log_failure_msg "sbd-data: /var/lib/sbd not bound"
mount -o bind "$r/data/log" "$r/var/log" || log_failure_msg "sbd-data: /var/log not bound"
exit 0
SH
# PostgreSQL 15, lean (settings.conf PG_*): the packages' files without installing them, so neither the JIT's
# libllvm14 nor postgresql-common's Perl come along. Only the named programs, server modules and share/ files.
: "${PG_PACKAGES:?PG_PACKAGES not exported by image/build.sh}"
pgtmp=$(mktemp -d "$root/tmp/pg.XXXXXX")
(cd "$pgtmp" && chroot "$root" sh -c "cd /tmp/$(basename "$pgtmp") && apt-get download -q $PG_PACKAGES")
for deb in "$pgtmp"/*.deb; do dpkg-deb -x "$deb" "$pgtmp/x"; done
pg=usr/lib/postgresql/15
install -d -m 0755 "$root/$pg/bin" "$root/$pg/lib" "$root/usr/share/postgresql/15/extension"
for p in $PG_PROGRAMS; do install -m 0755 "$pgtmp/x/$pg/bin/$p" "$root/$pg/bin/$p"; done
(set -f; for m in $PG_MODULES; do set +f; cp -a "$pgtmp/x/$pg/lib/"$m.so "$root/$pg/lib/"; set -f; done)
(cd "$pgtmp/x/usr/share/postgresql/15" && cp -a $(ls | grep -vx -e man -e contrib -e extension) "$root/usr/share/postgresql/15/" &&
  cp -a extension/plpgsql* "$root/usr/share/postgresql/15/extension/")
install -D -m 0644 "$pgtmp/x/usr/share/doc/postgresql-15/copyright" "$root/usr/share/doc/postgresql-15/copyright"
rm -rf "$pgtmp"
missing=$(chroot "$root" sh -c "ldd /$pg/bin/* /$pg/lib/*.so" | grep 'not found' || true)
[ -z "$missing" ] || { echo "20-packages: PostgreSQL libraries missing from PACKAGES:"; echo "$missing"; exit 1; }
echo "PostgreSQL: $(chroot "$root" /$pg/bin/postgres --version), $(du -sm "$root/$pg" | cut -f1) MB in /$pg"
chroot "$root" update-initramfs -c -k all
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
