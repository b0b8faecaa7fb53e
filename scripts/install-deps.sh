#!/usr/bin/env bash
# Installs what the project needs, idempotently: Debian packages listed in deps/apt/*.txt,
# npm packages from package-lock.json, and native helpers (native/Makefile).
# Usage: scripts/install-deps.sh [apt-list-name ...]   (default: every list in deps/apt)
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" != 20 ]; then
  echo "sbd needs Node.js 20 (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

lists=()
if [ $# -gt 0 ]; then for n in "$@"; do lists+=("deps/apt/$n.txt"); done; else lists=(deps/apt/*.txt); fi
wanted=$(cat "${lists[@]}" | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in $wanted; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -f native/Makefile ]; then make -s -C native; fi
