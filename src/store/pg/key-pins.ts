/**
 * The keys a node's copy (store-copy.ts) decrypts its rows with, held beside the rows they belong to (issue 21, the
 * key-row window). The publisher writes each cluster key's row (`sbd.cluster_keys`: wrapped key and `key_id`) in the
 * same transaction as the rows encrypted under it (daemons/clusterd.ts), and a subscriber's sbd-clusterd installs the
 * key into the node's keys folder some time after its standby replayed it. So a copy (1) loads a snapshot only once
 * the node's folder holds every key id the snapshot names (else it keeps serving the snapshot it has), and (2) keeps
 * a private copy of those key files, replaced in the same step as the rows: its daemons decrypt with these, never
 * with a key installed for rows the copy has not loaded yet. `key_id` is HMAC-SHA-256(key, label): it names the key
 * and reveals nothing of it (the row is readable by every node role and the reader).
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A cluster key's id as `sbd.cluster_keys.key_id` holds it. */
export function clusterKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('sbd-cluster-key-id').digest('hex');
}

/** Row name → file name in a keys folder (the phone- and trunk-password keys: 64 hex digits and a newline). */
export type KeyFiles = Readonly<Record<string, string>>;

export interface HeldKey {
  /** The file's text, copied as it is. */
  text: string;
  id: string;
}

/** The keys a folder holds, by row name; a missing or malformed file is not held. */
export function readHeldKeys(dir: string, files: KeyFiles): Map<string, HeldKey> {
  const held = new Map<string, HeldKey>();
  for (const [name, file] of Object.entries(files)) {
    let text: string;
    try {
      text = readFileSync(join(dir, file), 'utf8');
    } catch {
      continue;
    }
    const hex = text.trim();
    if (/^[0-9a-f]{64}$/.test(hex)) held.set(name, { text, id: clusterKeyId(Buffer.from(hex, 'hex')) });
  }
  return held;
}

/** Row names whose key id `needed` names and `held` does not hold (a row without an id, from an older build: none). */
export function missingKeys(needed: ReadonlyMap<string, string | null>, held: ReadonlyMap<string, HeldKey>): string[] {
  return [...needed].filter(([name, id]) => id && held.get(name)?.id !== id).map(([name]) => name);
}

/** The copy's private keys folder (0700, files 0600): each file replaced in one rename, a key not held removed. */
export function pinKeys(dir: string, files: KeyFiles, held: ReadonlyMap<string, HeldKey>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, file] of Object.entries(files)) {
    const path = join(dir, file);
    const key = held.get(name);
    if (!key) {
      rmSync(path, { force: true });
      continue;
    }
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, key.text, { mode: 0o600 });
    renameSync(tmp, path);
  }
}
