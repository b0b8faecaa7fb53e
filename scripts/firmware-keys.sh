#!/usr/bin/env bash
# The firmware-signing key pair for update bundles (docs/firmware-update.md). It is NOT any appliance trust-list key
# (CallManager, TVS, CAPF, ITLRecovery): those are made on the appliance; this one signs what the appliance installs.
#   FIRMWARE_KEY + FIRMWARE_CERT set (and FIRMWARE_KEYRING: the CA certificate appliances trust; default
#   FIRMWARE_CERT itself): used as given (a release key kept off the build machine, or a PKCS#11 URL for the key).
#   Otherwise a development CA and signing key are made once in FIRMWARE_KEY_DIR (default build/firmware-keys/,
#   never committed): ca.{key,cert}.pem (the keyring) and signing.{key,cert}.pem (codeSigning, issued by the CA).
# Prints FIRMWARE_KEY=…, FIRMWARE_CERT=…, FIRMWARE_KEYRING=… (for eval).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${FIRMWARE_KEY:-}" ] || [ -n "${FIRMWARE_CERT:-}" ]; then
  : "${FIRMWARE_KEY:?FIRMWARE_CERT is set: set FIRMWARE_KEY too}" "${FIRMWARE_CERT:?FIRMWARE_KEY is set: set FIRMWARE_CERT too}"
  printf 'FIRMWARE_KEY=%q\nFIRMWARE_CERT=%q\nFIRMWARE_KEYRING=%q\n' "$FIRMWARE_KEY" "$FIRMWARE_CERT" "${FIRMWARE_KEYRING:-$FIRMWARE_CERT}"
  exit 0
fi
dir=${FIRMWARE_KEY_DIR:-build/firmware-keys}
if [ ! -s "$dir/signing.cert.pem" ]; then
  mkdir -p "$dir" && chmod 700 "$dir"
  tmp=$(mktemp -d "$dir/new.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  days=${FIRMWARE_KEY_DAYS:-3650}
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ca.key.pem" \
    -out "$tmp/ca.cert.pem" -days "$days" -subj "/O=sbd development/CN=sbd firmware signing CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/signing.key.pem" \
    -out "$tmp/signing.csr" -subj "/O=sbd development/CN=sbd firmware signing" 2>/dev/null
  # codeSigning: what the appliance checks (system.conf check-purpose=codesign); emailProtection: what `rauc info`
  # checks by default (S/MIME signing) on a build host without that system.conf.
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning,emailProtection\n' > "$tmp/ext"
  openssl x509 -req -in "$tmp/signing.csr" -CA "$tmp/ca.cert.pem" -CAkey "$tmp/ca.key.pem" -CAcreateserial \
    -days "$days" -extfile "$tmp/ext" -out "$tmp/signing.cert.pem" 2>/dev/null
  chmod 600 "$tmp"/*.key.pem
  for f in ca.key.pem ca.cert.pem signing.key.pem signing.cert.pem; do mv "$tmp/$f" "$dir/$f"; done
  echo "firmware-keys: made a development signing CA and key in $dir (keep them: images trust this CA)" >&2
fi
printf 'FIRMWARE_KEY=%q\nFIRMWARE_CERT=%q\nFIRMWARE_KEYRING=%q\n' "$dir/signing.key.pem" "$dir/signing.cert.pem" "$dir/ca.cert.pem"
