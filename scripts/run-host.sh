#!/usr/bin/env bash
# Host mode of `make run` (until and besides the image): a store under ./var, then every daemon that this build
# has, in the foreground, on loopback. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
state=${SBD_STATE:-./var}
bind=${SBD_BIND:-127.0.0.1}
sbd() { node dist/src/cli/main.js "$@"; }
if [ ! -f "$state/sbd.db" ]; then
  sbd init --state "$state" --hostname "$(hostname -s)" --ip "$bind"
fi
declare -A ports=([tftp]=${SBD_TFTP_PORT:-6969} [tvs]=2445 [capf]=3804 [sip]=5060 [media]=0)
pids=()
for d in tftp tvs capf sip media; do
  if sbd help daemon 2>/dev/null | grep -q "sbd daemon $d "; then
    echo "starting sbd daemon $d on $bind:${ports[$d]}"
    sbd daemon "$d" --state "$state" --bind "$bind" --port "${ports[$d]}" &
    pids+=($!)
  fi
done
if [ ${#pids[@]} -eq 0 ]; then echo "no daemons in this build yet; the store is at $state"; exit 0; fi
trap 'kill ${pids[*]} 2>/dev/null; wait' INT TERM
wait
