/** Every report against a store with known content: the exact console table and the exact CSV. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../src/lib/clock.js';
import { openStore, StoreErrorCode, type Store } from '../../src/store/index.js';
import {
  auditReport,
  featureListReport,
  formatCsv,
  formatText,
  itlFileHash,
  itlStatusReport,
  ItlReportStatus,
  outdatedCredentialsReport,
  recordPhoneItlReport,
  setPhoneFeatures,
} from '../../src/reports/index.js';

const A = itlFileHash(Buffer.from('ITL served by node A'));
const B = itlFileHash(Buffer.from('ITL served by node B'));
const OLD = itlFileHash(Buffer.from('an ITL nobody serves any more'));

function knownStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-reports-'));
  const store = openStore(join(dir, 'sbd.db'), { clock: fixedClock(Date.parse('2026-11-25T08:00:00Z')) });
  store.recordServerItlHash('pub', 'ITLFile.tlv', A, '2026-11-25T07:00:00.000Z');
  store.recordServerItlHash('sub1', 'ITLFile.tlv', B, '2026-11-25T07:05:00.000Z');
  for (const [name, model] of [
    ['SEP000000000001', '8845'],
    ['SEP000000000002', '7965'],
    ['SEP000000000003', '8845'],
    ['SEP000000000004', '6945'],
    ['SEP000000000005', '8861'],
  ]) {
    store.addDevice({ name: name!, model: model! });
  }
  recordPhoneItlReport(store, { device: 'SEP000000000001', sha256Hex: A, at: '2026-11-25T07:30:00.000Z' });
  recordPhoneItlReport(store, { device: 'SEP000000000002', sha256Hex: B.toUpperCase(), at: '2026-11-25T07:31:00.000Z' });
  recordPhoneItlReport(store, { device: 'SEP000000000003', sha256Hex: OLD, at: '2026-11-25T07:32:00.000Z' });
  // Bounced back from a new server whose ITL it could not install: still runs A, but Not Installed.
  recordPhoneItlReport(store, {
    device: 'SEP000000000005',
    sha256Hex: A,
    at: '2026-11-25T07:33:00.000Z',
    status: ItlReportStatus.notInstalled,
  });
  return store;
}

test('ITL File Status: Match (any server), MisMatch (differs or unknown), Not Installed (bounced back), last report time', () => {
  const store = knownStore();
  const r = itlStatusReport(store);
  assert.equal(
    formatText(r),
    [
      'ITL File Status (5 phones)',
      'Device Name      Model  ITL File Status  Phone ITL Hash       ITL TFTP Server  Last Report',
      '---------------  -----  ---------------  -------------------  ---------------  ------------------------',
      `SEP000000000001  8845   Match            ${A.slice(0, 16)}...  -                2026-11-25T07:30:00.000Z`,
      `SEP000000000002  7965   Match            ${B.slice(0, 16)}...  -                2026-11-25T07:31:00.000Z`,
      `SEP000000000003  8845   MisMatch         ${OLD.slice(0, 16)}...  -                2026-11-25T07:32:00.000Z`,
      'SEP000000000004  6945   MisMatch         -                    -                -',
      `SEP000000000005  8861   Not Installed    ${A.slice(0, 16)}...  -                2026-11-25T07:33:00.000Z`,
      '',
      'Match: 2  MisMatch: 2  Not Installed: 1',
      '',
    ].join('\n'),
  );
  assert.equal(
    formatCsv(r),
    [
      'Device Name,Model,ITL File Status,Phone ITL Hash,ITL TFTP Server,Last Report',
      `SEP000000000001,8845,Match,${A},-,2026-11-25T07:30:00.000Z`,
      `SEP000000000002,7965,Match,${B},-,2026-11-25T07:31:00.000Z`,
      `SEP000000000003,8845,MisMatch,${OLD},-,2026-11-25T07:32:00.000Z`,
      'SEP000000000004,6945,MisMatch,-,-,-',
      `SEP000000000005,8861,Not Installed,${A},-,2026-11-25T07:33:00.000Z`,
      '',
    ].join('\r\n'),
  );
  // An ordinary report after the bounce clears Not Installed; a server moving to a new ITL turns Match into MisMatch.
  recordPhoneItlReport(store, { device: 'SEP000000000005', sha256Hex: B, at: '2026-11-25T09:00:00.000Z' });
  store.recordServerItlHash('pub', 'ITLFile.tlv', OLD, '2026-11-25T09:01:00.000Z');
  assert.deepEqual(
    itlStatusReport(store).rows.map((row) => row[2]),
    ['MisMatch', 'Match', 'Match', 'MisMatch', 'Match'],
  );
  store.close();
});

test('Phone Feature List: the seeded table, edits, and one model', () => {
  const store = knownStore();
  const r = featureListReport(store);
  const text = formatText(r).split('\n');
  assert.equal(text[0], 'Phone Feature List (20 models)');
  assert.equal(text[1], 'Model  Security by Default  Encrypted Config  EC Keys');
  assert.equal(text[2], '-----  -------------------  ----------------  -------');
  assert.equal(
    text.find((l) => l.startsWith('6901')),
    '6901   No                   No                No',
  );
  assert.equal(
    text.find((l) => l.startsWith('8845')),
    '8845   Yes                  Yes               Yes',
  );
  setPhoneFeatures(store, 'CP-7965', { ecKeys: true });
  setPhoneFeatures(store, '9999', { securityByDefault: true });
  assert.equal(
    formatCsv(featureListReport(store, { model: 'Cisco 7965' })),
    'Model,Security by Default,Encrypted Config,EC Keys\r\n7965,Yes,Yes,Yes\r\n',
  );
  assert.equal(
    formatCsv(featureListReport(store, { model: '9999' })),
    'Model,Security by Default,Encrypted Config,EC Keys\r\n9999,Yes,No,No\r\n',
  );
  assert.equal(
    formatText(featureListReport(store, { model: '1234' })),
    'Phone Feature List (0 models)\nModel  Security by Default  Encrypted Config  EC Keys\n-----  -------------------  ----------------  -------\n(none)\n',
  );
  assert.throws(() => setPhoneFeatures(store, 'not a model!', { ecKeys: true }), { code: StoreErrorCode.modelInvalid });
  store.close();
});

test('users with out-of-date credential algorithms', () => {
  const store = knownStore();
  const sha1 = 'a'.repeat(40);
  store.putUser({
    userid: 'zoe',
    credentialHash: '$scrypt$ln=15,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY',
    algorithm: 'scrypt',
  });
  store.putUser({ userid: 'amy', credentialHash: sha1, algorithm: 'sha1', kind: 'application' });
  store.putUser({
    userid: 'ben',
    credentialHash: '$scrypt$ln=15,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY',
    algorithm: 'scrypt',
    pinHash: '$scrypt$ln=12,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY',
    pinAlgorithm: 'scrypt',
  });
  store.putUser({ userid: 'cy, "jr"', credentialHash: 'b'.repeat(64), algorithm: 'sha256' });
  store.recordLoginResult('amy', false);
  const r = outdatedCredentialsReport(store);
  assert.equal(
    formatText(r),
    [
      'Users with out-of-date credential algorithms (3; current: scrypt ln=15,r=8,p=1)',
      'User ID   Kind         Credential  Algorithm  Parameters     Last Login',
      '--------  -----------  ----------  ---------  -------------  ----------',
      'amy       application  Password    sha1       -              -',
      'ben       end          PIN         scrypt     ln=12,r=8,p=1  -',
      'cy, "jr"  end          Password    sha256     -              -',
      '',
    ].join('\n'),
  );
  assert.equal(
    formatCsv(r),
    'User ID,Kind,Credential,Algorithm,Parameters,Last Login\r\namy,application,Password,sha1,-,-\r\nben,end,PIN,scrypt,"ln=12,r=8,p=1",-\r\n"cy, ""jr""",end,Password,sha256,-,-\r\n',
  );
  store.close();
});

test('audit log, newest first', () => {
  const store = knownStore();
  store.appendAudit({ user: 'admin', action: 'param-set', detail: 'AutoRegistration=true', result: 'success' });
  store.appendAudit({
    at: '2026-11-25T08:05:00.000Z',
    user: 'admin',
    action: 'backup',
    detail: '/tmp/x.sbdbackup\nsecond line',
    result: 'failure ERR_BACKUP_IO',
  });
  const r = auditReport(store);
  assert.equal(
    formatText(r),
    [
      'Audit log (2 newest entries)',
      'Time                      User   Action     Detail                        Result',
      '------------------------  -----  ---------  ----------------------------  ---------------------',
      '2026-11-25T08:05:00.000Z  admin  backup     /tmp/x.sbdbackup second line  failure ERR_BACKUP_IO',
      '2026-11-25T08:00:00.000Z  admin  param-set  AutoRegistration=true         success',
      '',
    ].join('\n'),
  );
  assert.equal(
    formatCsv(auditReport(store, { limit: 1 })),
    'Time,User,Action,Detail,Result\r\n2026-11-25T08:05:00.000Z,admin,backup,"/tmp/x.sbdbackup\nsecond line",failure ERR_BACKUP_IO\r\n',
  );
  store.close();
});
