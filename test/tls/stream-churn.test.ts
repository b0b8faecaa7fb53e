/**
 * Many connections on one worker stream, opened and closed from both sides in every order (the daemon destroys,
 * the peer resets, both end cleanly), with connection ids reused all along (native/tls-mux.c): no byte reaches
 * another connection, every clean echo is exact, and the engine ends with nothing open or held.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import type { TlsEngineService } from '../../src/tls/engine-service.js';
import { echoService, engineMissing } from './helpers.js';

const CONNECTIONS = 300;
const IN_FLIGHT = 16;

/** One connection: `mode` 0 a clean echo, 1 the daemon destroys on the first byte, 2 the peer resets after writing. */
function one(port: number, mode: number, payload: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.3' });
    const got: Buffer[] = [];
    s.on('secureConnect', () => {
      s.write(Buffer.concat([Buffer.from([mode]), payload]));
      if (mode === 2) setImmediate(() => s.destroy());
      else if (mode === 0) s.end();
    });
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => resolve(mode === 0 ? Buffer.concat(got) : undefined));
  });
}

test('300 connections in churn over the shared stream: clean echoes exact, no cross-talk, nothing left open or held', {
  skip: engineMissing,
}, async (t) => {
  const { port, service } = await echoService(t, 'engine', {
    workers: 1, // every connection on one stream, ids reused as fast as they come back
    onConnection: (s: net.Socket) => {
      s.on('error', () => {});
      let first = true;
      s.on('data', (d: Buffer) => {
        if (first && d[0] === 1) return void s.destroy();
        s.write(first ? d.subarray(1) : d);
        first = false;
      });
      s.on('end', () => s.end());
    },
  });
  const engine = service as TlsEngineService;
  let next = 0;
  let clean = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = next++; i < CONNECTIONS; i = next++) {
        const payload = randomBytes(1000 + (i % 7) * 3000);
        const got = await one(port, i % 3, payload);
        if (got === undefined) continue;
        assert.ok(got.equals(payload), `connection ${i}: its own bytes back, ${got.length} of ${payload.length}`);
        clean++;
      }
    }),
  );
  assert.equal(clean, Math.ceil(CONNECTIONS / 3));
  for (let i = 0; i < 1000 && (engine.stats().active ?? 1) > 0; i++) await new Promise((r) => setTimeout(r, 10));
  const st = engine.stats();
  assert.deepEqual({ active: st.active, held: st.heldFromNode }, { active: 0, held: 0 });
  assert.equal(st.handshakes, CONNECTIONS);
});
