#!/usr/bin/env bash
# Stage 30 "app" — on the host, into the extracted rootfs. Args: ROOTFS OUT CACHE REPO.
# Installs Node 20 (the official binary from the registry's node-linux-<arch> package, fetched with `npm pack`;
# Debian 12's nodejs is 18), the built JavaScript (dist/src, dist/native) and the production node_modules with the
# native modules built for the target architecture:
#   - koffi ships prebuilt binaries for every platform: keep only linux_<arch>;
#   - better-sqlite3 is compiled with node-gyp against the target Node's own headers (include/node of the same
#     package); for arm64 with Debian's aarch64 cross compiler (g++-aarch64-linux-gnu), which takes about a minute
#     where gcc under qemu-user takes many. The result is checked with readelf before it is used.
# The node_modules tree is cached per architecture and package-lock.json hash.
# What runs is bundled (scripts/bundle.ts, esbuild): /usr/lib/sbd/app/sbd.mjs for the CLI and one file per daemon,
# so Node reads and compiles one file instead of 140-270 modules (issue 19 items 6-7); dist/ stays beside it for
# the admin console and as the layout the bundles' file lookups (package.json, native/build) refer to.
set -euo pipefail
root=${1:?rootfs} cache=${3:?cache} repo=${4:?repo}
: "${ARCH:?}" "${NODE_VERSION:?}"
case "$ARCH" in
  x86_64) npm_arch=x64 elf_machine='X86-64' ;;
  arm64)  npm_arch=arm64 elf_machine='AArch64' ;;
esac

# --- Node ---------------------------------------------------------------------------------------------------------
node_pkg="$cache/node-linux-$npm_arch-$NODE_VERSION"
if [ ! -x "$node_pkg/bin/node" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-$npm_arch@$NODE_VERSION" >/dev/null)
  mkdir -p "$node_pkg.tmp"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$node_pkg.tmp" --strip-components=1
  rm -rf "$tmp" "$node_pkg" && mv "$node_pkg.tmp" "$node_pkg"
fi
install -D -m 0755 "$node_pkg/bin/node" "$root/usr/local/bin/node"
# The official binary carries its full symbol table and some debug info (99 MB, x86-64); stripped of what nothing
# loads (--strip-unneeded keeps the dynamic symbols the native addons link against) it is 86 MB and the compressed
# image 2.4 MB smaller. Backtraces still name the exported functions.
case "$ARCH" in
  x86_64) strip_tool=strip ;;
  arm64)  strip_tool=aarch64-linux-gnu-strip; [ "$(uname -m)" = aarch64 ] && strip_tool=strip ;;
esac
"$strip_tool" --strip-unneeded "$root/usr/local/bin/node"
install -D -m 0644 "$node_pkg/LICENSE" "$root/usr/local/share/doc/node/LICENSE"

# --- production node_modules for the target --------------------------------------------------------------------
lock_key=$(cat "$repo/package.json" "$repo/package-lock.json" | sha256sum | cut -c1-16)
mods="$cache/app-$ARCH-$NODE_VERSION-$lock_key"
if [ ! -d "$mods/node_modules" ]; then
  # Per process: builds running side by side (other image folders) must not share a half-built tree.
  mods_tmp="$mods.tmp.$$"
  rm -rf "$mods_tmp" && mkdir -p "$mods_tmp"
  cp "$repo/package.json" "$repo/package-lock.json" "$mods_tmp/"
  (cd "$mods_tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  t=$(date +%s)
  (
    cd "$mods_tmp/node_modules/better-sqlite3"
    if [ "$ARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
      export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
    fi
    node "$gyp" rebuild --release --arch="$npm_arch" --nodedir="$node_pkg" --jobs=max >/dev/null
  )
  so="$mods_tmp/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  readelf -h "$so" | grep -q "Machine:.*$elf_machine" || { echo "30-app: $so is not built for $ARCH" >&2; exit 1; }
  echo "better-sqlite3 built for $ARCH in $(( $(date +%s) - t )) s"
  # Keep what runs: the addon and the JS. Sources, objects and the other platforms' koffi binaries go.
  (
    cd "$mods_tmp/node_modules"
    find better-sqlite3/build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
    find better-sqlite3/build/Release -mindepth 1 ! -name better_sqlite3.node -exec rm -rf {} +
    rm -rf better-sqlite3/deps better-sqlite3/src
    find koffi/build/koffi -mindepth 1 -maxdepth 1 ! -name "linux_$npm_arch" -exec rm -rf {} +
    rm -rf koffi/src koffi/vendor koffi/doc
  )
  # Another build may have finished the same tree first: keep that one.
  if [ -d "$mods/node_modules" ]; then rm -rf "$mods_tmp"; else rm -rf "$mods" && mv "$mods_tmp" "$mods"; fi
  # Older trees go; half-built ones (*.tmp.PID) belong to running builds.
  find "$cache" -maxdepth 1 -name "app-$ARCH-*" ! -name "$(basename "$mods")" ! -name '*.tmp.*' -exec rm -rf {} +
fi

# --- native helpers (native/*.mk, loaded through koffi) for the target ----------------------------------------
native_out=""
if [ -f "$repo/native/Makefile" ]; then
  native_key=$(cat "$repo"/native/Makefile "$repo"/native/*.mk "$repo"/native/*.[ch] 2>/dev/null | sha256sum | cut -c1-16)
  native_out="$cache/native-$ARCH-$native_key"
  if [ ! -d "$native_out" ]; then
    native_tmp="$native_out.tmp.$$"
    if [ "$ARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
      # Cross build against the target rootfs' own libcrypto.so.3. OpenSSL's headers are the host's libssl-dev
      # (the same 3.0 release; its arch-specific configuration.h only differs in what LP64 targets share).
      # Only OpenSSL's arch directory is borrowed (not the host's glibc headers).
      inc="$cache/cross-include-$ARCH"
      rm -rf "$inc" && mkdir -p "$inc" && cp -r /usr/include/x86_64-linux-gnu/openssl "$inc/"
      flags="-O2 -I$inc -L$root/usr/lib/aarch64-linux-gnu -Wl,-rpath-link=$root/usr/lib/aarch64-linux-gnu"
      make -s -C "$repo/native" BUILD="$native_tmp" CC=aarch64-linux-gnu-gcc CFLAGS="$flags" \
        libsbdsrtp_LDLIBS=-l:libcrypto.so.3 libsbdtls_LDLIBS="-l:libssl.so.3 -l:libcrypto.so.3 -lpthread"
    else
      make -s -C "$repo/native" BUILD="$native_tmp"
    fi
    for so in "$native_tmp"/*.so; do
      readelf -h "$so" | grep -q "Machine:.*$elf_machine" || { echo "30-app: $so is not built for $ARCH" >&2; exit 1; }
    done
    if [ -d "$native_out" ]; then rm -rf "$native_tmp"; else mv "$native_tmp" "$native_out"; fi
    find "$cache" -maxdepth 1 -name "native-$ARCH-*" ! -name "$(basename "$native_out")" ! -name '*.tmp.*' -exec rm -rf {} +
  fi
fi

# --- the app -----------------------------------------------------------------------------------------------------
app="$root/usr/lib/sbd"
rm -rf "$app" && mkdir -p "$app/dist"
cp "$repo/package.json" "$app/"
cp -a "$mods/node_modules" "$app/"
for d in src native; do
  [ -d "$repo/dist/$d" ] && cp -a "$repo/dist/$d" "$app/dist/"
done
find "$app/dist" -name '*.map' -delete
if [ -n "$native_out" ]; then mkdir -p "$app/native/build" && cp "$native_out"/*.so "$app/native/build/"; fi
chown -R root:root "$app"
(cd "$repo" && node --import tsx scripts/bundle.ts "$app/app" --app .. --dist "$repo/dist")
chown -R root:root "$app/app"
cat > "$root/usr/bin/sbd" <<'SH'
#!/bin/sh
# The sbd command line (see `sbd help`), bundled (/usr/lib/sbd/app, scripts/bundle.ts). `sbd daemon NAME` runs
# NAME's own bundle, which holds that daemon's code only (as the unbundled CLI loads only its command file);
# `sbd init` (first boot) the cluster commands' bundle. SBD_NODE_ARGS: node's own options that NODE_OPTIONS may
# not carry (a unit's drop-in sets it, e.g. --lite-mode).
app=/usr/lib/sbd/app
case "${1:-}:${2:-}" in
  daemon:*[!a-z]* | daemon:) ;;
  daemon:*) [ -f "$app/sbd-daemon-$2.mjs" ] && exec /usr/local/bin/node ${SBD_NODE_ARGS:-} "$app/sbd-daemon-$2.mjs" "$@" ;;
  init:*) [ -f "$app/sbd-init.mjs" ] && exec /usr/local/bin/node ${SBD_NODE_ARGS:-} "$app/sbd-init.mjs" "$@" ;;
esac
exec /usr/local/bin/node ${SBD_NODE_ARGS:-} "$app/sbd.mjs" "$@"
SH
chmod 0755 "$root/usr/bin/sbd"

# --- media sources ---------------------------------------------------------------------------------------------
# sbd-mediad's built-in music-on-hold source, generated here (never downloaded), then read back with the daemon's
# own WAV parser so that an image never ships a source the daemon would refuse.
moh="$root/usr/share/sbd/moh/tone.wav"
mkdir -p "$(dirname "$moh")"
node "$repo/image/moh-tone.mjs" "$moh" 4
chmod 0644 "$moh"
node --input-type=module -e "
  const { parseWav } = await import('$repo/dist/src/media/streaming/wav.js');
  const w = parseWav((await import('node:fs')).readFileSync(process.argv[1]));
  console.log('media: /usr/share/sbd/moh/tone.wav, ' + w.samples.length / 8000 + ' s of ' + w.codec);" "$moh"
echo "app: node $("$node_pkg/bin/node" --version 2>/dev/null || echo "$NODE_VERSION"), $(du -sm "$app" | cut -f1) MB in /usr/lib/sbd"
