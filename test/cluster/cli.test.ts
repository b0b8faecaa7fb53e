/** The foundation's CLI end to end, as an administrator runs it: real store, real keys, real files on disk. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlvCheck } from '../trust/helpers.js';
import { verifyTrustFile } from '../../src/trust/verify.js';
import { roleName } from '../../src/trust/tags.js';
import { openStore } from '../../src/store/index.js';

const root = new URL('../../', import.meta.url).pathname;
const vectors = join(root, '../shared/vectors');

function sbd(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('itl show on the CUCM CTL lists the 6 records and a valid signature', () => {
  const r = sbd('itl', 'show', join(vectors, 'cucm10-CTLFile.tlv'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /records: 6 \(SAST, CCM\+TFTP, CCM\+TFTP, CAPF, SAST, CCM\+TFTP\)/);
  assert.match(r.out, /signature: valid/);
  for (const tag of ['SIGNERNAME', 'SERIALNUMBER', 'CANAME', 'FILENAME', 'TIMESTAMP', 'SUBJECTNAME', 'ISSUERNAME', 'FUNCTION'])
    assert.match(r.out, new RegExp(tag));
});

test('the corrupted CTL gives one clear line naming the offset, exit 1, no stack trace', () => {
  const r = sbd('itl', 'show', join(vectors, 'cucm10-CTLFile-corrupt.tlv'));
  assert.equal(r.code, 1);
  assert.match(r.err, /offset \d+/);
  assert.doesNotMatch(r.err, /\n\s+at /);
  assert.equal(r.err.trim().split('\n').length, 1);
});

test('init, device add, itl build: every file accepted by the independent checker; re-init is a no-op', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cli-'));
  const state = join(dir, 'state');
  let r = sbd('init', '--state', state, '--hostname', 'sbd-test.example.net', '--ip', '127.0.0.1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /issued certificates: CallManager, TVS, CAPF, ITLRecovery, tomcat/);
  for (const f of readdirSync(join(state, 'keys'))) assert.equal(statSync(join(state, 'keys', f)).mode & 0o077, 0, `${f} is private`);
  r = sbd('device', 'add', 'SEP001122334455', '--model', '8845', '--dn', '1001', '--state', state);
  assert.equal(r.code, 0, r.err);
  r = sbd('itl', 'build', '--state', state, '--out', join(dir, 'out'));
  assert.equal(r.code, 0, r.err);
  const out = join(dir, 'out');
  const store = openStore(join(state, 'sbd.db'));
  const cmPem = join(dir, 'cm.pem');
  writeFileSync(cmPem, store.currentCertificate('CallManager', 'sbd-test')!.pem);
  store.close();
  const itl = verifyTrustFile(readFileSync(join(out, 'ITLFile.tlv')));
  assert.deepEqual(
    itl.records.map((x) => roleName(x.role)),
    ['SAST', 'CCM+TFTP', 'SAST', 'TVS', 'CAPF'],
  );
  assert.equal(tlvCheck(join(out, 'ITLFile.tlv')).status, 0);
  for (const f of ['SEP001122334455.cnf.xml.sgn', 'XMLDefault.cnf.xml.sgn']) {
    const c = tlvCheck(join(out, f), cmPem);
    assert.equal(c.status, 0, `${f}: ${c.out}`);
    assert.equal(sbd('verify', join(out, f), '--trust', join(out, 'ITLFile.tlv')).code, 0);
  }
  assert.equal(sbd('verify', join(out, 'SEP001122334455.cnf.xml.sgn')).code, 1, 'a .sgn without a signer to check against is not "valid"');
  r = sbd('init', '--state', state, '--hostname', 'sbd-test.example.net');
  assert.equal(r.code, 0);
  assert.match(r.out, /already initialised/);
  assert.match(r.out, /all certificates present/);
});

test('cert regen keeps history and rebuilds the ITL; rollback empties TVS and TFTP; mixed mode adds the CTL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cli-'));
  const state = join(dir, 'state');
  assert.equal(sbd('init', '--state', state, '--hostname', 'sbd-a', '--ip', '127.0.0.2').code, 0);
  const r = sbd('cert', 'regen', 'TVS', '--state', state);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /kept as history/);
  assert.match(r.out, /WARNING: .*after TVS/);
  const list = sbd('cert', 'list', '--state', state, '--history').out;
  assert.equal(list.split('\n').filter((l) => l.startsWith('TVS ')).length, 2);
  assert.equal(sbd('param', 'set', 'PrepareClusterForRollback', 'true', '--state', state).code, 0);
  assert.equal(sbd('param', 'set', 'ClusterSecurityMode', 'mixed', '--state', state).code, 0);
  assert.equal(sbd('itl', 'build', '--state', state, '--out', join(dir, 'out')).code, 0);
  const itl = verifyTrustFile(readFileSync(join(dir, 'out', 'ITLFile.tlv')));
  assert.equal(itl.valid, true);
  assert.deepEqual(
    itl.records.filter((x) => !x.certificate).map((x) => roleName(x.role)),
    ['CCM+TFTP', 'TVS'],
  );
  const ctl = verifyTrustFile(readFileSync(join(dir, 'out', 'CTLFile.tlv')));
  assert.equal(ctl.valid, true);
  assert.equal(tlvCheck(join(dir, 'out', 'CTLFile.tlv')).status, 0);
});

test('bad input: clear errors, exit codes, and nothing changed in the store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cli-'));
  const state = join(dir, 'state');
  assert.equal(sbd('init', '--state', state, '--hostname', 'sbd-b').code, 0);
  const db = join(state, 'sbd.db');
  const before = createHash('sha256').update(readFileSync(db)).digest('hex');
  let r = sbd('device', 'add', 'SEP00112233', '--model', '8845', '--state', state);
  assert.equal(r.code, 1);
  assert.match(r.err, /SEP/);
  r = sbd('param', 'set', 'ITLRecoveryValidityYears', '7', '--state', state);
  assert.equal(r.code, 1);
  r = sbd('param', 'set', 'NoSuchParam', '1', '--state', state);
  assert.equal(r.code, 1);
  r = sbd('cert', 'regen', 'nonsense', '--state', state);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown certificate/);
  assert.equal(createHash('sha256').update(readFileSync(db)).digest('hex'), before);
  r = sbd('itl', 'build', '--state', join(dir, 'missing'), '--out', join(dir, 'o'));
  assert.equal(r.code, 1);
  assert.match(r.err, /sbd init/);
  r = sbd('verify', join(dir, 'nope.tlv'));
  assert.equal(r.code, 1);
  assert.match(r.err, /ENOENT|no such file/);
  r = sbd('device', 'add');
  assert.equal(r.code, 2);
});
