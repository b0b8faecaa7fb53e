/**
 * `lazyOpen` (SIP's listener): an accepted connection's OPEN frame waits for its first DATA (or the engine's lazy
 * delay), so Node wakes once for both. What must not change: a client that speaks at once is handed over with its
 * bytes, byte-exact; one that stays silent is still handed over (and the daemon may speak first); one that closes
 * without a word ends on the daemon's side; nothing stays open.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import type { TlsEngineService } from '../../src/tls/engine-service.js';
import { echoService, engineMissing } from './helpers.js';

function client(port: number, maxVersion: tls.SecureVersion): tls.TLSSocket {
  const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion });
  s.on('error', () => {});
  return s;
}

async function drained(service: TlsEngineService): Promise<void> {
  while ((service.stats().active ?? 0) > 0) await new Promise((r) => setTimeout(r, 20));
}

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`lazyOpen, ${version}: speaking client echoed exactly, silent client handed over, silent close ends`, {
    skip: engineMissing,
  }, async (t) => {
    const opened: net.Socket[] = [];
    const ended: net.Socket[] = [];
    const { port, service } = await echoService(t, 'engine', {
      lazyOpen: true,
      onConnection: (s: net.Socket) => {
        opened.push(s);
        s.on('error', () => {});
        s.on('data', (d: Buffer) => s.write(d));
        s.on('end', () => {
          ended.push(s);
          s.end();
        });
      },
    });
    const engine = service as TlsEngineService;

    // Speaks at once: the OPEN travels with the REGISTER-sized first bytes; the echo is exact.
    const payload = Buffer.from(`REGISTER sip:x SIP/2.0\r\n${'a'.repeat(700)}\r\n\r\n`);
    const speaker = client(port, version);
    const echoed = await new Promise<Buffer>((resolve) => {
      const got: Buffer[] = [];
      speaker.on('secureConnect', () => speaker.write(payload));
      speaker.on('data', (d: Buffer) => {
        got.push(d);
        if (Buffer.concat(got).length >= payload.length) resolve(Buffer.concat(got));
      });
    });
    assert.deepEqual(echoed, payload);
    assert.equal(opened.length, 1);

    // Silent: still handed over, and the daemon can write first.
    const silent = client(port, version);
    await new Promise((r) => silent.once('secureConnect', r));
    while (opened.length < 2) await new Promise((r) => setTimeout(r, 5));
    const first = await new Promise<Buffer>((resolve) => {
      silent.once('data', resolve);
      opened[1]!.write('hello from the daemon');
    });
    assert.equal(first.toString(), 'hello from the daemon');

    // Closes without a word: the daemon sees the end of a connection it was given.
    const quitter = client(port, version);
    await new Promise((r) => quitter.once('secureConnect', r));
    quitter.end();
    while (ended.length < 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal(opened.length, 3);

    speaker.end();
    silent.end();
    await drained(engine);
    assert.equal(engine.stats().active, 0);
  });
}
