/**
 * Encrypted backup and restore on a real appliance state (store + RSA keys made by `sbd init`'s code):
 * backup → wipe → restore gives the same rows in every table and the same key bytes; a wrong passphrase and a
 * byte flipped in the header, the manifest, the ciphertext or the tag are each refused with the state folder
 * untouched (every file's bytes compared) and no staging folder left behind.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { initAppliance } from '../../src/cluster/init.js';
import { fixedClock } from '../../src/lib/clock.js';
import { openStore } from '../../src/store/index.js';
import { setPassword } from '../../src/credentials/index.js';
import { recordPhoneItlReport } from '../../src/reports/index.js';
import { BackupErrorCode, HEADER_BYTES, createBackup, peekBackup, restoreBackup } from '../../src/backup/index.js';

const PASS = 'correct horse battery staple';
let template: string;

before(async () => {
  template = join(mkdtempSync(join(tmpdir(), 'sbd-backup-tpl-')), 'state');
  initAppliance({ dir: template, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: fixedClock(Date.parse('2026-11-25T06:00:00Z')) });
  const store = openStore(join(template, 'sbd.db'));
  store.addDevice({ name: 'SEP001122334455', model: '8845', directoryNumber: '1001' });
  store.setParam('AutoRegistration', 'true');
  recordPhoneItlReport(store, { device: 'SEP001122334455', sha256Hex: 'ab'.repeat(32), at: '2026-11-25T07:00:00.000Z' });
  await setPassword(store, { userid: 'alice', password: 'alice-password', pin: '1234' });
  store.appendAudit({ user: 'admin', action: 'param-set', detail: 'AutoRegistration=true', result: 'success' });
  store.close();
  writeFileSync(join(template, 'admin-history'), 'show status\n', { mode: 0o600 });
});

function freshState(): { dir: string; state: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-backup-'));
  const state = join(dir, 'state');
  cpSync(template, state, { recursive: true });
  return { dir, state };
}

/** Every row of every table, in a stable order, plus the schema markers. */
function dumpStore(dbPath: string): unknown {
  const db = new Database(dbPath, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
      (t) => t.name,
    );
    const rows: Record<string, string[]> = {};
    for (const t of tables)
      rows[t] = (db.prepare(`SELECT * FROM "${t}"`).raw().all() as unknown[][])
        .map((r) => JSON.stringify(r, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)))
        .sort();
    return { userVersion: db.pragma('user_version', { simple: true }), applicationId: db.pragma('application_id', { simple: true }), rows };
  } finally {
    db.close();
  }
}

/** name → sha256 of every file below `dir`. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

function keyBytes(state: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(join(state, 'keys')).sort()) out[f] = readFileSync(join(state, 'keys', f)).toString('hex');
  return out;
}

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

test('backup, wipe, restore: identical rows in every table and identical private keys', async () => {
  const { dir, state } = freshState();
  const rowsBefore = dumpStore(join(state, 'sbd.db'));
  const keysBefore = keyBytes(state);
  const file = join(dir, 'sbd.backup');
  const made = await createBackup({ stateDir: state, file, passphrase: PASS });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(
    made.manifest.files.map((f) => f.name),
    ['sbd.db', ...Object.keys(keysBefore).map((k) => `keys/${k}`)],
  );
  assert.deepEqual(peekBackup(readFileSync(file)).manifest, made.manifest);
  // No secret in clear: neither a key's PEM body nor the store's text.
  const raw = readFileSync(file);
  assert.equal(raw.includes(Buffer.from('PRIVATE KEY')), false);
  assert.equal(raw.includes(Buffer.from('SQLite format 3')), false);
  assert.equal(raw.includes(Buffer.from('alice')), false);

  rmSync(state, { recursive: true });
  const r = await restoreBackup({ stateDir: state, file, passphrase: PASS });
  assert.equal(r.swap, 'new');
  assert.deepEqual(r.restartServices, ['sbd-capfd', 'sbd-mediad', 'sbd-sipd', 'sbd-tftpd', 'sbd-tvsd']);
  assert.deepEqual(dumpStore(join(state, 'sbd.db')), rowsBefore);
  assert.deepEqual(keyBytes(state), keysBefore);
  for (const k of readdirSync(join(state, 'keys'))) assert.equal(statSync(join(state, 'keys', k)).mode & 0o077, 0, `${k} is private`);
  assert.equal(statSync(join(state, 'keys')).mode & 0o077, 0);
  assert.deepEqual(readdirSync(dir).sort(), ['sbd.backup', 'state'], 'no staging folder left');
});

test('restore over a running state swaps it atomically: open connections keep the old store, new ones see the backup', async () => {
  const { dir, state } = freshState();
  const file = join(dir, 'sbd.backup');
  await createBackup({ stateDir: state, file, passphrase: PASS });
  const rowsAtBackup = dumpStore(join(state, 'sbd.db'));
  const daemon = openStore(join(state, 'sbd.db'));
  daemon.addDevice({ name: 'SEP00000000BEEF', model: '7965' });
  writeFileSync(join(state, 'admin-history'), 'show status\nutils disaster_recovery restore x\n');
  // sbd-sipd's control socket lives in the state folder while it runs: a socket cannot be copied, and is not.
  mkdirSync(join(state, 'sipd-control'));
  const control = createServer();
  await new Promise<void>((r) => control.listen(join(state, 'sipd-control', 'sipd.sock'), r));
  const r = await restoreBackup({ stateDir: state, file, passphrase: PASS });
  await new Promise<void>((r) => control.close(() => r()));
  assert.equal(existsSync(join(state, 'sipd-control', 'sipd.sock')), false, 'the socket stays with the old state');
  assert.equal(r.swap, 'exchange');
  assert.ok(daemon.getDevice('SEP00000000BEEF'), 'a daemon still runs on the store it opened until it is restarted');
  daemon.close();
  assert.deepEqual(dumpStore(join(state, 'sbd.db')), rowsAtBackup);
  const fresh = openStore(join(state, 'sbd.db'));
  assert.equal(fresh.getDevice('SEP00000000BEEF'), undefined);
  fresh.close();
  assert.equal(
    readFileSync(join(state, 'admin-history'), 'utf8'),
    'show status\nutils disaster_recovery restore x\n',
    'files outside the backup are carried over',
  );
  assert.deepEqual(readdirSync(dir).sort(), ['sbd.backup', 'state']);
});

test('a wrong passphrase and every tampered region are refused; the state folder is untouched', async () => {
  const { dir, state } = freshState();
  const file = join(dir, 'sbd.backup');
  await createBackup({ stateDir: state, file, passphrase: PASS });
  const good = readFileSync(file);
  const manifestLength = good.readUInt32BE(92);
  const before = fingerprint(state);

  await assert.rejects(restoreBackup({ stateDir: state, file, passphrase: 'not the passphrase at all' }), code(BackupErrorCode.passphrase));

  const flips: [string, number, string][] = [
    ['header: magic', 0, BackupErrorCode.format],
    ['header: version', 9, BackupErrorCode.format],
    ['header: scrypt log2 N', 11, BackupErrorCode.passphrase],
    ['header: salt', 20, BackupErrorCode.passphrase],
    ['header: nonce', 50, BackupErrorCode.tampered],
    ['header: passphrase check', 70, BackupErrorCode.passphrase],
    ['header: manifest length', 95, BackupErrorCode.format],
    ['header: content length', 103, BackupErrorCode.format],
    ['manifest', HEADER_BYTES + Math.floor(manifestLength / 2), BackupErrorCode.tampered],
    ['ciphertext (store)', HEADER_BYTES + manifestLength + 100, BackupErrorCode.tampered],
    ['ciphertext (last key)', good.length - 40, BackupErrorCode.tampered],
    ['GCM tag', good.length - 1, BackupErrorCode.tampered],
  ];
  for (const [region, offset, want] of flips) {
    const bad = Buffer.from(good);
    bad[offset]! ^= 0x01;
    const badFile = join(dir, 'tampered.backup');
    writeFileSync(badFile, bad);
    await assert.rejects(restoreBackup({ stateDir: state, file: badFile, passphrase: PASS }), (err: Error & { code?: string }) => {
      assert.equal(err.code, want, `${region}: ${err.message}`);
      return true;
    });
  }
  writeFileSync(join(dir, 'truncated.backup'), good.subarray(0, good.length - 1));
  await assert.rejects(
    restoreBackup({ stateDir: state, file: join(dir, 'truncated.backup'), passphrase: PASS }),
    code(BackupErrorCode.format),
  );
  writeFileSync(join(dir, 'not-a-backup'), 'SQLite format 3\0 and so on');
  await assert.rejects(restoreBackup({ stateDir: state, file: join(dir, 'not-a-backup'), passphrase: PASS }), code(BackupErrorCode.format));

  assert.deepEqual(fingerprint(state), before, 'not one byte of the state changed');
  assert.deepEqual(readdirSync(dir).sort(), ['not-a-backup', 'sbd.backup', 'state', 'tampered.backup', 'truncated.backup']);
  // And the untampered file still restores.
  await restoreBackup({ stateDir: state, file, passphrase: PASS });
});

test('backup refuses a short passphrase and a store whose keys are missing, writing nothing', async () => {
  const { dir, state } = freshState();
  await assert.rejects(createBackup({ stateDir: state, file: join(dir, 'x.backup'), passphrase: 'short' }), code(BackupErrorCode.input));
  const key = readdirSync(join(state, 'keys')).find((k) => k.startsWith('CallManager-'))!;
  unlinkSync(join(state, 'keys', key));
  await assert.rejects(
    createBackup({ stateDir: state, file: join(dir, 'x.backup'), passphrase: PASS }),
    (err: Error & { code?: string }) => code(BackupErrorCode.inconsistent)(err) && err.message.includes(key),
  );
  assert.equal(existsSync(join(dir, 'x.backup')), false);
  assert.deepEqual(readdirSync(dir), ['state']);
});

test('the header is what it says: Python hashlib.scrypt over the same passphrase and salt gives the passphrase check', async () => {
  const { dir, state } = freshState();
  const file = join(dir, 'sbd.backup');
  await createBackup({ stateDir: state, file, passphrase: PASS });
  const script = [
    'import hashlib, sys',
    'b = open(sys.argv[1], "rb").read()',
    'assert b[:8] == b"SBDBKUP\\0" and b[10] == 1',
    'ln, r, p, salt, check = b[11], b[12], b[13], b[16:48], b[60:92]',
    'out = hashlib.scrypt(sys.argv[2].encode(), salt=salt, n=2**ln, r=r, p=p, maxmem=2**31 - 1, dklen=64)',
    'print(ln, r, p, hashlib.sha256(out[32:]).digest() == check)',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, file, PASS], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '17 8 1 True');
  const wrong = spawnSync('python3', ['-c', script, file, 'another passphrase'], { encoding: 'utf8' });
  assert.equal(wrong.stdout.trim(), '17 8 1 False');
});
