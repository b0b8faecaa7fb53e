/**
 * `utils disaster_recovery restore FILE` / `sbd backup restore FILE`: nothing under the state folder is touched
 * until the backup has passed every check; then a staged sibling folder is swapped in at once (the steps are on
 * `restoreBackup`). The daemons still hold the old store open; the result names the services to restart.
 */
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { openStore, StoreErrorCode, isStoreError, type NodeService } from '../store/index.js';
import { applyKeyAccess } from '../pki/identity-store.js';
import { readClusterNode, type ClusterNodeFile } from '../store/pg/cluster-node.js';
import { isLocalKey } from './create.js';
import { BackupError, BackupErrorCode } from './errors.js';
import { fsyncPath, writeNewFileSynced } from './durable.js';
import { openBackup, type BackupManifest } from './format.js';
import { swapIntoPlace, type SwapMethod } from './swap.js';

/** Largest backup file read. Default 1 GiB. */
export const RESTORE_DEFAULTS = { maxBackupBytes: 1024 * 1024 * 1024 } as const;

/** The systemd unit serving each node service (rootfs/usr/lib/systemd/system). */
export const SERVICE_UNITS: Readonly<Record<NodeService, string>> = {
  tftp: 'sbd-tftpd',
  tvs: 'sbd-tvsd',
  capf: 'sbd-capfd',
  sip: 'sbd-sipd',
  callmanager: 'sbd-sipd',
  media: 'sbd-mediad',
};

export interface RestoreBackupOptions {
  stateDir: string;
  file: string;
  passphrase: string;
  /** Default RESTORE_DEFAULTS.maxBackupBytes. */
  maxBackupBytes?: number;
}

export interface RestoreBackupResult {
  manifest: BackupManifest;
  /** Units that still run on the replaced store and must be restarted. */
  restartServices: string[];
  swap: SwapMethod;
  /** Set when the staged store was older and was migrated to this sbd's schema. */
  migratedFrom: number | undefined;
  /** Set when the replaced state could not be removed entirely: where its rest is (it holds old keys). */
  leftover?: string;
}

// sbd.db-generation (the store's published generation, src/store/store.ts) belongs to the replaced store: not carried over.
const MANAGED = new Set(['sbd.db', 'sbd.db-wal', 'sbd.db-shm', 'sbd.db-journal', 'sbd.db-generation', 'keys']);

function readBackupFile(file: string, max: number): Buffer {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new BackupError(BackupErrorCode.input, `${file} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(BackupErrorCode.io, `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (size > max) throw new BackupError(BackupErrorCode.format, `${file} is ${size} bytes, above the ${max}-byte limit`);
  return readFileSync(file);
}

/** Gives `path` the group and mode bits (setgid/sticky included) of `like`, when `like` exists. */
function likeLive(path: string, like: string, modeMask: number): void {
  if (!existsSync(like)) return;
  const st = statSync(like);
  // The group first: changing it clears setgid. The owner may give its files any group it is a member of.
  if (st.gid !== statSync(path).gid) chownSync(path, -1, st.gid);
  chmodSync(path, st.mode & modeMask);
}

function stage(staging: string, live: string, files: { name: string; bytes: Buffer; mode: number }[]): void {
  mkdirSync(staging, { mode: 0o750 });
  // The folder and the store keep the live ones' modes (the image's layout: docs/image.md "Users and files"), so
  // the daemons can open the restored state as they opened the old one.
  likeLive(staging, live, 0o7777);
  mkdirSync(join(staging, 'keys'), { mode: 0o700 });
  likeLive(join(staging, 'keys'), join(live, 'keys'), 0o750);
  for (const f of files) {
    const path = join(staging, f.name);
    // Private material is never written wider than 0600, whatever the manifest says.
    writeNewFileSynced(path, f.bytes, f.mode & 0o600);
    // Key files go back to their role's group (0640) where the image has one; the store to the live store's mode.
    if (f.name.startsWith('keys/')) applyKeyAccess(path);
    else if (f.name === 'sbd.db') likeLive(path, join(live, 'sbd.db'), 0o664);
  }
  fsyncPath(join(staging, 'keys'));
  fsyncPath(staging);
}

/** Opens the staged store as sbd would, migrating an older schema; checks that current identities have their keys. */
function checkStaged(staging: string, cluster: ClusterNodeFile | undefined): { migrated: boolean; services: string[] } {
  const dbPath = join(staging, 'sbd.db');
  let migrated = false;
  let store;
  try {
    store = openStore(dbPath, { readonly: true, integrityCheck: 'full' });
  } catch (err) {
    if (!isStoreError(err) || err.code !== StoreErrorCode.needsMigration) {
      throw new BackupError(BackupErrorCode.store, `the backed-up store cannot be used: ${(err as Error).message}`, { cause: err });
    }
    const raw = openStore(dbPath, { create: false, integrityCheck: 'none' });
    raw.close();
    store = openStore(dbPath, { readonly: true });
    migrated = true;
  }
  try {
    const keys = new Set(readdirSync(join(staging, 'keys')));
    const missing = store
      .listCertificates()
      .filter((c) => c.kind === 'identity' && c.keyFile && isLocalKey(c.node, cluster?.node) && !keys.has(basename(c.keyFile)))
      .map((c) => `${c.name}${c.node ? '@' + c.node : ''} (${basename(c.keyFile!)})`);
    if (missing.length > 0)
      throw new BackupError(BackupErrorCode.inconsistent, `the backup lacks the private keys of ${missing.join(', ')}`);
    const services = new Set<string>();
    for (const n of store.listNodes()) for (const s of n.services) services.add(SERVICE_UNITS[s as NodeService] ?? `sbd-${s}`);
    // A cluster's publisher: sbd-clusterd holds the old store open too, and publishes the restored one once restarted.
    if (cluster?.role === 'publisher') services.add('sbd-clusterd');
    return { migrated, services: [...services].sort() };
  } finally {
    store.close();
  }
}

function isCarriedFile(path: string): boolean {
  const s = lstatSync(path);
  return !s.isSocket() && !s.isFIFO();
}

function carryOver(live: string, staging: string): void {
  if (!existsSync(live)) return;
  for (const name of readdirSync(live)) {
    if (MANAGED.has(name)) continue;
    // Sockets and FIFOs are a running daemon's (sbd-sipd's control socket): it makes them again when it starts.
    cpSync(join(live, name), join(staging, name), {
      recursive: true,
      preserveTimestamps: true,
      verbatimSymlinks: true,
      filter: isCarriedFile,
    });
  }
}

/**
 * Theory of operation: nothing under the state folder is touched until the backup has passed every check.
 *   1. read the file (bounded), check the header, derive the key, check the passphrase, decrypt and check the
 *      GCM tag and each file's SHA-256 — any failure is a BackupError and the running state is as it was;
 *   2. write the store and keys into a new sibling folder `<state>.restore-<random>` (0600 files, 0700 keys/; then
 *      the live folder's modes and each key's role group, as the image lays them out), fsync every file and folder.
 *      The sibling lives in the state folder's parent, which the state's owner must be able to write: in the image
 *      the state is /var/lib/sbd/state and /var/lib/sbd belongs to `sbd` (a folder directly in /var/lib could not
 *      be staged or swapped without root);
 *   3. open the staged store as sbd would (schema, quick_check; an older schema is migrated there) and check
 *      that every current certificate's private key is present;
 *   4. copy over what the state folder holds besides the store and keys (admin history, …);
 *   5. swap the staged folder in (renameat2 RENAME_EXCHANGE), fsync the parent, remove the old folder.
 */
export async function restoreBackup(o: RestoreBackupOptions): Promise<RestoreBackupResult> {
  const target = resolve(o.stateDir);
  const parent = dirname(target);
  if (!existsSync(parent)) throw new BackupError(BackupErrorCode.input, `the folder ${parent} that holds the state folder does not exist`);
  if (existsSync(target) && !lstatSync(target).isDirectory()) throw new BackupError(BackupErrorCode.input, `${target} is not a folder`);
  const bytes = readBackupFile(o.file, o.maxBackupBytes ?? RESTORE_DEFAULTS.maxBackupBytes);
  const opened = await openBackup(bytes, o.passphrase); // step 1: every refusal happens here or in checkStaged
  const staging = `${target}.restore-${randomBytes(6).toString('hex')}`;
  let swap: SwapMethod;
  let checked: { migrated: boolean; services: string[] };
  try {
    stage(staging, target, opened.files);
    checked = checkStaged(staging, readClusterNode(o.stateDir));
    carryOver(target, staging);
    swap = swapIntoPlace(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (err instanceof BackupError) throw err;
    throw new BackupError(BackupErrorCode.io, `restore stopped before the state was replaced: ${(err as Error).message}`, { cause: err });
  }
  fsyncPath(parent);
  // After an exchange (or the fallback), the staging path holds the old state: it is no longer needed. The restore
  // has succeeded whatever happens here: a file the state's owner may not remove (a daemon's own folder) is left.
  let leftover: string | undefined;
  try {
    rmSync(staging, { recursive: true, force: true });
  } catch {
    leftover = staging;
  }
  return {
    manifest: opened.manifest,
    restartServices: checked.services,
    swap,
    migratedFrom: checked.migrated ? opened.manifest.schemaVersion : undefined,
    ...(leftover ? { leftover } : {}),
  };
}
