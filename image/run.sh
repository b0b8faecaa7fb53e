#!/usr/bin/env bash
# Boots a built sbd image in QEMU (software emulation, TCG: KVM does not work on these machines) with the serial
# console on this terminal (stdin/stdout). `make run` and the image tests both use this script.
#
#   image/run.sh [--arch x86_64|arm64] [--net N|none] [--mem MB] [--smp N] [--no-reboot] [--debug-shell SOCKET]
#
# --debug-shell SOCKET (x86_64, for the image tests): a second serial port (ttyS1) on a Unix socket and
# `systemd.debug_shell=ttyS1` on the kernel command line — systemd's own root debug shell. Whoever controls the
# kernel command line already owns the machine; the appliance itself has no root login.
# The disk is a throw-away qcow2 overlay on build/image/<arch>/disk.raw (the image stays pristine).
# Networking (--net N, default 0; N = 0..255): a network namespace made for this run holds a bridge joining
# QEMU's tap device and one end of a veth pair; the other end stays on the host with HOST_IP, the guest gets
# GUEST_IP through the kernel command line (systemd-network-generator). TFTP's replies from new ports, TVS, CAPF
# and SIP all work both ways, which user-mode networking's hostfwd cannot do for TFTP.
#   N = 0:  host 192.0.2.1/24, guest 192.0.2.2 (RFC 5737 documentation range; `make run`)
#   N > 0:  host 198.18.N.1/24, guest 198.18.N.2 (RFC 2544 benchmarking range; tests pick N)
# Everything is removed when QEMU exits. Ctrl-a x quits QEMU, Ctrl-a c switches to its monitor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
arch=${ARCH:-x86_64} net=0 mem=1024 smp=2 noreboot=() debug=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --no-reboot) noreboot=(-no-reboot); shift ;;
    --debug-shell) debug=$2; shift 2 ;;
    *) echo "image/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="$repo/build/image/$arch"
[ -f "$out/disk.raw" ] || { echo "image/run.sh: no image in $out (make image ARCH=$arch)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "image/run.sh: needs root (network namespace, tap device)" >&2; exit 1; }

run=$(mktemp -d "$out/run.XXXXXX")
ns="" hostif=""
cleanup() {
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
  [ -n "$hostif" ] && ip link del "$hostif" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
qemu-img create -q -f qcow2 -b "$out/disk.raw" -F raw "$run/overlay.qcow2"

cmdline=$(cat "$out/cmdline")
netargs=() exec_in=()
if [ "$net" != none ]; then
  if [ "$net" = 0 ]; then host_ip=192.0.2.1 guest_ip=192.0.2.2; else host_ip=198.18.$net.1 guest_ip=198.18.$net.2; fi
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
  netargs=(-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0)
  exec_in=(ip netns exec "$ns")
  echo "sbd-run: guest $guest_ip, host $host_ip ($hostif), namespace $ns" >&2
fi

debugargs=()
if [ -n "$debug" ]; then
  [ "$arch" = x86_64 ] || { echo "image/run.sh: --debug-shell is x86_64 only" >&2; exit 2; }
  debugargs=(-serial "unix:$debug,server=on,wait=off")
  cmdline="$cmdline systemd.debug_shell=ttyS1"
fi

case "$arch" in
  x86_64) qemu=(qemu-system-x86_64 -machine pc -accel tcg) ;;
  arm64)  qemu=(qemu-system-aarch64 -machine virt -cpu cortex-a57 -accel tcg) ;;
  *) echo "image/run.sh: unknown arch $arch" >&2; exit 2 ;;
esac
# The exact command line is documented in docs/image.md.
"${exec_in[@]}" "${qemu[@]}" -smp "$smp" -m "$mem" -nographic -serial mon:stdio "${debugargs[@]}" "${noreboot[@]}" \
  -kernel "$out/vmlinuz" -initrd "$out/initrd.img" -append "$cmdline" \
  -drive file="$run/overlay.qcow2",if=none,id=hd0,format=qcow2 -device virtio-blk-pci,drive=hd0 \
  -device virtio-rng-pci \
  -object cryptodev-backend-builtin,id=c0 -device virtio-crypto-pci,cryptodev=c0 \
  "${netargs[@]}"
