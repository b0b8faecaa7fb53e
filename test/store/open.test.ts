import assert from 'node:assert/strict';
import { existsSync, statSync, truncateSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreErrorCode } from '../../src/store/errors.js';
import Database from 'better-sqlite3';
import { APPLICATION_ID, openStore, SCHEMA_VERSION, StoreError } from '../../src/store/index.js';
import { listing, open, sha256File, sqlite3, tempDir } from './helpers.js';

/**
 * Asserts that opening `path` fails with `code` and leaves the file exactly as it was. The only files that may
 * appear next to it are SQLite's own `-shm` and an EMPTY `-wal`, which any reader of a WAL-mode database makes
 * (the read-only inspection is such a reader); for a rollback-journal file the folder must not change at all.
 */
function assertRefusedUntouched(path: string, code: string, options: Parameters<typeof openStore>[1] = {}): StoreError {
  const dir = join(path, '..');
  const before = sha256File(path);
  const files = listing(dir);
  let caught: unknown;
  try {
    openStore(path, options).close();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StoreError, `expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(sha256File(path), before, 'file bytes changed');
  const base = path.slice(dir.length + 1);
  const walMode = readFileSync(path).subarray(0, 100).length === 100 && readFileSync(path)[18] === 2;
  const allowed = walMode ? [`${base}-shm`, `${base}-wal`] : [];
  const now = listing(dir);
  assert.deepEqual(
    now.filter((f) => !allowed.includes(f)),
    files.filter((f) => !allowed.includes(f)),
    'files appeared or vanished next to the store',
  );
  if (now.includes(`${base}-wal`) && !files.includes(`${base}-wal`))
    assert.equal(statSync(`${path}-wal`).size, 0, 'the -wal file got content');
  return caught;
}

/** A real store with enough rows to span many pages, closed and checkpointed into the main file. */
function populatedStore(dir: string, name = 'real.db'): string {
  const path = join(dir, name);
  const s = openStore(path);
  s.transaction(() => {
    for (let i = 0; i < 400; i++) {
      s.addDevice({ name: `SEP${i.toString(16).padStart(12, '0')}`, model: '8845', description: `phone number ${i} `.repeat(4) });
    }
  });
  s.close();
  return path;
}

describe('opening a store', () => {
  it('creates a new store: mode 0600, WAL, sbd application id, current schema, seeded tables', () => {
    const dir = tempDir();
    const path = join(dir, 'sbd.db');
    const s = open(path);
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    s.close();
    // Debian's sqlite3 CLI is the independent reader here.
    assert.equal(sqlite3(path, 'PRAGMA application_id'), String(APPLICATION_ID));
    assert.equal(sqlite3(path, 'PRAGMA user_version'), String(SCHEMA_VERSION));
    assert.equal(sqlite3(path, 'PRAGMA journal_mode'), 'wal');
    assert.equal(sqlite3(path, 'PRAGMA integrity_check'), 'ok');
    assert.equal(sqlite3(path, "SELECT value FROM sbd_meta WHERE key = 'magic'"), 'sbd-store');
    const again = open(path);
    assert.ok(again.listSecurityProfiles().length >= 3);
    assert.ok(again.getModelFeatures('8845')?.securityByDefault);
  });

  it('initialises an existing empty file (for example one made by mktemp)', () => {
    const dir = tempDir();
    const path = join(dir, 'empty.db');
    writeFileSync(path, '');
    const s = open(path);
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
  });

  it('refuses an absent file when create is false or readonly, and creates nothing', () => {
    const dir = tempDir();
    const path = join(dir, 'absent.db');
    for (const options of [{ create: false }, { readonly: true }]) {
      assert.throws(
        () => openStore(path, options),
        (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_NOT_FOUND',
      );
      assert.deepEqual(listing(dir), []);
    }
  });

  it('reports a missing folder or a folder given as the path as an I/O error', () => {
    const dir = tempDir();
    assert.throws(
      () => openStore(join(dir, 'no', 'such', 'x.db')),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_IO',
    );
    mkdirSync(join(dir, 'adir'));
    assert.throws(
      () => openStore(join(dir, 'adir')),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_IO',
    );
  });

  it('refuses random bytes as not SQLite, untouched', () => {
    const dir = tempDir();
    const path = join(dir, 'random.db');
    writeFileSync(path, randomBytes(8192));
    const err = assertRefusedUntouched(path, 'ERR_STORE_NOT_SQLITE');
    assert.match(err.message, /not an SQLite database/);
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello\n');
    assertRefusedUntouched(text, 'ERR_STORE_NOT_SQLITE');
  });

  it('refuses a real store truncated to half as corrupt, untouched', () => {
    const dir = tempDir();
    const path = populatedStore(dir);
    truncateSync(path, Math.floor(statSync(path).size / 2));
    assertRefusedUntouched(path, 'ERR_STORE_CORRUPT');
  });

  it('refuses a store truncated inside the 100-byte header as corrupt, untouched', () => {
    const dir = tempDir();
    const path = populatedStore(dir);
    truncateSync(path, 60);
    assertRefusedUntouched(path, 'ERR_STORE_CORRUPT');
  });

  it('refuses a store with garbage over its b-tree pages as corrupt, untouched', () => {
    const dir = tempDir();
    const path = populatedStore(dir);
    const bytes = readFileSync(path);
    const pageSize = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
    // Leave page 1 (header and schema) alone; smash pages 3 to 6, where table and index b-trees live.
    randomBytes(4 * pageSize).copy(bytes, 2 * pageSize);
    writeFileSync(path, bytes);
    assertRefusedUntouched(path, 'ERR_STORE_CORRUPT');
  });

  it('refuses a foreign SQLite database (made by the sqlite3 CLI), untouched', () => {
    const dir = tempDir();
    const path = join(dir, 'other.db');
    sqlite3(path, "CREATE TABLE t (x); INSERT INTO t VALUES ('someone else''s data');");
    const err = assertRefusedUntouched(path, 'ERR_STORE_FOREIGN');
    assert.match(err.message, /another application/);
    assertRefusedUntouched(path, 'ERR_STORE_FOREIGN', { readonly: true });
    // Even an empty SQLite file of someone else's (header written, no tables) is not ours to initialise.
    const bare = join(dir, 'bare.db');
    sqlite3(bare, 'PRAGMA user_version = 7; VACUUM;');
    assertRefusedUntouched(bare, 'ERR_STORE_FOREIGN');
  });

  it('refuses a file with the sbd application id but no sbd_meta magic, untouched', () => {
    const dir = tempDir();
    const path = join(dir, 'impostor.db');
    sqlite3(path, `PRAGMA application_id = ${APPLICATION_ID}; PRAGMA user_version = 1; CREATE TABLE t (x);`);
    assertRefusedUntouched(path, 'ERR_STORE_FOREIGN');
  });

  it('refuses a store from a newer sbd (user_version above ours), untouched', () => {
    const dir = tempDir();
    const path = join(dir, 'future.db');
    openStore(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const err = assertRefusedUntouched(path, 'ERR_STORE_TOO_NEW');
    assert.match(err.message, new RegExp(`version ${SCHEMA_VERSION + 1}`));
    assertRefusedUntouched(path, 'ERR_STORE_TOO_NEW', { readonly: true });
  });

  it('opens read-only without writing, and refuses writes with ERR_STORE_READONLY', () => {
    const dir = tempDir();
    const path = populatedStore(dir);
    const before = sha256File(path);
    const ro = openStore(path, { readonly: true });
    assert.equal(ro.listDevices().length, 400);
    assert.throws(
      () => ro.setParam('KeySize', '4096'),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_READONLY',
    );
    assert.throws(
      () => ro.transaction(() => 1),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_READONLY',
    );
    ro.close();
    assert.equal(sha256File(path), before);
  });

  it('reports use after close as ERR_STORE_CLOSED', () => {
    const dir = tempDir();
    const s = openStore(join(dir, 'c.db'));
    s.close();
    s.close();
    assert.throws(
      () => s.listDevices(),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_CLOSED',
    );
  });
});

it("openStore(':memory:') is refused without creating a file named ':memory:'", () => {
  const cwd = process.cwd();
  const dir = tempDir();
  process.chdir(dir);
  try {
    assert.throws(() => openStore(':memory:', { create: true }), { code: StoreErrorCode.io });
    assert.equal(existsSync(join(dir, ':memory:')), false);
  } finally {
    process.chdir(cwd);
  }
});
