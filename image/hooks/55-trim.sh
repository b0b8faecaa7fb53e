#!/usr/bin/env bash
# Stage 55 "trim" — what the running appliance never reads goes (issue 19 item 5: compressed image < 100 MB).
# Args: ROOTFS OUT. Runs after post-install, the last stage that runs Debian's tools in the tree (systemd-sysusers,
# useradd, systemctl preset); from here on nothing in the tree is executed at build time, and on the appliance the
# whole root is replaced by an update (RAUC), never changed package by package. Every group removed is listed, with
# its installed size, in OUT/trim-report.txt (appended to size-report.txt by stage 60). Licences stay:
# /usr/share/doc/*/copyright of every package, removed ones included. What the appliance and its image tests run
# stays (test/image/*: systemctl, journalctl, findmnt, setpriv, runuser, coreutils, grep; the sbd scripts in
# /usr/lib/sbd/bin: sh, bash, awk, sed, sfdisk, partx, systemd-*; PostgreSQL; RAUC with its libraries).
set -euo pipefail
root=${1:?rootfs} out=${2:?out}
report="$out/trim-report.txt"
: > "$report"
kb() { { du -sk "$@" 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}'; }
# note GROUP KB WHY: one line of the report.
total_kb=0
note() { printf '  %-40s %6s KB  %s\n' "$1" "$2" "$3" >> "$report"; total_kb=$(( total_kb + $2 )); }
# paths GROUP WHY PATH...: removes paths (globs already expanded by the caller) and reports what they held.
paths() {
  local group=$1 why=$2; shift 2
  local size; size=$(kb "$@")
  rm -rf "$@"
  note "$group" "$size" "$why"
}
# packages GROUP WHY PKG...: removes the files of installed packages as dpkg's database lists them (regular files
# and links to them, never a directory nor through a link that leaves the tree), keeping their copyright files.
package_files() {
  local pkg list lists=() top
  for pkg in "$@"; do
    for list in "$root/var/lib/dpkg/info/$pkg.list" "$root/var/lib/dpkg/info/$pkg:"*.list; do
      if [ -f "$list" ]; then lists+=("$list"); fi
    done
  done
  [ "${#lists[@]}" -gt 0 ] || return 0
  top=$(realpath "$root")
  { grep -hv '^/usr/share/doc/[^/]*/copyright$' "${lists[@]}" || true; } | while IFS= read -r p; do
    t=$root$p
    # Files and links to files only: the lists also name directories, and /lib, /sbin are links to directories.
    if { [ -L "$t" ] || [ -f "$t" ]; } && [ ! -d "$t" ]; then
      d=$(realpath -e "$(dirname "$t")" 2>/dev/null) || continue
      case "$d/" in "$top"/*) printf '%s\n' "$d/$(basename "$t")" ;; esac
    fi
  done | sort -u
}
packages() {
  local group=$1 why=$2; shift 2
  local files size
  files=$(package_files "$@")
  [ -n "$files" ] || { note "$group" 0 "$why (not installed)"; return 0; }
  # shellcheck disable=SC2086
  size=$(printf '%s\n' "$files" | xargs -d '\n' du -ck 2>/dev/null | awk 'END {print $1 + 0}')
  printf '%s\n' "$files" | xargs -d '\n' rm -f
  note "$group" "$size" "$why"
}

# Libraries that ELF files in the tree need (DT_NEEDED, read with the host's readelf: any architecture) and that are not
# in it; some are missing before trimming too (libatm for tc's ATM qdisc, a Recommends), so only new ones count.
missing_libs() {
  local libs
  libs=$(find "$root/usr/lib" "$root/usr/libexec" "$root/usr/local/lib" -name '*.so*' \( -type f -o -type l \) -printf '%f\n' |
    sort -u)
  find "$root/usr" -type f -size +1k \( -perm -u+x -o -name '*.so*' -o -name '*.node' \) -print0 |
    { xargs -0 readelf -d 2>/dev/null || true; } | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u |
    comm -23 - <(printf '%s\n' "$libs")
}
missing_before=$(missing_libs)

# The full Perl (perl, perl-modules, libperl) is there only for usrmerge, a tool that ran once while the tree was made.
packages "perl, usrmerge" "ran once while the tree was made (usrmerge)" usrmerge libfile-find-rule-perl \
  libnumber-compare-perl libtext-glob-perl perl perl-modules-5.36 libperl5.36
# Debian's package tools: the appliance is updated as a whole root image (RAUC), never by apt or dpkg, and nothing
# runs them after stage 50 (the preset already disabled apt's timers; their units go with apt). perl-base is there
# for dpkg's and debconf's scripts and adduser (stage 50 used useradd, which stays with passwd); no program of the
# appliance is written in Perl. init-system-helpers: deb-systemd-helper & co., Perl helpers for maintainer scripts.
packages "apt, libapt-pkg" "updates are whole images (RAUC)" apt libapt-pkg6.0
packages "debconf, adduser, init-system-helpers" "maintainer-script tools (Perl)" debconf adduser init-system-helpers
packages "perl-base" "no Perl program runs on the appliance" perl-base
paths "perl libraries left over" "their interpreter is gone" "$root"/usr/lib/*-linux-gnu/perl "$root"/usr/lib/*-linux-gnu/perl-base \
  "$root"/usr/lib/*-linux-gnu/perl5 "$root"/usr/share/perl "$root"/usr/share/perl5 "$root"/var/cache/debconf
# dpkg itself and its database (package file lists, md5sums, maintainer scripts: 7 MB): no package is ever installed
# or removed on the appliance. What the image holds stays readable: the package list with versions is kept in
# /usr/share/doc/sbd/packages.txt (for licences and security advisories), written before the database goes.
install -d -m 0755 "$root/usr/share/doc/sbd"
awk '/^Package:/ {p = $2} /^Version:/ {v = $2} /^Architecture:/ {a = $2}
  /^Status:/ {s = $4} /^$/ {if (s == "installed") print p, v, a; p = v = a = s = ""}
  END {if (s == "installed") print p, v, a}' "$root/var/lib/dpkg/status" | sort > "$root/usr/share/doc/sbd/packages.txt"
packages "dpkg" "no package is installed on the appliance" dpkg
paths "dpkg database" "listed in /usr/share/doc/sbd/packages.txt" "$root"/var/lib/dpkg "$root"/var/backups/dpkg.* \
  "$root"/var/log/dpkg.log "$root"/var/log/apt "$root"/var/lib/apt "$root"/var/cache/apt "$root"/etc/apt \
  "$root"/etc/dpkg
# udev's hardware database (hwdb.bin, 12 MB: vendor and model names, keyboard maps of real hardware): the appliance's
# devices are named by path (net_id) and no rule of ours reads a hwdb property; the sources (hwdb.d) go with it, so
# nothing can rebuild it.
paths "udev hwdb" "device names by path; no rule reads it" "$root"/usr/lib/udev/hwdb.bin "$root"/etc/udev/hwdb.bin \
  "$root"/usr/lib/udev/hwdb.d "$root"/etc/udev/hwdb.d
# ICU's data library (libicudata, 31 MB, 10 MB compressed: the collation tailorings, display names, currencies,
# time zone names, units, number spellings and legacy-charset converters of ~860 locales), which PostgreSQL and
# libxml2 link. The appliance's databases are --locale=C and every query orders with COLLATE "C"; ICU is reached only
# by initdb's import of ICU collations. So the library is rebuilt from the same data without the locale bundles and
# the converters (icupkg, the host's icu-devtools), keeping what ucol_open and the locale list need: root.res,
# pool.res, res_index.res of each tree, coll/ucadata.icu (the root collation), the break rules, normalization, the
# supplemental data. initdb still imports every ICU collation (806, each now sorts in root order: a tailoring such as
# sv-SE's "z < ö" is gone); checked outside QEMU: initdb, upper/initcap with an ICU collation, xpath.
icu_lib=$(find "$root/usr/lib" -name 'libicudata.so.*.*' -type f | head -1)
if [ -n "$icu_lib" ]; then
  icu_tmp=$(mktemp -d)
  # The data is one symbol, icudt<version>_dat, in .rodata: its bytes are the .dat package (little-endian: "l").
  read -r sym_value sym_size sym_name < <(readelf --dyn-syms -W "$icu_lib" |
    awk '$8 ~ /^icudt[0-9]+_dat$/ && $7 != "UND" { print $2, $3, $8 }')
  read -r sec_addr sec_off < <(readelf -S -W "$icu_lib" | sed -n 's/.*\] \.rodata *PROGBITS *\([0-9a-f]*\) \([0-9a-f]*\) .*/\1 \2/p')
  : "${sym_name:?55-trim: no icudt*_dat symbol in $icu_lib}" "${sec_addr:?55-trim: no .rodata in $icu_lib}"
  pkg=${sym_name%_dat}l
  soname=$(readelf -d "$icu_lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  mkdir -p "$icu_tmp/in" "$icu_tmp/out"
  dd if="$icu_lib" of="$icu_tmp/in/$pkg.dat" bs=1M skip=$(( 0x$sym_value - 0x$sec_addr + 0x$sec_off )) \
    count=$(( sym_size )) iflag=skip_bytes,count_bytes status=none
  icupkg -l "$icu_tmp/in/$pkg.dat" |
    grep -E '\.cnv$|^[a-z]{2,3}(_[A-Za-z0-9]+)*\.res$|^(coll|curr|lang|rbnf|region|translit|unit|zone)/|^brkitr/.*\.dict$' |
    grep -vE '^res_index\.res$|/(root|res_index|pool)\.res$|^coll/ucadata\.icu$' > "$icu_tmp/remove.txt"
  # --ignore-deps: brkitr/root.res names the Thai, Lao, Khmer, Burmese and CJK word dictionaries (2.9 MB), gone.
  icupkg --ignore-deps -r "$icu_tmp/remove.txt" "$icu_tmp/in/$pkg.dat" "$icu_tmp/out/$pkg.dat" 2>/dev/null
  kept=$(icupkg --ignore-deps -l "$icu_tmp/out/$pkg.dat" 2>/dev/null)
  for item in root.res res_index.res coll/root.res coll/ucadata.icu; do
    grep -x "$item" <<<"$kept" >/dev/null || { echo "55-trim: ICU data lost $item" >&2; exit 1; }
  done
  printf '  .section .rodata\n  .globl %s\n  .type %s, %%object\n  .balign 16\n%s:\n  .incbin "%s"\n  .size %s, . - %s\n  .section .note.GNU-stack,"",%%progbits\n' \
    "$sym_name" "$sym_name" "$sym_name" "$icu_tmp/out/$pkg.dat" "$sym_name" "$sym_name" > "$icu_tmp/data.S"
  case "$ARCH" in x86_64) cc=x86_64-linux-gnu-gcc ;; arm64) cc=aarch64-linux-gnu-gcc ;; esac
  [ "$(uname -m)" = "${ARCH/arm64/aarch64}" ] && cc=gcc
  "$cc" -shared -nostdlib -Wl,-soname,"$soname" -Wl,-z,noexecstack -o "$icu_tmp/lib.so" "$icu_tmp/data.S"
  readelf --dyn-syms -W "$icu_tmp/lib.so" | grep " $sym_name$" >/dev/null || { echo "55-trim: $sym_name not in the new ICU library" >&2; exit 1; }
  size=$(( ($(stat -c %s "$icu_lib") - $(stat -c %s "$icu_tmp/lib.so")) / 1024 ))
  install -m 0644 "$icu_tmp/lib.so" "$icu_lib"
  rm -rf "$icu_tmp"
  note "ICU locale data ($(basename "$icu_lib"))" "$size" "databases are C locale; ICU root collation kept"
fi
# glibc's iconv modules (gconv): character sets other than UTF-8/16/32, UCS-2/4, ISO-8859-1 and ASCII (glibc's
# built-in ones). Node has its own ICU; PostgreSQL converts with its own modules (*_and_*) and stores UTF-8 only.
paths "glibc gconv modules" "only built-in UTF/Latin-1 charsets used" "$root"/usr/lib/*-linux-gnu/gconv
# Shell completions for shells nobody logs in to (the admin's shell is the sbd console).
paths "shell completions" "no interactive shell" "$root"/usr/share/bash-completion "$root"/usr/share/zsh
# node_modules keeps the JS that runs.
nm_docs() {
  find "$root/usr/lib/sbd/node_modules" -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.d.ts' \
    -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.ts' \) "$@"
}
size=$({ nm_docs -print0 | du -ck --files0-from=- 2>/dev/null || true; } | awk 'END {print $1 + 0}')
nm_docs -delete
note "node_modules docs, types, maps" "$size" "not run"

# Units enabled for what went (dpkg-db-backup.timer: enabled by dpkg itself) would be dangling links.
while IFS= read -r l; do
  t=$(readlink "$l")
  [ "$t" = /dev/null ] && continue # a masked unit
  case "$t" in /*) t=$root$t ;; *) t=$(dirname "$l")/$t ;; esac
  if [ ! -e "$t" ]; then rm -f "$l"; echo "trim: removed the dangling ${l#"$root"}"; fi
done < <(find "$root/etc/systemd/system" -type l)

# Nothing left may need what went: no ELF file lost a library it links, the sbd scripts' interpreters exist.
missing=$(missing_libs | comm -23 - <(printf '%s\n' "$missing_before"))
[ -z "$missing" ] || { echo "55-trim: libraries needed but no longer in the tree: $missing" >&2; exit 1; }
for f in "$root"/usr/lib/sbd/bin/*; do
  interp=$(head -c 200 "$f" | sed -n '1s/^#! *\([^ ]*\).*/\1/p')
  [ -z "$interp" ] || [ -x "$root$interp" ] || { echo "55-trim: $f needs $interp, which was removed" >&2; exit 1; }
done
note "total" "$total_kb" "installed size removed from the root"
echo "trim: removed from the root (installed sizes):"
cat "$report"
