/**
 * The store on the first boot of a new firmware version, before any daemon opens it (sbd-store-upgrade.service,
 * `sbd firmware prepare-store`): when the version that last used the store differs from the running one, an
 * encrypted backup of the store as it is (any schema version: store/snapshot.ts) and every key, then the forward
 * migration (opening the store read-write runs store/migrations.ts), then the running version is recorded.
 * The backups are sealed with a passphrase the appliance generates once and keeps beside them (0600, the state's
 * owner): they are for going back on this box (restore with `utils disaster_recovery restore` on the old version),
 * as protected as the state itself; `sbd backup create` with your own passphrase is for keeping a copy elsewhere.
 * An older firmware finds a store migrated by a newer one and refuses it (ERR_STORE_TOO_NEW, as always), naming the
 * backup taken before that migration.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../lib/clock.js';
import { isSbdError } from '../lib/errors.js';
import { openState, stateLayout } from '../store/state.js';
import { snapshotStoreFile } from '../store/snapshot.js';
import { StoreErrorCode } from '../store/errors.js';
import { SCHEMA_VERSION } from '../store/migrations.js';
import { readKeyFiles, sealBackup, type BackupKdf } from '../backup/index.js';
import { writeFileAtomic } from '../backup/durable.js';
import { FirmwareError, FirmwareErrorCode } from './errors.js';
import { recordVersion } from './versions.js';

export interface PrepareStoreOptions {
  stateDir: string;
  /** The firmware folder: last-version, backups/, backup-passphrase, slot records. */
  firmwareDir: string;
  /** The running firmware's version. */
  version: string;
  /** The running slot's boot name (recorded for `show version inactive` of the other slot), if known. */
  slot?: string | undefined;
  /** Pre-upgrade backups kept (the oldest go first). Default 3. */
  keepBackups?: number;
  clock?: Clock;
  /** The backup's key derivation. Default BACKUP_KDF (tests pass a cheaper one). */
  kdf?: BackupKdf;
}

export interface PrepareStoreResult {
  /** none: no store yet (first boot makes it); same: this version used it last; upgraded: backed up + migrated. */
  action: 'none' | 'same' | 'upgraded';
  fromVersion?: string;
  backup?: string;
  schemaBefore?: number;
  schemaAfter?: number;
}

export const PREPARE_DEFAULTS = { keepBackups: 3 } as const;
const LAST_VERSION = 'last-version';
const PASSPHRASE_FILE = 'backup-passphrase';

function readLine(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').split('\n')[0]!.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The appliance's own passphrase for pre-upgrade backups, made on first use. */
function backupPassphrase(firmwareDir: string): string {
  const file = join(firmwareDir, PASSPHRASE_FILE);
  const have = readLine(file);
  if (have) return have;
  const made = randomBytes(32).toString('base64url');
  writeFileSync(file, `${made}\n`, { mode: 0o600, flag: 'wx' });
  return made;
}

function backupsDir(firmwareDir: string): string {
  return join(firmwareDir, 'backups');
}

/** The newest pre-upgrade backup, if any (named so that names sort by time). */
export function latestPreUpgradeBackup(firmwareDir: string): string | undefined {
  try {
    const names = readdirSync(backupsDir(firmwareDir))
      .filter((n) => n.endsWith('.sbdbackup'))
      .sort();
    return names.length ? join(backupsDir(firmwareDir), names.at(-1)!) : undefined;
  } catch {
    return undefined;
  }
}

async function backUpAsIs(o: PrepareStoreOptions, fromVersion: string): Promise<{ file: string; schemaVersion: number }> {
  const layout = stateLayout(o.stateDir);
  const clock = o.clock ?? systemClock;
  const work = mkdtempSync(join(tmpdir(), 'sbd-preupgrade-'));
  try {
    const snap = join(work, 'sbd.db');
    const { schemaVersion } = await snapshotStoreFile(layout.dbPath, snap);
    const createdAt = new Date(clock.now()).toISOString();
    const sealed = await sealBackup({
      files: [{ name: 'sbd.db', bytes: readFileSync(snap), mode: 0o600 }, ...readKeyFiles(layout.keysDir)],
      passphrase: backupPassphrase(o.firmwareDir),
      createdAt,
      sbdVersion: fromVersion,
      schemaVersion,
      nodes: [],
      ...(o.kdf ? { kdf: o.kdf } : {}),
    });
    mkdirSync(backupsDir(o.firmwareDir), { recursive: true, mode: 0o700 });
    const stamp = createdAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const safe = (v: string) => v.replace(/[^A-Za-z0-9._+-]/g, '_');
    const file = join(backupsDir(o.firmwareDir), `${stamp}-${safe(fromVersion)}-to-${safe(o.version)}.sbdbackup`);
    writeFileAtomic(file, sealed.bytes, 0o600);
    return { file, schemaVersion };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function prune(firmwareDir: string, keep: number): void {
  const names = readdirSync(backupsDir(firmwareDir))
    .filter((n) => n.endsWith('.sbdbackup'))
    .sort();
  for (const n of names.slice(0, Math.max(0, names.length - keep))) rmSync(join(backupsDir(firmwareDir), n), { force: true });
}

export async function prepareStore(o: PrepareStoreOptions): Promise<PrepareStoreResult> {
  mkdirSync(o.firmwareDir, { recursive: true });
  if (o.slot) recordVersion(o.firmwareDir, o.slot, o.version);
  const lastFile = join(o.firmwareDir, LAST_VERSION);
  const record = () => writeFileAtomic(lastFile, Buffer.from(`${o.version}\n`), 0o644);
  if (!existsSync(stateLayout(o.stateDir).dbPath)) {
    record(); // first boot makes the store at this version
    return { action: 'none' };
  }
  const last = readLine(lastFile);
  if (last === o.version) return { action: 'same' };
  // A store from before firmware versions were recorded counts as another version: it is backed up too.
  const fromVersion = last ?? 'unknown';
  const backup = await backUpAsIs(o, fromVersion);
  if (backup.schemaVersion > SCHEMA_VERSION) rmSync(backup.file, { force: true }); // not a pre-upgrade backup: keep the real one newest
  let schemaAfter: number;
  try {
    const s = openState(o.stateDir);
    try {
      schemaAfter = s.store.schemaVersion();
    } finally {
      s.store.close();
    }
  } catch (err) {
    if (isSbdError(err) && err.code === StoreErrorCode.tooNew) {
      throw new FirmwareError(
        FirmwareErrorCode.storeTooNew,
        `the store was migrated by a newer firmware than ${o.version}; switch back to it, or restore a backup taken before that migration (${latestPreUpgradeBackup(o.firmwareDir) ?? `none in ${backupsDir(o.firmwareDir)}`}, passphrase in ${join(o.firmwareDir, PASSPHRASE_FILE)})`,
        { cause: err },
      );
    }
    throw err;
  }
  record();
  prune(o.firmwareDir, o.keepBackups ?? PREPARE_DEFAULTS.keepBackups);
  return { action: 'upgraded', fromVersion, backup: backup.file, schemaBefore: backup.schemaVersion, schemaAfter };
}
