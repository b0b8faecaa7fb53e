/**
 * A simulated phone resolves the hosts of its config only when it has a resolver (src/sim/name-resolution.ts):
 * the call-control nodes are read from `<callManagerGroup>` in priority order; an IP literal is used as it is by
 * every resolver; with `noResolver` a host name fails (ERR_SIM_RESOLVE) for the call control, for TVS (the member
 * is skipped and the phone says why) and for CAPF. No name is ever looked up here (nothing leaves loopback).
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { phoneConfigServices } from '../../src/sim/phone-config.js';
import { callControlFlow, noResolver, reach, systemResolver } from '../../src/sim/name-resolution.js';
import { SimErrorCode } from '../../src/sim/errors.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-sim-dns-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const config = (host: string, host2 = '127.0.0.3') => `<device><devicePool><callManagerGroup><members>
<member priority="1"><callManager><ports><sipPort>5070</sipPort><securedSipPort>5071</securedSipPort></ports><processNodeName>${host2}</processNodeName></callManager></member>
<member priority="0"><callManager><ports><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports><processNodeName>${host}</processNodeName></callManager></member>
</members></callManagerGroup></devicePool>
<TVS><members><member priority="0"><port>2445</port><address>${host}</address></member></members></TVS></device>`;

test('the call-control nodes come from <callManagerGroup>, lowest priority first, with their ports', () => {
  assert.deepEqual(phoneConfigServices(config('10.0.0.1')).callManagers, [
    { host: '10.0.0.1', sipPort: 5060, securedSipPort: 5061 },
    { host: '127.0.0.3', sipPort: 5070, securedSipPort: 5071 },
  ]);
});

test('an IP literal needs no resolver; a name fails without one', async () => {
  assert.equal(await noResolver('127.0.0.1'), '127.0.0.1');
  assert.equal(await noResolver('::1'), '::1');
  assert.equal(await systemResolver('127.0.0.2'), '127.0.0.2');
  await assert.rejects(noResolver('sbd'), { code: 'ERR_SIM_RESOLVE' });
  await assert.rejects(reach('tvs', { host: 'sbd.example', port: 2445 }, { resolver: noResolver }), { code: 'ERR_SIM_RESOLVE' });
  assert.deepEqual(await reach('capf', { host: '127.0.0.1', port: 3804 }, { resolver: noResolver }), { host: '127.0.0.1', port: 3804 });
});

test('the phone registers with the first call-control node it can resolve', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'SEP0000000C0001'));
  writeFileSync(join(dir, 'SEP0000000C0001', 'config.xml'), config('sbd'));
  // The first node is a name: without a resolver the phone goes on to the second, an address.
  assert.deepEqual(await callControlFlow(dir, 'SEP0000000C0001', 'tls', noResolver), { transport: 'tls', host: '127.0.0.3', port: 5071 });
  writeFileSync(join(dir, 'SEP0000000C0001', 'config.xml'), config('sbd', 'sbd-sub'));
  await assert.rejects(callControlFlow(dir, 'SEP0000000C0001', 'tcp', noResolver), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_SIM_RESOLVE');
    assert.match(err.message, /"sbd": the phone has no DNS server; .*"sbd-sub"/);
    return true;
  });
  writeFileSync(join(dir, 'SEP0000000C0001', 'config.xml'), config('127.0.0.1'));
  assert.deepEqual(await callControlFlow(dir, 'SEP0000000C0001', 'tcp', noResolver), { transport: 'tcp', host: '127.0.0.1', port: 5060 });
});

test('TVS named by host name: a phone without a resolver cannot ask it, and says so', async () => {
  const hook = configTvsHook({ resolver: noResolver, timeoutMs: 2000 });
  await assert.rejects(
    hook(Buffer.from('x'), {
      deviceName: 'SEP0000000C0001',
      model: '8845',
      tvsCertificates: [Buffer.from('pin')],
      tvsServers: [{ host: 'sbd.example', port: 2445 }],
    }),
    { code: SimErrorCode.tvsFailed, message: /sbd\.example:2445: cannot resolve "sbd\.example": the phone has no DNS server/ },
  );
});

test('sbd phone boot --dns takes system or none', async () => {
  const { main } = await import('../../src/cli/main.js');
  const err: string[] = [];
  const code = await main(['phone', 'boot', '--server', '127.0.0.1:69', '--mac', '0000000C0001', '--state', tempDir(), '--dns', 'maybe'], {
    out: () => {},
    err: (t) => err.push(t),
  });
  assert.notEqual(code, 0);
  assert.match(err.join('\n'), /--dns: 'maybe' is not system or none/);
});

test('sbd phone register --state --mac without --server: the call control of its config, resolved as --dns says', async () => {
  const { main } = await import('../../src/cli/main.js');
  const dir = tempDir();
  mkdirSync(join(dir, 'SEP0000000C0002'));
  const line = '<sipLines><line button="1"><name>7700</name><authName>u7700</authName><authPassword></authPassword></line></sipLines>';
  writeFileSync(
    join(dir, 'SEP0000000C0002', 'config.xml'),
    config('sbd', 'sbd-sub').replace('</device>', `<sipProfile>${line}</sipProfile></device>`),
  );
  const err: string[] = [];
  const code = await main(['phone', 'register', '--state', dir, '--mac', '0000000C0002', '--transport', 'tcp', '--dns', 'none'], {
    out: () => {},
    err: (t) => err.push(t),
  });
  assert.equal(code, 1);
  assert.match(err.join('\n'), /SEP0000000C0002 cannot reach its call control: cannot resolve "sbd": the phone has no DNS server/);
});
