#!/bin/sh
# Fuzz the native TFTP request/option parser (native/tftp-packet.c, tftp-options.c, tftp-text.c) with AFL++ through
# native/fuzz/tftp-request-fuzz.c, for a bounded time.
#
#   scripts/fuzz-tftp.sh [SECONDS]        default 60 (CI); e.g. 3600 or more by hand
#
# Environment: FUZZ_OUT (default a fresh temporary folder, removed when nothing was found), AFL_CC (default
# afl-clang-fast, else afl-gcc-fast), FUZZ_CFLAGS (extra compiler flags; -DSBD_FUZZ_CANARY plants a bug). Seeds: native/fuzz/seeds/ (requests captured from tftp-hpa, atftp and curl,
# an ACK, an ERROR, an OACK, the timeout=255 attack). Exit status: 0 when AFL found no crash and no hang, 1 when it
# did (the inputs are listed, and the folder is kept), 2 when it could not run.
set -eu
seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
native=$here/native
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sbd-fuzz-tftp.XXXXXX")}
mkdir -p "$out"

cc=${AFL_CC:-}
if [ -z "$cc" ]; then
  if command -v afl-clang-fast >/dev/null 2>&1; then cc=afl-clang-fast
  elif command -v afl-gcc-fast >/dev/null 2>&1; then cc=afl-gcc-fast
  else echo "afl++ is not installed (Debian package afl++)" >&2; exit 2
  fi
fi
bin=$out/tftp-request-fuzz
# shellcheck disable=SC2086 # FUZZ_CFLAGS is a list of flags
AFL_QUIET=1 "$cc" -std=c11 -D_GNU_SOURCE -O2 -g ${FUZZ_CFLAGS:-} -o "$bin" "$native/fuzz/tftp-request-fuzz.c" \
  "$native/tftp-packet.c" "$native/tftp-options.c" "$native/tftp-text.c"

# A container has no CPU frequency governor nor a core_pattern AFL likes, and other jobs share the cores.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1
# -V: stop after SECONDS; -t: a parse taking over 1 s is a hang.
afl-fuzz -i "$native/fuzz/seeds" -o "$out/findings" -V "$seconds" -t 1000 -- "$bin" >"$out/afl.log" 2>&1 || {
  echo "afl-fuzz failed to run (log: $out/afl.log):" >&2
  tail -n 20 "$out/afl.log" >&2
  exit 2
}
stats=$out/findings/default/fuzzer_stats
[ -f "$stats" ] || { echo "afl-fuzz wrote no statistics ($out)" >&2; exit 2; }
field() { sed -n "s/^$1 *: *//p" "$stats"; }
crashes=$(field saved_crashes)
hangs=$(field saved_hangs)
echo "afl-fuzz: ${seconds}s, $(field execs_done) executions, $(field corpus_count) paths, $crashes crashes, $hangs hangs ($out)"
if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
  ls "$out/findings/default/crashes" "$out/findings/default/hangs" 2>/dev/null
  exit 1
fi
[ -n "${FUZZ_OUT:-}" ] || rm -rf "$out"
exit 0
