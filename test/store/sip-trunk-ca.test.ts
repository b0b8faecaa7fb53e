/**
 * A trunk's TLS CA bundle in the store (schema step 5): an older store upgrades in place keeping its trunks;
 * bundles are checked on write (every PEM block an X.509 certificate, bounded size) and a refused bundle
 * writes nothing; replacing a trunk without a bundle keeps it, null clears it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, SIP_LIMITS, StoreError, type Store } from '../../src/store/index.js';
import { makeCert, open, sha256File, sqlite3, tempDir } from './helpers.js';

const T0 = '2026-01-01T00:00:00.000Z';
const dir = tempDir();
const caA = makeCert(dir, 'Trunk CA A');
const caB = makeCert(dir, 'Trunk CA B', { rsa: true });

/** A store at schema version 4 (steps 1–4 as released) holding a TLS trunk, its route pattern and a credential. */
function makeV4(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.transaction(() => {
    for (const step of MIGRATIONS.filter((m) => m.version <= 4)) step.up(db, T0);
    db.pragma('user_version = 4');
    db.exec(`INSERT INTO sip_trunks (name, host, port, transport, digest_auth, challenge_status, digest_user, app_level_authorization,
        accept_ood_refer, accept_unsolicited_notify, accept_replaces, accept_presence_subscribe, css, updated_at)
      VALUES ('carrier', '192.0.2.10', 5061, 'tls', 0, 407, NULL, 0, 1, 0, 0, 0, NULL, '${T0}');
      INSERT INTO sip_route_patterns (pattern, partition, trunk) VALUES ('9!', '', 'carrier');
      INSERT INTO sip_trunk_credentials (trunk, realm, username, password_enc, updated_at) VALUES ('carrier', 'carrier.example', 'acct', x'0102', '${T0}');`);
  })();
  db.close();
}

function rejects(store: Store, pem: unknown, message: RegExp): void {
  const g = store.generation();
  const before = store.sip.getTrunk('pstn');
  assert.throws(
    () => store.sip.setTrunkCa('pstn', pem as string),
    (e: unknown) => e instanceof StoreError && e.code === 'ERR_SIP_TRUNK_CA_INVALID' && message.test(e.message),
    `expected ${message} for ${String(pem).slice(0, 60)}`,
  );
  assert.throws(
    () => store.sip.putTrunk({ name: 'pstn', host: '127.0.0.9', port: 5061, transport: 'tls', digestAuth: false, tlsCaPem: pem as string }),
    (e: unknown) => e instanceof StoreError && e.code === 'ERR_SIP_TRUNK_CA_INVALID',
  );
  assert.equal(store.generation(), g, 'nothing written');
  assert.deepEqual(store.sip.getTrunk('pstn'), before);
}

describe('trunk CA bundle', () => {
  it('schema step 5 upgrades a v4 store in place: trunks, route patterns and credentials kept, no CA yet', () => {
    const path = join(tempDir(), 'v4.db');
    makeV4(path);
    assert.equal(sqlite3(path, 'PRAGMA user_version'), '4');
    const s = open(path);
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
    assert.ok(SCHEMA_VERSION >= 5);
    const t = s.sip.getTrunk('carrier')!;
    assert.deepEqual([t.host, t.port, t.transport, t.acl['ood-refer'], t.tlsCaPem], ['192.0.2.10', 5061, 'tls', true, null]);
    assert.deepEqual(s.sip.listRoutePatterns(), [{ pattern: '9!', partition: null, trunk: 'carrier' }]);
    assert.deepEqual([...s.sip.getTrunkCredential('carrier', 'carrier.example')!.passwordEnc], [1, 2]);
    assert.equal(s.sip.setTrunkCa('carrier', caA).tlsCaPem, caA);
    s.close();
    assert.equal(sqlite3(path, 'PRAGMA integrity_check'), 'ok');
    assert.equal(sqlite3(path, 'PRAGMA foreign_key_check'), '');
    assert.match(sqlite3(path, "SELECT count(*) FROM sip_trunks WHERE tls_ca_pem LIKE '-----BEGIN CERTIFICATE-----%'"), /^1$/);
  });

  it('stores a bundle of several certificates re-encoded, keeps it when the trunk is replaced without one, clears it with null', () => {
    const store = open(join(tempDir(), 's.db'), { create: true });
    // What `cat a.pem b.pem` or `openssl x509 -text` leaves: text and CRLF between blocks.
    const text = execFileSync('openssl', ['x509', '-text'], { input: caA }).toString();
    const bundle = `# carrier roots\r\n${text}\r\n${caB.replace(/\n/g, '\r\n')}`;
    const t = store.sip.putTrunk({ name: 'pstn', host: '127.0.0.9', port: 5061, transport: 'tls', digestAuth: false, tlsCaPem: bundle });
    assert.equal(t.tlsCaPem, caA + caB);
    assert.equal(
      store.sip.putTrunk({ name: 'pstn', host: '127.0.0.9', port: 5062, transport: 'tls', digestAuth: false }).tlsCaPem,
      caA + caB,
    );
    assert.equal(
      store.sip.putTrunk({ name: 'pstn', host: '127.0.0.9', port: 5062, transport: 'tls', digestAuth: false, tlsCaPem: null }).tlsCaPem,
      null,
    );
    const g = store.generation();
    assert.equal(store.sip.setTrunkCa('pstn', caB).tlsCaPem, caB);
    assert.ok(store.generation() > g, 'a CA change bumps the generation');
    assert.equal(store.sip.listTrunks()[0]!.tlsCaPem, caB);
    assert.equal(store.sip.setTrunkCa('pstn', null).tlsCaPem, null);
    assert.throws(
      () => store.sip.setTrunkCa('nope', caA),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_SIP_CONFIG_UNKNOWN',
    );
  });

  it('refuses what is not a bundle of X.509 certificates, naming the problem, and writes nothing', () => {
    const path = join(tempDir(), 'bad.db');
    const store = open(path, { create: true });
    store.sip.putTrunk({ name: 'pstn', host: '127.0.0.9', port: 5061, transport: 'tls', digestAuth: false, tlsCaPem: caA });
    const key = readFileSync(join(dir, 'k1.pem'), 'utf8');
    assert.match(key, /PRIVATE KEY/);
    const body = caA.split('\n').slice(1, -2).join('\n');
    rejects(store, '', /no PEM CERTIFICATE block/);
    rejects(store, 'hello', /no PEM CERTIFICATE block/);
    rejects(store, 42, /must be PEM text/);
    rejects(store, key, /block 1 is a 'PRIVATE KEY', not a CERTIFICATE \(a key never goes/);
    rejects(store, caA + key, /block 2 is a 'PRIVATE KEY'/);
    rejects(store, `-----BEGIN CERTIFICATE-----\n${body}\n-----END X509 CRL-----\n`, /begins as 'CERTIFICATE' but ends as 'X509 CRL'/);
    rejects(store, `-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`, /block 1 is not a parsable X\.509 certificate/);
    rejects(store, caA + `-----BEGIN CERTIFICATE-----\n${body.slice(0, 200)}\n-----END CERTIFICATE-----\n`, /block 2 is not a parsable/);
    rejects(store, caA + caB.slice(0, 300), /block 2 has no END line/);
    rejects(store, caB.slice(0, 300), /no PEM CERTIFICATE block \(a BEGIN line without its END line\?\)/);
    rejects(store, caA + '\n'.repeat(SIP_LIMITS.maxTrunkCaBytes), new RegExp(`limit is ${SIP_LIMITS.maxTrunkCaBytes}`));
    rejects(store, caA.repeat(SIP_LIMITS.maxTrunkCaCertificates + 1), /more than 200 PEM blocks/);
    store.close();
    const hash = sha256File(path);
    // The column's own CHECK holds even against a writer that skips the typed layer.
    assert.throws(
      () => execFileSync('sqlite3', [path, `UPDATE sip_trunks SET tls_ca_pem = '' WHERE name = 'pstn'`], { stdio: 'pipe' }),
      /CHECK constraint failed/,
    );
    assert.equal(sha256File(path), hash);
  });
});
