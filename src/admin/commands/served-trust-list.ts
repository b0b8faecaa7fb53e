/**
 * `show itl` / `show ctl`: the trust list as TFTP serves it now (issue 18 item 4). The TFTP source records the
 * exact bytes it serves per TFTP server, with their MD5, SHA-1 and SHA-256 (src/store/trust-reports.ts); this
 * prints those checksums and decodes those bytes — nothing is built or signed to display. The SHA-1 is also
 * printed the way a phone reports it in its DeviceTLInfo alarm ("3E 91 … 15"), so an administrator can compare it
 * with the phone's Security Settings screen. Only when no TFTP server has served the file yet is the file the
 * store would give shown instead, said so, and without checksums (its signing time, hence its bytes, will differ).
 */
import type { Store, TrustListFile } from '../../store/index.js';
import { parseTrustFile } from '../../trust/codec.js';
import { verifyParsed } from '../../trust/verify.js';
import { formatTrustFile } from '../../trust/show.js';

export function showTrustFile(bytes: Buffer, name: string): string {
  const file = parseTrustFile(bytes);
  return formatTrustFile(verifyParsed(bytes, file, []), name);
}

/** "3e91…15" → "3E 91 … 15" (the DeviceTLInfo form). */
function phoneForm(hex: string): string {
  const pairs: string[] = [];
  for (let i = 0; i < hex.length; i += 2) pairs.push(hex.slice(i, i + 2).toUpperCase());
  return pairs.join(' ');
}

/**
 * What `show itl` / `show ctl` print for `file`; `unbuilt` gives the file the store would give (undefined: none).
 * Run inside a read-only store.
 */
export function servedTrustListText(store: Store, file: TrustListFile, unbuilt: () => Buffer | undefined): string | undefined {
  const served = store.listServedTrustFiles(file);
  if (served.length === 0) {
    const bytes = unbuilt();
    if (!bytes) return undefined;
    return [
      `${file}: no TFTP server has served it yet; the file the store gives now (its checksums change when TFTP signs it):`,
      showTrustFile(bytes, file),
    ].join('\n');
  }
  const out: string[] = [];
  for (const r of served) {
    out.push(
      `${file} as TFTP server ${r.server} serves it (recorded ${r.at})`,
      `Size     : ${r.bytes.length} bytes`,
      `MD5      : ${r.md5Hex}`,
      `SHA-1    : ${r.sha1Hex}  (phones report: ${phoneForm(r.sha1Hex)})`,
      `SHA-256  : ${r.sha256Hex}`,
      showTrustFile(r.bytes, file),
    );
  }
  return out.join('\n');
}
