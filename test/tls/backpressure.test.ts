/**
 * The engine's window (native/tls-relay.c, src/tls/engine-stream.ts): a daemon that stops reading stops the engine
 * reading TLS (the peer's writes then stall in TCP), and a peer that stops reading stops the engine taking the
 * daemon's writes (they queue in the daemon's own stream, which says so); the engine holds at most the window per
 * connection either way, and everything arrives byte-exactly once the reader reads again. Many connections share
 * one stream: a stalled one does not stop the others.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import type { TlsEngineService } from '../../src/tls/engine-service.js';
import { echoService, engineMissing, roundTrip } from './helpers.js';

const skip = engineMissing;
const SIZE = 8 << 20;

/** Polls `read` until it returns the same value `times` times in a row (the flow has stopped), and returns it. */
async function settled(read: () => number, times = 20): Promise<number> {
  let last = -1;
  for (let same = 0, i = 0; same < times && i < 2000; i++) {
    const v = read();
    same = v === last ? same + 1 : 0;
    last = v;
    await new Promise((r) => setTimeout(r, 10));
  }
  return last;
}

function connect(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
    s.on('error', reject);
  });
}

test('a daemon that stops reading: the engine stops at the window, the peer stalls, the other connections go on; all bytes arrive after', {
  skip,
}, async (t) => {
  let held: net.Socket | undefined;
  const { port, service } = await echoService(t, 'engine', {
    onConnection: (s: net.Socket) => {
      if (!held) {
        held = s; // the first connection's reader never reads (until resumed below)
        s.pause();
        return;
      }
      s.on('data', (d: Buffer) => s.write(d));
      s.on('end', () => s.end());
    },
  });
  const engine = service as TlsEngineService;
  const window = engine.stats().window!;
  const client = await connect(port);
  t.after(() => client.destroy());
  const big = randomBytes(SIZE);
  let written = false;
  client.write(big, () => (written = true));
  const toNode = await settled(() => engine.stats().toNodeBytes!);
  assert.ok(toNode <= window + 2 * 16384, `the engine sent ${toNode} bytes to a paused reader (window ${window})`);
  assert.ok(held!.readableLength <= toNode);
  assert.equal(written, false, "the peer's 8 MiB did not all leave it: TCP flow control reached it");
  assert.ok(engine.stats().maxStreamPending! < 512 * 1024, 'the stream to Node never held much');
  // Another connection on the same stream is served meanwhile.
  assert.equal((await roundTrip(port, Buffer.from('other'))).data.toString(), 'other');
  // The reader reads again: every byte arrives, in order.
  const got: Buffer[] = [];
  let n = 0;
  const done = new Promise<void>((r) =>
    held!.on('data', (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= SIZE) r();
    }),
  );
  held!.resume();
  await done;
  assert.ok(Buffer.concat(got).equals(big));
});

test('a peer that stops reading: the engine holds at most the window of the daemon’s writes, the daemon sees backpressure; all bytes arrive after', {
  skip,
}, async (t) => {
  const big = randomBytes(SIZE);
  let sender: net.Socket | undefined;
  let accepted = true;
  const { port, service } = await echoService(t, 'engine', {
    onConnection: (s: net.Socket) => {
      sender = s;
      s.on('error', () => {});
      accepted = s.write(big);
      s.end();
    },
  });
  const engine = service as TlsEngineService;
  const window = engine.stats().window!;
  const client = await connect(port);
  t.after(() => client.destroy());
  client.pause();
  const fromNode = await settled(() => engine.stats().fromNodeBytes!);
  assert.equal(accepted, false, 'write() said the stream is full');
  assert.ok(fromNode < SIZE, `the engine took ${fromNode} of ${SIZE} bytes from the daemon`);
  assert.ok(sender!.writableLength >= SIZE - fromNode, 'the rest waits in the daemon’s stream');
  const st = engine.stats();
  assert.ok(st.heldFromNode! <= window && st.maxConnHeld! <= window, `held ${st.heldFromNode}, at most ${st.maxConnHeld}`);
  const got: Buffer[] = [];
  client.on('data', (d: Buffer) => got.push(d));
  const closed = new Promise((r) => client.on('end', r));
  client.resume();
  await closed;
  assert.ok(Buffer.concat(got).equals(big));
  assert.equal(engine.stats().heldFromNode, 0);
});
