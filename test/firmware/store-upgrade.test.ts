/**
 * The store's step on a new firmware version's first boot (src/firmware/store-upgrade.ts): an encrypted backup of
 * the store as it is (older schema included), then the forward migration; the same version does nothing; a store
 * migrated by a newer version is refused by the older one (as the store always did), naming the backup to restore.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, StoreError } from '../../src/store/index.js';
import { openState } from '../../src/store/state.js';
import { openBackup } from '../../src/backup/index.js';
import { FirmwareError, prepareStore } from '../../src/firmware/index.js';
import { slotFromCmdline } from '../../src/cli/commands/firmware.js';

const T0 = '2026-01-01T00:00:00.000Z';

// A cheap scrypt for the tests (the appliance uses BACKUP_KDF).
const kdf = { log2N: 14, r: 8, p: 1 };

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function dirs(): { stateDir: string; firmwareDir: string; kdf: typeof kdf } {
  const root = mkdtempSync(join(tmpdir(), 'sbd-fw-store-'));
  made.push(root);
  return { stateDir: join(root, 'state'), firmwareDir: join(root, 'firmware'), kdf };
}

/** A store one schema version behind this build, with a device row in it, and one key file. */
function olderStore(stateDir: string): void {
  mkdirSync(join(stateDir, 'keys'), { recursive: true });
  writeFileSync(join(stateDir, 'keys', 'CallManager-1.key'), 'not a real key\n', { mode: 0o600 });
  const db = new Database(join(stateDir, 'sbd.db'));
  db.pragma(`application_id = ${APPLICATION_ID}`);
  for (const step of MIGRATIONS.slice(0, SCHEMA_VERSION - 1)) step.up(db, T0);
  db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
  db.exec(`INSERT INTO devices (name, model, security_profile, created_at, updated_at)
           VALUES ('SEP000000000001', '8811', 'Encrypted Profile', '${T0}', '${T0}')`);
  db.close();
}

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

describe('firmware: the store on a new version', () => {
  it('no store yet: records the version and the slot, backs nothing up', async () => {
    const d = dirs();
    const r = await prepareStore({ ...d, version: '1.0.0+a', slot: 'a' });
    assert.equal(r.action, 'none');
    assert.equal(readFileSync(join(d.firmwareDir, 'a'), 'utf8'), '1.0.0+a\n');
    assert.equal(readFileSync(join(d.firmwareDir, 'last-version'), 'utf8'), '1.0.0+a\n', 'first boot makes the store at this version');
    assert.equal(existsSync(join(d.firmwareDir, 'backups')), false);
  });

  it('a new version: encrypted backup of the older store as it was, then the migration; the same version again does nothing', async () => {
    const d = dirs();
    olderStore(d.stateDir);
    const r = await prepareStore({ ...d, version: '2.0.0', slot: 'b' });
    assert.equal(r.action, 'upgraded');
    assert.equal(r.fromVersion, 'unknown');
    assert.equal(r.schemaBefore, SCHEMA_VERSION - 1);
    assert.equal(r.schemaAfter, SCHEMA_VERSION);
    // Migrated in place, data kept.
    assert.equal(userVersion(join(d.stateDir, 'sbd.db')), SCHEMA_VERSION);
    const s = openState(d.stateDir);
    assert.equal(s.store.getDevice('SEP000000000001')?.securityProfile, 'Encrypted Profile');
    s.store.close();
    // The backup opens with the appliance's passphrase and holds the store at its old schema, and the key.
    const passphrase = readFileSync(join(d.firmwareDir, 'backup-passphrase'), 'utf8').trim();
    const opened = await openBackup(readFileSync(r.backup!), passphrase);
    assert.deepEqual(opened.files.map((f) => f.name).sort(), ['keys/CallManager-1.key', 'sbd.db']);
    assert.equal(opened.manifest.schemaVersion, SCHEMA_VERSION - 1);
    const copy = join(d.firmwareDir, 'copy.db');
    writeFileSync(copy, opened.files.find((f) => f.name === 'sbd.db')!.bytes);
    assert.equal(userVersion(copy), SCHEMA_VERSION - 1);
    await assert.rejects(openBackup(readFileSync(r.backup!), 'wrong passphrase'));
    // Next boot of the same version: nothing.
    assert.equal((await prepareStore({ ...d, version: '2.0.0', slot: 'b' })).action, 'same');
    assert.equal(readdirSync(join(d.firmwareDir, 'backups')).length, 1);
  });

  it('keeps the newest backups only (keepBackups)', async () => {
    const d = dirs();
    olderStore(d.stateDir);
    let t = Date.parse(T0);
    for (const v of ['2', '3', '4']) await prepareStore({ ...d, version: v, keepBackups: 2, clock: { now: () => (t += 60_000) } });
    const names = readdirSync(join(d.firmwareDir, 'backups')).sort();
    assert.equal(names.length, 2);
    assert.match(names[0]!, /-2-to-3\.sbdbackup$/);
    assert.match(names[1]!, /-3-to-4\.sbdbackup$/);
  });

  it('the older version refuses a store a newer one migrated, and names the pre-upgrade backup', async () => {
    const d = dirs();
    olderStore(d.stateDir);
    const up = await prepareStore({ ...d, version: 'N+1' });
    // What a later schema looks like to this build.
    const db = new Database(join(d.stateDir, 'sbd.db'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(
      () => openState(d.stateDir),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_TOO_NEW',
    );
    await assert.rejects(
      prepareStore({ ...d, version: 'N' }),
      (e: unknown) => e instanceof FirmwareError && e.code === 'ERR_FIRMWARE_STORE_TOO_NEW' && e.message.includes(up.backup!),
    );
    assert.equal(userVersion(join(d.stateDir, 'sbd.db')), SCHEMA_VERSION + 1, 'the newer store is left as it is');
    assert.deepEqual(readdirSync(join(d.firmwareDir, 'backups')), [up.backup!.split('/').at(-1)]);
  });

  it('sbd.slot= of the kernel command line names the running slot', () => {
    assert.equal(slotFromCmdline('root=PARTLABEL=sbd-root-b ro sbd.slot=b console=ttyS0'), 'b');
    assert.equal(slotFromCmdline('root=/dev/vda2 ro xsbd.slot=b'), undefined);
    assert.equal(slotFromCmdline('sbd.slot=../x'), undefined);
  });
});
