/**
 * `utils disaster_recovery backup FILE` / `sbd backup create FILE`: one encrypted file holding a consistent
 * snapshot of the store (SQLite online backup API, taken while daemons keep running) and every private key of
 * the state folder. The snapshot is taken first and the keys read after it, so every key the snapshot's
 * certificates name is already on disk; that is checked before anything is written.
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { systemClock, type Clock } from '../lib/clock.js';
import { openStore } from '../store/index.js';
import { stateLayout } from '../store/state.js';
import { readClusterNode } from '../store/pg/cluster-node.js';
import { sbdVersion } from '../lib/version.js';
import { BackupError, BackupErrorCode } from './errors.js';
import { writeFileAtomic } from './durable.js';
import { checkPassphrase, sealBackup, type BackupFile, type BackupKdf, type BackupManifest } from './format.js';

export interface CreateBackupOptions {
  stateDir: string;
  /** The backup file to write (replaced atomically if it exists; mode 0600). */
  file: string;
  passphrase: string;
  clock?: Clock;
  /** Default BACKUP_KDF. */
  kdf?: BackupKdf;
}

export interface CreateBackupResult {
  file: string;
  bytes: number;
  manifest: BackupManifest;
}

/** Regular files directly in `<state>/keys/`: every private key the appliance holds (current and history). */
export function readKeyFiles(keysDir: string): BackupFile[] {
  let names: string[];
  try {
    names = readdirSync(keysDir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BackupError(BackupErrorCode.io, `cannot list ${keysDir}: ${(err as Error).message}`, { cause: err });
  }
  const files: BackupFile[] = [];
  for (const n of names) {
    const p = join(keysDir, n);
    const st = lstatSync(p);
    if (!st.isFile()) continue; // a temp folder or symlink is not a key the store can name
    if (n.endsWith('.tmp') || n.includes('.tmp-')) continue; // a key being written right now, not yet in the store
    files.push({ name: `keys/${n}`, bytes: readFileSync(p), mode: st.mode & 0o777 });
  }
  return files;
}

/**
 * Key file names (basenames) that current identity certificates of the store at `dbPath` need. In a cluster
 * (`localNode` given) only this node's and the cluster-wide ones: other nodes' keys never leave those nodes.
 */
export function requiredKeyNames(dbPath: string, localNode?: string): { schemaVersion: number; nodes: string[]; keys: string[] } {
  const store = openStore(dbPath, { readonly: true });
  try {
    const keys = store
      .listCertificates()
      .filter((c) => c.kind === 'identity' && c.keyFile && isLocalKey(c.node, localNode))
      .map((c) => basename(c.keyFile!));
    return { schemaVersion: store.schemaVersion(), nodes: store.listNodes().map((n) => n.name), keys };
  } finally {
    store.close();
  }
}

/** Whether a certificate of `node` has its key on this box: always on a single node; in a cluster, ours and the cluster's. */
export function isLocalKey(node: string | null, localNode: string | undefined): boolean {
  return localNode === undefined || node === null || node === localNode;
}

export async function createBackup(o: CreateBackupOptions): Promise<CreateBackupResult> {
  checkPassphrase(o.passphrase);
  const layout = stateLayout(o.stateDir);
  const clock = o.clock ?? systemClock;
  const work = mkdtempSync(join(tmpdir(), 'sbd-backup-')); // 0700: the snapshot holds credential hashes
  try {
    const snapshotPath = join(work, 'sbd.db');
    const live = openStore(layout.dbPath, { create: false, readonly: true });
    try {
      await live.backupTo(snapshotPath);
    } finally {
      live.close();
    }
    const db = readFileSync(snapshotPath);
    const info = requiredKeyNames(snapshotPath, readClusterNode(o.stateDir)?.node);
    const keys = readKeyFiles(layout.keysDir);
    const have = new Set(keys.map((k) => k.name.slice('keys/'.length)));
    const missing = info.keys.filter((k) => !have.has(k));
    if (missing.length > 0) {
      throw new BackupError(
        BackupErrorCode.inconsistent,
        `the store names private keys that are not in ${layout.keysDir}: ${missing.join(', ')}`,
      );
    }
    const sealed = await sealBackup({
      files: [{ name: 'sbd.db', bytes: db, mode: 0o600 }, ...keys],
      passphrase: o.passphrase,
      createdAt: new Date(clock.now()).toISOString(),
      sbdVersion: sbdVersion(),
      schemaVersion: info.schemaVersion,
      nodes: info.nodes,
      ...(o.kdf ? { kdf: o.kdf } : {}),
    });
    writeFileAtomic(o.file, sealed.bytes, 0o600);
    return { file: o.file, bytes: sealed.bytes.length, manifest: sealed.manifest };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
