/**
 * What the phone reads from its config to reach TVS and CAPF (src/sim/phone-config.ts), and the TVS hook that
 * walks the `<TVS>` members in priority order (src/sim/tvs-hook.ts configTvsHook) against the real sbd-tvsd.
 */
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { renderDeviceConfig } from '../../src/config/device-config.js';
import { silentLogger } from '../../src/lib/log.js';
import { phoneConfigServices, phoneLineCredentials, redirectFromPairs } from '../../src/sim/phone-config.js';
import { SimErrorCode } from '../../src/sim/errors.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { tvsIdentity, TvsServer } from '../../src/tvs/server.js';
import { Role } from '../../src/trust/tags.js';
import { startAppliance } from './helpers.js';

const ep = (address: string) => ({ hostname: address, address });

test('TVS members in priority order, at most 5; CAPF list and auth mode; defaults and garbage', () => {
  const xml = renderDeviceConfig(
    { name: 'SEP001122334455', model: '8845', securityMode: 'authenticated', transport: 'tls', capfAuthMode: 'lsc', encrConfig: false },
    {
      callManagers: [ep('10.0.0.1')],
      tvs: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'].map(ep),
      capf: [ep('10.0.0.9')],
      sipPort: 5060,
      sipTlsPort: 5061,
      tvsPort: 2445,
      capfPort: 3804,
    },
  );
  const s = phoneConfigServices(xml);
  assert.deepEqual(
    s.tvs.map((t) => t.host),
    ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'],
  );
  assert.ok(s.tvs.every((t) => t.port === 2445));
  assert.deepEqual(s.capf, [{ host: '10.0.0.9', port: 3804 }]);
  assert.equal(s.capfAuthMode, 3);

  const reordered = phoneConfigServices(
    Buffer.from(
      '<device><TVS><members><member priority="2"><port>2446</port><address>b</address></member>' +
        '<member priority="0"><address>a&amp;</address></member><member priority="1"><port>99999</port><address>c</address></member></members></TVS></device>',
    ),
  );
  assert.deepEqual(reordered.tvs, [
    { host: 'a&', port: 2445 },
    { host: 'c', port: 2445 },
    { host: 'b', port: 2446 },
  ]);
  assert.deepEqual(reordered.capf, []);
  assert.equal(reordered.capfAuthMode, undefined);
  assert.deepEqual(phoneConfigServices('not xml at all <TVS>'), { callManagers: [], tvs: [], capf: [], capfAuthMode: undefined });

  const r = redirectFromPairs([
    [
      { host: '127.0.0.1', port: 2445 },
      { host: '127.0.0.1', port: 40000 },
    ],
  ]);
  assert.deepEqual(r('tvs', { host: '127.0.0.1', port: 2445 }), { host: '127.0.0.1', port: 40000 });
  assert.deepEqual(r('tvs', { host: '127.0.0.1', port: 2446 }), { host: '127.0.0.1', port: 2446 });
});

test('configTvsHook: a member that cannot be reached is skipped for the next; no member or no pin is an error', async () => {
  const app = await startAppliance();
  const tvs = new TvsServer({ store: app.state.store, host: '127.0.0.1', port: 0, logger: silentLogger, reloadIntervalMs: 0 });
  const { port } = await tvs.listen();
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  try {
    const pin = tvsIdentity(app.state.store).row.der;
    const itlRecovery = app.state.store.currentCertificate('ITLRecovery', null)!.der;
    const hook = configTvsHook({ timeoutMs: 5000 });
    const ctx = {
      deviceName: 'SEP001122334455',
      model: '8845',
      tvsCertificates: [pin],
      tvsServers: [
        { host: '127.0.0.1', port: deadPort },
        { host: '127.0.0.1', port },
      ],
    };
    assert.deepEqual((await hook(itlRecovery, ctx))!.roles, [Role.SAST]);
    await assert.rejects(hook(itlRecovery, { ...ctx, tvsServers: [{ host: '127.0.0.1', port: deadPort }] }), {
      code: SimErrorCode.tvsFailed,
      message: new RegExp(`^127\\.0\\.0\\.1:${deadPort}: TVS 127\\.0\\.0\\.1: connect ECONNREFUSED`),
    });
    await assert.rejects(hook(itlRecovery, { ...ctx, tvsServers: [] }), { code: SimErrorCode.tvsNoServer });
    await assert.rejects(hook(itlRecovery, { ...ctx, tvsCertificates: [] }), { code: SimErrorCode.tvsNoCertificate });
    // A redirect sends the configured standard port to where the server listens.
    const redirected = configTvsHook({
      redirect: redirectFromPairs([
        [
          { host: '127.0.0.1', port: 2445 },
          { host: '127.0.0.1', port },
        ],
      ]),
    });
    assert.deepEqual((await redirected(itlRecovery, { ...ctx, tvsServers: [{ host: '127.0.0.1', port: 2445 }] }))!.roles, [Role.SAST]);
  } finally {
    await tvs.close();
  }
});

test('phoneLineCredentials: the first line of <sipLines>, entities decoded; none without a line', () => {
  const xml = `<device><sipProfile><sipLines>
    <line button="1"><name>2001</name><authName>SEP001122334455</authName><authPassword>a&lt;b&amp;c</authPassword></line>
    <line button="2"><name>2002</name><authName>other</authName><authPassword>x</authPassword></line>
  </sipLines></sipProfile></device>`;
  assert.deepEqual(phoneLineCredentials(xml), { line: '2001', authName: 'SEP001122334455', authPassword: 'a<b&c' });
  assert.deepEqual(
    phoneLineCredentials('<sipLines><line><name>7</name><authName></authName><authPassword></authPassword></line></sipLines>'),
    { line: '7', authName: '', authPassword: '' },
  );
  assert.equal(phoneLineCredentials('<device><authPassword>loose</authPassword></device>'), undefined);
  assert.equal(
    phoneLineCredentials('<sipLines><line><authPassword>p</authPassword></line></sipLines>'),
    undefined,
    'a line without a number',
  );
  assert.equal(phoneLineCredentials(Buffer.from('not xml')), undefined);
});
