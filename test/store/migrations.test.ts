import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { APPLICATION_ID, MIGRATIONS, openStore, SCHEMA_VERSION, StoreError } from '../../src/store/index.js';
import { runFixture } from './fixtures/run.js';
import { makeCert, open, sha256File, sqlite3, tempDir } from './helpers.js';

/**
 * Schema version 1 exactly as it was released, frozen here on purpose: the test proves that today's migration
 * steps upgrade a real v1 file, and it fails if someone edits step 1 in place instead of adding a step.
 */
const V1_SCHEMA = `
CREATE TABLE sbd_meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE nodes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL, ipv4 TEXT, ipv6 TEXT,
  is_publisher INTEGER NOT NULL DEFAULT 0 CHECK (is_publisher IN (0, 1)), created_at TEXT NOT NULL) STRICT;
CREATE UNIQUE INDEX nodes_single_publisher ON nodes (is_publisher) WHERE is_publisher = 1;
CREATE TABLE node_services (node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE, service TEXT NOT NULL,
  PRIMARY KEY (node_id, service)) STRICT, WITHOUT ROWID;
CREATE TABLE certificates (id INTEGER PRIMARY KEY, name TEXT NOT NULL, node_id INTEGER REFERENCES nodes (id),
  kind TEXT NOT NULL CHECK (kind IN ('identity', 'trust')), purpose TEXT, pem TEXT NOT NULL, der BLOB NOT NULL, key_file TEXT,
  subject TEXT NOT NULL, issuer TEXT NOT NULL, serial_hex TEXT NOT NULL, not_before TEXT NOT NULL, not_after TEXT NOT NULL,
  sha256_hex TEXT NOT NULL, sha1_hex TEXT NOT NULL, current INTEGER NOT NULL CHECK (current IN (0, 1)), created_at TEXT NOT NULL,
  replaced_at TEXT, CHECK ((current = 1) = (replaced_at IS NULL))) STRICT;
CREATE UNIQUE INDEX certificates_one_current_identity ON certificates (name, ifnull(node_id, 0)) WHERE current = 1 AND kind = 'identity';
CREATE UNIQUE INDEX certificates_trust_once ON certificates (name, ifnull(node_id, 0), sha256_hex) WHERE current = 1 AND kind = 'trust';
CREATE INDEX certificates_by_sha256 ON certificates (sha256_hex);
CREATE INDEX certificates_by_name ON certificates (name, node_id, created_at);
CREATE TABLE params (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE devices (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, model TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  security_profile TEXT NOT NULL, lsc_pem TEXT, symmetric_key_hex TEXT, digest_user TEXT, directory_number TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT;
`;

const T0 = '2026-01-01T00:00:00.000Z';

/** A v1 store with a node, a certificate, a parameter and two devices, written with plain SQL. */
function makeV1(path: string, certPem: string, extraSql = ''): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(V1_SCHEMA);
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.pragma('user_version = 1');
  const x = new X509Certificate(certPem);
  db.exec(`INSERT INTO sbd_meta VALUES ('magic', 'sbd-store'), ('generation', 41), ('created_at', '${T0}');
    INSERT INTO nodes VALUES (1, 'pub', 'cucm1.example', '127.0.0.1', NULL, 1, '${T0}');
    INSERT INTO node_services VALUES (1, 'tftp'), (1, 'tvs');
    INSERT INTO params VALUES ('KeySize', '4096', '${T0}');
    INSERT INTO devices VALUES (1, 'SEP001122334455', '8845', 'front desk', 'Universal Device Template - Model-independent Security Profile',
      NULL, NULL, 'alice', '1001', '${T0}', '${T0}');
    INSERT INTO devices VALUES (2, 'SEPAABBCCDDEEFF', '7945', '', 'Lab Profile', NULL, '00112233445566778899aabbccddeeff', NULL, NULL, '${T0}', '${T0}');`);
  db.prepare(
    `INSERT INTO certificates VALUES (1, 'CallManager', 1, 'identity', NULL, ?, ?, '/var/lib/sbd/keys/CallManager.key', ?, ?, ?, ?, ?, ?, ?, 1, '${T0}', NULL)`,
  ).run(
    x.toString(),
    x.raw,
    x.subject,
    x.issuer,
    x.serialNumber.toLowerCase(),
    new Date(x.validFrom).toISOString(),
    new Date(x.validTo).toISOString(),
    createHash('sha256').update(x.raw).digest('hex'),
    createHash('sha1').update(x.raw).digest('hex'),
  );
  if (extraSql) db.exec(extraSql);
  db.close();
}

describe('schema migrations', () => {
  it('migrates a hand-made v1 store to the current version, keeping every row', () => {
    const dir = tempDir();
    const path = join(dir, 'v1.db');
    const pem = makeCert(dir, 'cucm1.example', { rsa: true });
    makeV1(path, pem);
    const s = open(path);
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
    assert.equal(s.generation(), 42, 'the migration is one committed write');
    const node = s.getNode('pub')!;
    assert.deepEqual([node.hostname, node.ipv4, node.isPublisher, node.services], ['cucm1.example', '127.0.0.1', true, ['tftp', 'tvs']]);
    const cert = s.currentCertificate('CallManager', 'pub')!;
    assert.equal(cert.pem, new X509Certificate(pem).toString());
    assert.equal(cert.keyFile, '/var/lib/sbd/keys/CallManager.key');
    assert.equal(s.getIntParam('KeySize'), 4096);
    const d1 = s.getDevice('SEP001122334455')!;
    assert.deepEqual(
      [d1.description, d1.digestUser, d1.directoryNumber, d1.capfOperation, d1.capfAuthMode],
      ['front desk', 'alice', '1001', 'none', 'none'],
    );
    const d2 = s.getDevice('SEPAABBCCDDEEFF')!;
    assert.equal(d2.symmetricKeyHex, '00112233445566778899aabbccddeeff');
    // A profile name only v1 devices used becomes a (non-secure) profile, so the new foreign key holds.
    assert.equal(s.getSecurityProfile('Lab Profile')?.deviceSecurityMode, 'non-secure');
    assert.equal(s.getSecurityProfile('Encrypted Profile')?.tftpEncryptedConfig, true);
    assert.equal(s.getModelFeatures('6941')?.securityByDefault, false);
    // Tables of step 3 work.
    s.putUser({ userid: 'alice', credentialHash: 'x', algorithm: 'scrypt' });
    s.recordDeviceItlHash('SEP001122334455', 'ab'.repeat(32), '2026-02-01T00:00:00.000Z');
    s.close();
    assert.equal(sqlite3(path, 'PRAGMA integrity_check'), 'ok');
    assert.equal(sqlite3(path, 'PRAGMA foreign_key_check'), '');
    assert.match(sqlite3(path, "SELECT sql FROM sqlite_schema WHERE name = 'devices'"), /REFERENCES security_profiles/);
  });

  it('migrates a v2 store (made by steps 1 and 2) to the current version', () => {
    const dir = tempDir();
    const path = join(dir, 'v2.db');
    const db = new Database(path);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    for (const step of MIGRATIONS.slice(0, 2)) step.up(db, T0);
    db.pragma('user_version = 2');
    db.exec(`INSERT INTO devices (name, model, security_profile, created_at, updated_at)
             VALUES ('SEP000000000001', '8811', 'Encrypted Profile', '${T0}', '${T0}')`);
    db.close();
    const s = open(path);
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
    assert.equal(s.getDevice('SEP000000000001')?.securityProfile, 'Encrypted Profile');
    assert.deepEqual(s.listUsers(), []);
  });

  it('rolls the whole upgrade back when a step fails: the store stays at v1 with its data', () => {
    const dir = tempDir();
    const path = join(dir, 'v1-blocked.db');
    // A stray table where step 3 wants to create one: step 3 fails after step 2 already rebuilt devices.
    makeV1(path, makeCert(dir, 'cucm1.example'), 'CREATE TABLE users (x);');
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.throws(
        () => openStore(path),
        (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_MIGRATION' && /migration 3/.test(e.message),
      );
    }
    assert.equal(sqlite3(path, 'PRAGMA user_version'), '1');
    assert.equal(
      sqlite3(path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('security_profiles', 'model_features', 'devices_v2')"),
      '0',
    );
    assert.equal(
      sqlite3(path, 'SELECT name, security_profile FROM devices ORDER BY id'),
      'SEP001122334455|Universal Device Template - Model-independent Security Profile\nSEPAABBCCDDEEFF|Lab Profile',
    );
    assert.equal(sqlite3(path, "SELECT value FROM sbd_meta WHERE key = 'generation'"), '41');
    const hash = sha256File(path);
    // Read-only users are told to migrate, and nothing is written.
    assert.throws(
      () => openStore(path, { readonly: true }),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_NEEDS_MIGRATION',
    );
    assert.equal(sha256File(path), hash);
  });

  it('lets four processes race to open an old store: exactly one migrates, all open it', async () => {
    const dir = tempDir();
    const path = join(dir, 'race.db');
    makeV1(path, makeCert(dir, 'cucm1.example'));
    const results = await Promise.all([0, 1, 2, 3].map(() => runFixture('open-store.ts', [path])));
    for (const r of results) {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(JSON.parse(r.stdout).version, SCHEMA_VERSION);
    }
    // Generation 41 → 42: the upgrade ran once, not once per process.
    assert.equal(open(path).generation(), 42);
  });
});
