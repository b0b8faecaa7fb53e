/**
 * Issue 16 row 9: guessing a CAPF auth string (or replaying an old LSC, or handing over any certificate in a
 * fetch) must not get anyone an LSC for their own key. Each test fails on the code before the fix:
 *   - `sbd capf install` without --auth scheduled an operation open to anyone (authentication none);
 *   - 4-digit auth strings were accepted;
 *   - wrong strings left the operation pending forever, uncounted and unaudited;
 *   - LSC mode accepted any LSC ever issued for the MAC;
 *   - FETCH stored whatever certificate the phone sent.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { enrollWithCapf } from '../../src/capf/client.js';
import { CapfError } from '../../src/capf/core/errors.js';
import { pendingStatus } from '../../src/capf/operation-status.js';
import { main } from '../../src/cli/main.js';
import { openState } from '../../src/store/state.js';
import type { Store } from '../../src/store/index.js';
import { micFactory, startCapf } from '../capf/helpers.js';
import { tempDir } from '../tvs/helpers.js';

const MAC = '001122334455';
const DEVICE = `SEP${MAC}`;
const EC = { type: 'ec', curve: 'P-256' } as const;
const refused = (reason: number) => (e: unknown) =>
  e instanceof CapfError && e.code === 'ERR_CAPF_SERVER_REFUSED' && e.message.includes(`reason ${reason}`);

async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await main(args, { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) });
  return { status, stdout, stderr };
}

function schedule(store: Store, op: 'install' | 'fetch', auth: 'none' | 'password' | 'lsc', password: string | null = null): void {
  if (!store.getDevice(DEVICE)) store.addDevice({ name: DEVICE, model: '8845' });
  store.updateDevice(DEVICE, {
    capfOperation: op,
    capfAuthMode: auth,
    capfAuthString: password,
    capfStatus: pendingStatus(op, op === 'install' ? EC : undefined),
  });
}

test('capf install without --auth is refused and schedules nothing; auth strings shorter than 8 digits are refused', async (t) => {
  const dir = tempDir(t, 'sbd-row09-');
  const state = path.join(dir, 'state');
  assert.equal((await cli(['init', '--state', state, '--hostname', 'cucm-pub', '--ip', '127.0.0.1'])).status, 0);
  assert.equal((await cli(['device', 'add', DEVICE, '--model', '8845', '--state', state])).status, 0);
  const noAuth = await cli(['capf', 'install', DEVICE, '--state', state]);
  assert.equal(noAuth.status, 2, noAuth.stdout);
  assert.match(noAuth.stderr, /--auth/);
  const short = await cli(['capf', 'install', DEVICE, '--auth', 'password', '--password', '4711', '--state', state]);
  assert.equal(short.status, 2, short.stdout);
  const { store } = openState(state);
  t.after(() => store.close());
  assert.equal(store.getDevice(DEVICE)!.capfOperation, 'none', 'nothing was scheduled');
  // The store refuses a short string whoever asks; a generated string has at least 8 digits.
  assert.throws(() => store.updateDevice(DEVICE, { capfAuthString: '1234' }), { code: 'ERR_DEVICE_INVALID' });
  assert.throws(() => store.updateDevice(DEVICE, { capfAuthString: '1234567' }), { code: 'ERR_DEVICE_INVALID' });
  const generated = await cli(['capf', 'install', DEVICE, '--auth', 'password', '--state', state]);
  assert.equal(generated.status, 0, generated.stderr);
  assert.match(generated.stdout, /authentication string: \d{8,}\n/);
});

test('5 wrong auth strings cancel the operation (each one audited, all answered alike); the right string then gets nothing', async (t) => {
  const { store, port, capfCert, server } = await startCapf(t);
  const trustedServerCerts = [capfCert.der];
  const enroll = (password: string) =>
    enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'password', password }, trustedServerCerts });
  const right = '24681357';
  // Four wrong strings, then the right one: installs, and the count starts again.
  schedule(store, 'install', 'password', right);
  for (const wrong of ['00000000', '2468135', '246813570', '']) await assert.rejects(enroll(wrong), refused(7));
  assert.equal(store.getDevice(DEVICE)!.capfAuthFailures, 4);
  assert.equal((await enroll(right)).operation, 'install');
  assert.equal(store.getDevice(DEVICE)!.capfAuthFailures, 0);
  const lsc = store.getDevice(DEVICE)!.lscPem;
  // Five wrong strings: the fifth cancels the operation and spends the string.
  schedule(store, 'install', 'password', right);
  for (let i = 0; i < 5; i++) await assert.rejects(enroll(String(10000000 + i)), refused(7));
  const d = store.getDevice(DEVICE)!;
  assert.deepEqual(
    { op: d.capfOperation, string: d.capfAuthString, failures: d.capfAuthFailures },
    { op: 'none', string: null, failures: 5 },
  );
  assert.match(
    d.capfStatus!,
    /^Operation Cancelled: install ec-P-256; last attempt .*: Authentication Failed \(5 of 5\): wrong authentication string$/,
  );
  const audit = store.listAudit({ limit: 20 }).filter((a) => a.user === 'capfd');
  assert.deepEqual(
    audit.map((a) => a.action),
    ['capf-operation-cancelled', ...Array(4).fill('capf-auth-failure'), ...Array(4).fill('capf-auth-failure')],
  );
  assert.ok(
    audit.every((a) => a.result === 'failure' && a.detail.includes(DEVICE) && a.detail.includes('127.0.0.1')),
    JSON.stringify(audit[0]),
  );
  assert.match(audit[0]!.detail, /failure 5 of 5, operation cancelled/);
  // The right string now opens nothing: no operation pending, no LSC.
  const after = await enroll(right);
  assert.deepEqual({ op: after.operation, reason: after.operation === 'none' && after.reason }, { op: 'none', reason: 0 });
  assert.equal(store.getDevice(DEVICE)!.lscPem, lsc);
  assert.equal(server.stats.installed, 1);
});

test('the limit is a server option; a spent string answers exactly like a wrong one', async (t) => {
  const { store, port, capfCert } = await startCapf(t, { maxAuthFailures: 2 });
  const enroll = (password: string) =>
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'password', password },
      trustedServerCerts: [capfCert.der],
    });
  schedule(store, 'install', 'password', null);
  await assert.rejects(enroll('13572468'), refused(7)); // no string set: same answer as a wrong one
  await assert.rejects(enroll('13572468'), refused(7));
  assert.equal(store.getDevice(DEVICE)!.capfOperation, 'none');
});

test("LSC authentication accepts only the device's current LSC, not an older one of the same phone", async (t) => {
  const { store, port, capfCert } = await startCapf(t);
  const trustedServerCerts = [capfCert.der];
  schedule(store, 'install', 'none');
  const first = await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts });
  schedule(store, 'install', 'none');
  const second = await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts });
  if (first.operation !== 'install' || second.operation !== 'install') assert.fail('installs expected');
  assert.equal(store.getDevice(DEVICE)!.lscPem, new X509Certificate(second.lscPem).toString());
  // Both LSCs chain to this CAPF, are valid and name the MAC; only the second is the device's now.
  schedule(store, 'install', 'lsc');
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'lsc', certPem: first.lscPem, keyPem: first.privateKeyPem },
      trustedServerCerts,
    }),
    refused(7),
  );
  assert.match(store.getDevice(DEVICE)!.capfStatus!, /is not SEP001122334455's current LSC/);
  assert.equal(store.getDevice(DEVICE)!.lscPem, new X509Certificate(second.lscPem).toString(), 'the old LSC got nothing');
  const third = await enrollWithCapf({
    host: '127.0.0.1',
    port,
    deviceName: DEVICE,
    auth: { type: 'lsc', certPem: second.lscPem, keyPem: second.privateKeyPem },
    trustedServerCerts,
  });
  assert.equal(third.operation, 'install');
});

test('FETCH stores only an LSC of this CAPF for this device; anything else is refused and the old LSC kept', async (t) => {
  const { store, port, capfCert } = await startCapf(t);
  const trustedServerCerts = [capfCert.der];
  schedule(store, 'install', 'none');
  const mine = await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts });
  if (mine.operation !== 'install') assert.fail('install expected');
  const current = store.getDevice(DEVICE)!.lscPem!;
  const other = 'SEP00112233AABB';
  store.addDevice({ name: other, model: '8845' });
  store.updateDevice(other, { capfOperation: 'install', capfAuthMode: 'none', capfStatus: pendingStatus('install', EC) });
  const others = await enrollWithCapf({ host: '127.0.0.1', port, deviceName: other, auth: { type: 'none' }, trustedServerCerts });
  if (others.operation !== 'install') assert.fail('install expected');
  // A certificate naming the MAC from a CA the appliance never heard of, and another phone's genuine LSC.
  const rogue = micFactory(t, 'Rogue CA').mic(MAC).certPem;
  for (const [label, pem] of [
    ['rogue CA', rogue],
    ["another phone's LSC", others.lscPem],
  ] as const) {
    schedule(store, 'fetch', 'none');
    const r = await enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'none' },
      trustedServerCerts,
      currentLscPem: pem,
    });
    assert.equal(r.operation, 'fetch', label);
    const d = store.getDevice(DEVICE)!;
    assert.equal(d.lscPem, current, `${label}: the old LSC stays`);
    assert.equal(d.capfOperation, 'fetch', `${label}: the fetch stays pending`);
    assert.match(d.capfStatus!, /Failed: fetched certificate refused: /, label);
  }
  // The phone's own LSC (the one the store lost, say after a restore): stored.
  store.updateDevice(DEVICE, { lscPem: null });
  const ok = await enrollWithCapf({
    host: '127.0.0.1',
    port,
    deviceName: DEVICE,
    auth: { type: 'none' },
    trustedServerCerts,
    currentLscPem: mine.lscPem,
  });
  assert.equal(ok.operation, 'fetch');
  assert.equal(store.getDevice(DEVICE)!.lscPem, current);
  assert.match(store.getDevice(DEVICE)!.capfStatus!, /^Fetch Success /);
});
