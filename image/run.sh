#!/usr/bin/env bash
# Boots a built sbd image in QEMU (software emulation, TCG: KVM does not work on these machines) with the serial
# console on this terminal (stdin/stdout). `make run` and the image tests both use this script.
#
#   image/run.sh [--arch x86_64|arm64] [--boot efi|kernel] [--net N|none] [--mem MB] [--smp N] [--no-reboot]
#                [--debug-shell SOCKET] [--overlay FILE [--disk-size SIZE]] [--pidfile FILE]
#
# --boot efi (default: $BOOT, else efi): UEFI firmware (OVMF for x86_64, AAVMF for arm64, from Debian's ovmf and
# qemu-efi-aarch64) boots the disk as a machine would: its ESP's systemd-boot loads the kernel and initrd named in
# its loader entry. The run's own kernel arguments (network address, debug shell) are appended to that entry on the
# throw-away overlay, as an operator would at the boot menu. --boot kernel: QEMU's direct kernel boot (-kernel,
# -initrd from next to the disk), for comparison.
#
# --debug-shell SOCKET (x86_64, for the image tests): a second serial port (ttyS1) on a Unix socket and
# `systemd.debug_shell=ttyS1` on the kernel command line — systemd's own root debug shell. Whoever controls the
# kernel command line already owns the machine; the appliance itself has no root login.
# The disk is a throw-away qcow2 overlay on build/image/<arch>/disk.raw (the image stays pristine). --overlay FILE:
# that overlay instead, created if missing and kept (a machine's disk across boots, and power cuts); --disk-size
# SIZE grows a new overlay (qemu-img resize: a disk bigger than the image, as on a real machine). --pidfile FILE:
# QEMU's pid (tests cut the power with SIGKILL).
# Networking (--net SLOT|auto|none, default auto): a network namespace made for this run holds a bridge joining
# QEMU's tap device and one end of a veth pair; the other end stays on the host with HOST_IP, the guest gets
# GUEST_IP through the kernel command line (systemd-network-generator). TFTP's replies from new ports, TVS, CAPF
# and SIP all work both ways, which user-mode networking's hostfwd cannot do for TFTP.
#   SLOT 0:        host 192.0.2.1/24, guest 192.0.2.2 (RFC 5737 documentation range)
#   SLOT 1..255:   host 198.18.N.1/24, guest 198.18.N.2 (RFC 2544 benchmarking range; tests pick N)
#   auto:          slot 0 if this host has no address in it, else the first free 198.18.N.0/24 (`make run`)
#   join:NS:GUEST_IP:HOST_IP  the bridge br0 of network namespace NS, made by the caller (a test with several
#                  guests on one network, test/image/cluster.test.ts): this run's tap joins it, the guest gets
#                  GUEST_IP/24 with HOST_IP as gateway and a MAC made from GUEST_IP; the namespace stays.
# A slot named explicitly that overlaps an address of this host is refused (image/run-net.ts), naming RUN_NET.
# Everything is removed when QEMU exits. Ctrl-a x quits QEMU, Ctrl-a c switches to its monitor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
arch=${ARCH:-x86_64} boot=${BOOT:-efi} net=auto mem=1024 smp=2 noreboot=() debug="" overlay="" disk_size="" pidfile=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --boot) boot=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --no-reboot) noreboot=(-no-reboot); shift ;;
    --debug-shell) debug=$2; shift 2 ;;
    --overlay) overlay=$2; shift 2 ;;
    --disk-size) disk_size=$2; shift 2 ;;
    --pidfile) pidfile=$2; shift 2 ;;
    *) echo "image/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${SBD_IMAGE_DIR:-$repo/build/image}/$arch"
[ -f "$out/disk.raw" ] || { echo "image/run.sh: no image in $out (make image ARCH=$arch)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "image/run.sh: needs root (network namespace, tap device)" >&2; exit 1; }
case "$boot" in efi|kernel) ;; *) echo "image/run.sh: --boot efi or kernel, not \"$boot\"" >&2; exit 2 ;; esac

run=$(mktemp -d "$out/run.XXXXXX")
ns="" hostif=""
join_ns="" join_tap=""
cleanup() {
  [ -n "$join_tap" ] && ip -n "$join_ns" link del "$join_tap" 2>/dev/null
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
  [ -n "$hostif" ] && ip link del "$hostif" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
if [ -n "$overlay" ]; then overlay=$(realpath -m "$overlay"); else overlay="$run/overlay.qcow2"; fi
if [ ! -f "$overlay" ]; then
  qemu-img create -q -f qcow2 -b "$out/disk.raw" -F raw "$overlay"
  [ -z "$disk_size" ] || qemu-img resize -q "$overlay" "$disk_size"
fi

cmdline=$(cat "$out/cmdline")
netargs=() exec_in=()
if [[ $net == join:* ]]; then
  IFS=: read -r _ ns guest_ip host_ip <<<"$net"
  tap="tap$$" join_ns=$ns join_tap="tap$$"
  ip -n "$ns" tuntap add dev "$tap" mode tap && ip -n "$ns" link set "$tap" master br0 up
  cmdline="$cmdline net.ifnames=0 ip=$guest_ip::$host_ip:255.255.255.0::eth0:off"
  mac=$(printf '52:54:00:%02x:%02x:%02x' $(echo "$guest_ip" | cut -d. -f2-4 | tr . ' '))
  netargs=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$mac,romfile=")
  exec_in=(ip netns exec "$ns")
  ns="" # the caller's: not removed by cleanup (the tap goes with QEMU)
  echo "sbd-run: guest $guest_ip ($mac) on the bridge of namespace ${net#join:}" >&2
elif [ "$net" != none ]; then
  sel=$(cd "$repo" && node --import tsx image/run-net.ts "$net") || exit 1
  read -r net host_ip guest_ip <<<"$sel"
  ns="sbd-run-$$" hostif="sbdh$$"
  ip netns add "$ns"
  ip -n "$ns" link add br0 type bridge
  ip -n "$ns" tuntap add dev tap0 mode tap
  ip -n "$ns" link set tap0 master br0
  ip link add "$hostif" type veth peer name veth0 netns "$ns"
  ip -n "$ns" link set veth0 master br0
  for l in lo br0 tap0 veth0; do ip -n "$ns" link set "$l" up; done
  ip addr add "$host_ip/24" dev "$hostif"
  ip link set "$hostif" up
  cmdline="$cmdline net.ifnames=0 ip=$guest_ip::$host_ip:255.255.255.0::eth0:off"
  # romfile=: no iPXE option ROM for the firmware to load and start (the disk boots; an appliance does not PXE-boot).
  netargs=(-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,romfile=)
  exec_in=(ip netns exec "$ns")
  echo "sbd-run: guest $guest_ip, host $host_ip ($hostif), namespace $ns" >&2
fi

debugargs=()
if [ -n "$debug" ]; then
  [ "$arch" = x86_64 ] || { echo "image/run.sh: --debug-shell is x86_64 only" >&2; exit 2; }
  debugargs=(-serial "unix:$debug,server=on,wait=off")
  cmdline="$cmdline systemd.debug_shell=ttyS1"
fi

# QEMU_TSC (x86_64): the kernel's tsc= for this run (e.g. "reliable"); default none. Under TCG the kernel's TSC checks
# fail and it uses the HPET (an emulated MMIO access per clock read, no vDSO); TCG's TSC is one host-monotonic clock
# for all vCPUs. Measured both ways without a clear gain (docs/image.md "Faster to ITL", fourth pass), so not set by
# default; a run argument like the network's, set on the overlay's loader entries, never in the flashed image.
if [ "$arch" = x86_64 ] && [ -n "${QEMU_TSC-}" ]; then cmdline="$cmdline tsc=$QEMU_TSC"; fi

# QEMU_CPU: the guest's CPU model (x86_64 default: QEMU's own qemu64; see docs/image.md "Faster to ITL", fourth pass).
case "$arch" in
  x86_64) qemu=(qemu-system-x86_64 -machine pc -accel tcg ${QEMU_CPU:+-cpu "$QEMU_CPU"})
          fw_code=/usr/share/OVMF/OVMF_CODE_4M.fd fw_vars=/usr/share/OVMF/OVMF_VARS_4M.fd ;;
  arm64)  qemu=(qemu-system-aarch64 -machine virt -cpu "${QEMU_CPU:-cortex-a57}" -accel tcg)
          fw_code=/usr/share/AAVMF/AAVMF_CODE.fd fw_vars=/usr/share/AAVMF/AAVMF_VARS.fd ;;
  *) echo "image/run.sh: unknown arch $arch" >&2; exit 2 ;;
esac

bootargs=() disk=virtio-blk-pci,drive=hd0
if [ "$boot" = kernel ]; then
  bootargs=(-kernel "$out/vmlinuz" -initrd "$out/initrd.img" -append "$cmdline")
else
  disk=$disk,bootindex=0   # the firmware tries the disk first, not the network card's PXE (-kernel owns bootindex 0)
  [ -f "$fw_code" ] || { echo "image/run.sh: no UEFI firmware $fw_code (Debian package ovmf / qemu-efi-aarch64)" >&2; exit 1; }
  # The firmware's variable store: a fresh copy per run (it boots the removable-media path EFI/BOOT/BOOT*.EFI).
  cp "$fw_vars" "$run/vars.fd"
  bootargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$fw_code" -drive "if=pflash,format=raw,unit=1,file=$run/vars.fd")
  extra=${cmdline#"$(cat "$out/cmdline")"}
  if [ -n "$extra" ]; then
    # Partition 1 is the ESP (hook 60): copy it out of the overlay (a kept overlay's ESP may have changed: updates,
    # boot counters), set the run's arguments on every entry's options (a previous run's are replaced), write it back.
    read -r esp_start esp_size < <(sfdisk --dump "$out/disk.raw" | sed -n 's/^.*1 : start= *\([0-9]*\), size= *\([0-9]*\),.*$/\1 \2/p')
    qemu-img convert -O raw "json:{\"driver\":\"raw\",\"offset\":$(( esp_start * 512 )),\"size\":$(( esp_size * 512 )),\"file\":{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"$overlay\"}}}" "$run/esp.img"
    export MTOOLS_SKIP_CHECK=1
    for entry in $(mdir -b -i "$run/esp.img" ::/loader/entries | grep '\.conf$'); do
      mtype -i "$run/esp.img" "$entry" | sed -E '/^options /{s/ (net\.ifnames|ip|systemd\.debug_shell|tsc)=[^ ]*//g; s|$|'"$extra"'|}' > "$run/entry.conf"
      mcopy -o -i "$run/esp.img" "$run/entry.conf" "$entry"
    done
    qemu-io -f qcow2 -c "write -q -s $run/esp.img $(( esp_start * 512 )) $(( esp_size * 512 ))" "$overlay" >/dev/null
    rm -f "$run/esp.img" "$run/entry.conf"
  fi
fi
# The exact command line is documented in docs/image.md. The line before it marks QEMU's start for bench/image (the
# setup above — network namespace, overlay, the ESP's run arguments — is the runner's, not the machine's boot).
echo "sbd-run: starting QEMU" >&2
"${exec_in[@]}" "${qemu[@]}" -smp "$smp" -m "$mem" -nographic -serial mon:stdio "${debugargs[@]}" "${noreboot[@]}" \
  ${pidfile:+-pidfile "$pidfile"} \
  "${bootargs[@]}" \
  -drive file="$overlay",if=none,id=hd0,format=qcow2 -device "$disk" \
  -device virtio-rng-pci \
  -object cryptodev-backend-builtin,id=c0 -device virtio-crypto-pci,cryptodev=c0 \
  "${netargs[@]}"
