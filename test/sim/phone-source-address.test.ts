/**
 * Simulated phones reach TVS on loopback each from its own address, as real phones do: a fleet on one address
 * meets the TLS listeners' per-source cap (32 sockets) as a crowd behind one NAT, and some phones lose their
 * answer (the CI failure of 2026-12-07: 5 of 300 phones in scenario e could not ask TVS).
 */
import { strict as assert } from 'node:assert';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { phoneSourceAddress } from '../../src/sim/phone-address.js';
import { tvsHook } from '../../src/sim/tvs-hook.js';
import { TvsErrorCode } from '../../src/tvs/core/errors.js';

test('phoneSourceAddress: 127.3.x.y from the MAC toward loopback, nothing toward other hosts', () => {
  assert.equal(phoneSourceAddress('SEP00EE00000000', '127.0.0.1'), '127.3.0.1');
  assert.equal(phoneSourceAddress('SEP00EE000000FE', '127.0.0.1'), '127.3.1.1');
  assert.equal(phoneSourceAddress('SEP00EE0000FFFF', '127.0.0.5'), '127.3.3.4');
  assert.equal(phoneSourceAddress('SEP00EE00000001', '10.0.0.1'), undefined);
  assert.equal(phoneSourceAddress('SEP00EE00000001', '::1'), undefined);
});

test('the TVS hook connects from each phone its own loopback address', async (t) => {
  const seen: string[] = [];
  const server = net.createServer((s) => {
    seen.push(s.remoteAddress ?? '');
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const hook = tvsHook({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, { connectAttempts: 1 });
  const names = ['SEP00EE00000001', 'SEP00EE00000002', 'SEP00EE00000103'];
  for (const deviceName of names) {
    const ctx = { deviceName, model: '8845', tvsCertificates: [Buffer.from('pin')], tvsServers: [] };
    await assert.rejects(hook(Buffer.from('cert'), ctx), { code: TvsErrorCode.connection });
  }
  assert.deepEqual(
    seen.map((a) => a.replace(/^::ffff:/, '')),
    ['127.3.0.2', '127.3.0.3', '127.3.1.6'],
  );
});
