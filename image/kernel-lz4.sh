#!/usr/bin/env bash
# Debian's x86-64 kernel, re-wrapped with an LZ4 payload instead of XZ: the same kernel, byte for byte once unpacked.
#   image/kernel-lz4.sh VMLINUZ CONFIG CACHE DEST
# Why: under TCG the EFI stub spends 4-5 s unpacking Debian's XZ payload (LZMA's range decoder and CRC32, sampled in
# the guest); LZ4 unpacks in ~0.3 s (docs/image.md, sixth pass). Only the boot wrapper (arch/x86/boot) is rebuilt,
# from the exact source of the kernel (linux-source-X.Y at the version its banner names) and its own config with
# CONFIG_KERNEL_LZ4: the payload (the stripped vmlinux and its relocation table) is taken out of VMLINUZ and put back
# unchanged, so modules, vermagic and signatures are Debian's. Checked before use: the new payload unpacks to exactly
# the old one and the version banner is the same. Cached by the hash of its inputs in CACHE.
set -euo pipefail
kernel=${1:?vmlinuz} config=${2:?config} cache=${3:?cache} dest=${4:?dest}
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
bytes() { dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }   # FILE OFFSET LENGTH
u64() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }
# The setup header's kernel_version string (boot protocol: offset at 0x20e, relative to 0x200).
banner() { bytes "$1" $(( $(u16 "$1" $((0x20e))) + 0x200 )) 200 | tr '\0' '\n' | sed -n 1p; }

key=$( { cat "$kernel" "$config" "$0"; } | sha256sum | cut -c1-16)
cached="$cache/kernel-lz4-$key.vmlinuz"
if [ -f "$cached" ]; then cp "$cached" "$dest.tmp" && mv "$dest.tmp" "$dest"; exit 0; fi

orig_banner=$(banner "$kernel")          # 6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP ... Debian 6.1.192-3 (date)
release=${orig_banner%% *}
by_host=$(echo "$orig_banner" | sed -n 's/^[^ ]* (\([^)]*\)) .*/\1/p')
uts_version=${orig_banner#* (*) }
deb_version=$(echo "$uts_version" | sed -n 's/.* Debian \([^ ]*\) (.*/\1/p')
[ -n "$release" ] && [ -n "$by_host" ] && [ -n "$deb_version" ] ||
  { echo "kernel-lz4: cannot read the version banner of $kernel: \"$orig_banner\"" >&2; exit 1; }
major=$(echo "$deb_version" | cut -d. -f1,2)

work=$(mktemp -d "$cache/kernel-lz4.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The payload: setup sectors, then payload_offset into the protected-mode code, payload_length bytes of XZ.
setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$kernel" | tr -d ' ')
start=$(( (setup_sects + 1) * 512 + $(u32 "$kernel" $((0x248))) ))
bytes "$kernel" "$start" "$(u32 "$kernel" $((0x24c)))" | xz -dc --single-stream > "$work/payload"
# It is vmlinux.bin (objcopy -S of vmlinux: ELF, section headers last) followed by vmlinux.relocs.
elf_end=$(( $(u64 "$work/payload" $((0x28))) + $(u16 "$work/payload" $((0x3a))) * $(u16 "$work/payload" $((0x3c))) ))
head -c "$elf_end" "$work/payload" > "$work/vmlinux.bin"
tail -c +$((elf_end + 1)) "$work/payload" > "$work/vmlinux.relocs"
# The four symbols voffset.h wants, from the section headers (the symbol table is stripped): _text = .text,
# __start_rodata = .rodata, __bss_start = .bss, _end = end of .brk, page aligned (arch/x86/kernel/vmlinux.lds.S).
sect() { readelf -S -W "$work/vmlinux.bin" | sed 's/\[ */[/' | awk -v n="$1" '$2 == n { print $4, $6 }'; }
read -r text _ < <(sect .text); read -r rodata _ < <(sect .rodata); read -r bss _ < <(sect .bss)
read -r brk brk_size < <(sect .brk)
[ -n "$text" ] && [ -n "$rodata" ] && [ -n "$bss" ] && [ -n "$brk" ] ||
  { echo "kernel-lz4: the payload's ELF lacks .text/.rodata/.bss/.brk" >&2; exit 1; }
end=$(printf '%x' $(( ((0x$brk + 0x$brk_size + 4095) / 4096) * 4096 )))

# 2. The kernel's own source, at its version.
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "linux-source-$major=$deb_version" >/dev/null)
dpkg-deb --fsys-tarfile "$work"/linux-source-"$major"_*.deb | tar -xO "./usr/src/linux-source-$major.tar.xz" |
  tar -xJ -C "$work"
src="$work/linux-source-$major"
rm "$work"/linux-source-"$major"_*.deb

# 3. Its config with LZ4; the generated headers that carry the version, as in Debian's build.
export KBUILD_BUILD_USER=${by_host%@*} KBUILD_BUILD_HOST=${by_host#*@} KBUILD_BUILD_VERSION=1
mk() { make -s -C "$src" -j"$(nproc)" "$@"; }
sed -e 's/^CONFIG_KERNEL_\(XZ\|GZIP\|BZIP2\|LZMA\|LZO\|ZSTD\)=y/# CONFIG_KERNEL_\1 is not set/' \
  -e 's/^# CONFIG_KERNEL_LZ4 is not set/CONFIG_KERNEL_LZ4=y/' "$config" > "$src/.config"
mk olddefconfig
grep -qx 'CONFIG_KERNEL_LZ4=y' "$src/.config" || { echo "kernel-lz4: CONFIG_KERNEL_LZ4 not accepted" >&2; exit 1; }
mk prepare
mk arch/x86/kernel/cpu/capflags.o drivers/firmware/efi/libstub/lib.a
awk -f "$src/arch/x86/tools/gen-insn-attr-x86.awk" "$src/arch/x86/lib/x86-opcode-map.txt" > "$src/arch/x86/lib/inat-tables.c"
echo "$release" > "$src/include/config/kernel.release"
echo "#define UTS_RELEASE \"$release\"" > "$src/include/generated/utsrelease.h"
echo "#define UTS_VERSION \"$uts_version\"" > "$src/include/generated/utsversion.h"

# 4. Only the boot wrapper: bzImage without linking vmlinux. The compressed Makefile's inputs from vmlinux are given
# as they are in the payload: `vmlinux` itself is the stripped ELF (objcopy -S of it is the same bytes), `nm vmlinux`
# answers the four symbols above, and the relocs tool prints the payload's table.
cp "$work/vmlinux.bin" "$src/vmlinux"
printf '#!/bin/sh\nif [ "$1" = vmlinux ]; then printf "%%s\\n" "%s T _text" "%s D __start_rodata" "%s B __bss_start" "%s B _end"; else exec nm "$@"; fi\n' \
  "$text" "$rodata" "$bss" "$end" > "$work/nm"
printf '#!/bin/sh\n[ "$1" = --abs-relocs ] && exit 0\nexec cat %s\n' "$work/vmlinux.relocs" > "$src/arch/x86/tools/relocs"
chmod +x "$work/nm" "$src/arch/x86/tools/relocs"
sed -i 's/^bzImage: vmlinux$/bzImage:/' "$src/arch/x86/Makefile"
grep -qx 'bzImage:' "$src/arch/x86/Makefile" || { echo "kernel-lz4: arch/x86/Makefile has no 'bzImage: vmlinux'" >&2; exit 1; }
mk NM="$work/nm" bzImage >/dev/null

# 5. Checks: the LZ4 payload (legacy frames + the size kbuild appends) unpacks to the same bytes; same banner.
head -c -4 "$src/arch/x86/boot/compressed/vmlinux.bin.lz4" | lz4 -dc > "$work/payload.new"
cmp -s "$work/payload" "$work/payload.new" || { echo "kernel-lz4: the new payload differs from Debian's" >&2; exit 1; }
[ "$(banner "$src/arch/x86/boot/bzImage")" = "$orig_banner" ] ||
  { echo "kernel-lz4: banner \"$(banner "$src/arch/x86/boot/bzImage")\" is not \"$orig_banner\"" >&2; exit 1; }
cp "$src/arch/x86/boot/bzImage" "$cached.tmp" && mv "$cached.tmp" "$cached"
ls -t "$cache"/kernel-lz4-*.vmlinuz | tail -n +4 | xargs -r rm -f
cp "$cached" "$dest.tmp" && mv "$dest.tmp" "$dest"
