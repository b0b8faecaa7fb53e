/**
 * Issue 16, row 12: one spoofed TFTP request held a transfer slot for ~25 min (timeout=255 × 5 retries), block 1
 * went 6 times to a source that never acknowledged anything, and the per-client cap, keyed on the spoofable
 * source address, let spoofed RRQs lock a phone out.
 *
 * Both engines (the TypeScript server and the native data plane) with real sockets on loopback; the assertions
 * count packets and read the servers' counters (no timing assertions). A spoof is played by sockets that never
 * acknowledge: on loopback they share the phone's address, which is exactly what a forged source would.
 * The sans-I/O core is checked with a fake clock first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodePacket, encodeAck, encodeError, encodeRequest, Opcode, type TftpPacket } from '../../src/tftp/core/packet.js';
import { defaultNegotiationLimits, negotiate } from '../../src/tftp/core/options.js';
import { ServerTransfer, defaultServerTransferLimits } from '../../src/tftp/core/server-transfer.js';
import type { TransferAction } from '../../src/tftp/core/actions.js';
import { TftpServer, type TftpServerOptions } from '../../src/tftp/server.js';
import { NativeTftpServer } from '../../src/tftp/native-server.js';
import { FolderFileSource } from '../../src/tftp/file-source.js';
import { fetchFile } from '../../src/tftp/client.js';
import { createLogger } from '../../src/lib/log.js';

const sends = (acts: TransferAction[]) => acts.filter((a) => a.type === 'send').length;
const timerAt = (acts: TransferAction[]) => acts.find((a) => a.type === 'timer')?.at;

test('core (fake clock): timeout=255 is declined, block 1 goes twice to a silent source, the lifetime ends a trickling transfer', () => {
  const declined = negotiate(
    [
      ['timeout', '255'],
      ['blksize', '1428'],
    ],
    1000,
    defaultNegotiationLimits,
  );
  assert.deepEqual(declined.oack, [['blksize', '1428']], 'timeout=255 is left out of the OACK (RFC 2349: equal or declined)');
  assert.equal(declined.params.timeoutS, undefined);
  assert.deepEqual(negotiate([['timeout', '10']], 1000, defaultNegotiationLimits).oack, [['timeout', '10']]);

  // A source that never ACKs: block 1 at 0, once more at 1000, then the slot is free at 2000.
  const silent = new ServerTransfer(
    Buffer.alloc(600),
    { blksize: 512, windowsize: 1, timeoutS: undefined },
    [],
    defaultServerTransferLimits,
  );
  let now = 0;
  let acts = silent.start(now);
  let packets = sends(acts);
  while (silent.state !== 'done') {
    now = timerAt(acts)!;
    acts = silent.timeout(now);
    packets += sends(acts);
  }
  assert.equal(packets, 2, 'block 1 sent once and resent once');
  assert.equal(now, 2000, 'slot held 2 s, not 6');

  // A verified peer that ACKs each block just before the timer would fire: the lifetime still ends it.
  const blocks = 2000;
  const slow = new ServerTransfer(
    Buffer.alloc(512 * blocks),
    { blksize: 512, windowsize: 1, timeoutS: undefined },
    [],
    defaultServerTransferLimits,
  );
  now = 0;
  acts = slow.start(now);
  let block = 1;
  let done: TransferAction | undefined;
  while (!done) {
    const at = timerAt(acts)!;
    if (at - now === 1000) {
      now = at - 1;
      acts = slow.receive(encodeAck(block++), now);
    } else {
      now = at;
      acts = slow.timeout(now);
    }
    done = acts.find((a) => a.type === 'done');
  }
  assert.deepEqual(done, { type: 'done', ok: false, reason: 'transfer lifetime of 120000 ms exceeded', tftpCode: 0, expired: true });
  assert.equal(now, 120_000);
  assert.ok(block < blocks);
});

type Engine = 'node' | 'native';
const engines: Engine[] = NativeTftpServer.available() ? ['node', 'native'] : ['node'];

interface Fixture {
  server: TftpServer | NativeTftpServer;
  port: number;
  close(): Promise<void>;
}

async function start(engine: Engine, files: Record<string, Buffer>, options: Partial<TftpServerOptions> = {}): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'sbd-row12-'));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
  const o: TftpServerOptions = {
    source: new FolderFileSource(root),
    port: 0,
    addresses: ['127.0.0.1'],
    logger: createLogger('tftpd', { write: () => {} }),
    ...options,
  };
  const server = engine === 'native' ? new NativeTftpServer(o) : new TftpServer(o);
  await server.listen();
  return {
    server,
    port: server.port,
    close: async () => {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Polls the server's counters until `ready` holds (a bound on waiting, not an assertion on time). */
async function until(f: Fixture, ready: (c: TftpServer['counters']) => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    await f.server.sync();
    if (ready(f.server.counters)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`gave up waiting for ${what}: ${JSON.stringify(f.server.counters)}`);
}

/** A UDP peer on loopback that records every packet it gets and answers only when told to. */
async function peer(): Promise<{
  socket: dgram.Socket;
  got: { packet: TftpPacket; port: number }[];
  next(): Promise<{ packet: TftpPacket; port: number }>;
}> {
  const socket = dgram.createSocket('udp4');
  const got: { packet: TftpPacket; port: number }[] = [];
  let waiter: (() => void) | undefined;
  socket.on('message', (m, r) => {
    got.push({ packet: decodePacket(m), port: r.port });
    waiter?.();
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  let read = 0;
  const next = async () => {
    while (got.length <= read) await new Promise<void>((r) => (waiter = r));
    return got[read++]!;
  };
  return { socket, got, next };
}

for (const engine of engines) {
  test(`${engine}: an RRQ asking timeout=255 gets an OACK without it; timeout=10 is granted`, async () => {
    const f = await start(engine, { f: randomBytes(3000) });
    try {
      for (const [asked, granted] of [
        ['255', undefined],
        ['11', undefined],
        ['10', '10'],
      ] as const) {
        const p = await peer();
        p.socket.send(
          encodeRequest(Opcode.RRQ, 'f', 'octet', [
            ['timeout', asked],
            ['blksize', '1024'],
          ]),
          f.port,
          '127.0.0.1',
        );
        const { packet, port } = await p.next();
        assert.equal(packet.opcode, Opcode.OACK);
        const options = packet.opcode === Opcode.OACK ? Object.fromEntries(packet.options) : {};
        assert.equal(options.timeout, granted, `timeout=${asked}`);
        assert.equal(options.blksize, '1024');
        p.socket.send(encodeError(0, 'done'), port, '127.0.0.1');
        p.socket.close();
      }
    } finally {
      await f.close();
    }
  });

  test(`${engine}: a source that never ACKs gets block 1 (or the OACK) twice, then the slot is free`, async () => {
    const f = await start(engine, { f: randomBytes(3000) }, { timeoutMs: 50 });
    try {
      const plain = await peer();
      plain.socket.send(encodeRequest(Opcode.RRQ, 'f', 'octet'), f.port, '127.0.0.1');
      await until(f, (c) => c.transfersFailed === 1, 'the unverified transfer to end');
      const withOptions = await peer();
      withOptions.socket.send(
        encodeRequest(Opcode.RRQ, 'f', 'octet', [
          ['blksize', '1428'],
          ['tsize', '0'],
        ]),
        f.port,
        '127.0.0.1',
      );
      await until(f, (c) => c.transfersFailed === 2, 'the second unverified transfer to end');
      assert.deepEqual(
        plain.got.map((g) => g.packet.opcode === Opcode.DATA && g.packet.block),
        [1, 1],
        'DATA 1, resent once',
      );
      assert.deepEqual(
        withOptions.got.map((g) => g.packet.opcode),
        [Opcode.OACK, Opcode.OACK],
        'OACK, resent once',
      );
      assert.equal(f.server.counters.retransmissions, 2);
      assert.equal(f.server.activeTransfers, 0);
      plain.socket.close();
      withOptions.socket.close();
    } finally {
      await f.close();
    }
  });

  test(`${engine}: a peer that ACKed block 1 is verified and gets the full retries for block 2`, async () => {
    const f = await start(engine, { f: randomBytes(600) }, { timeoutMs: 200 });
    try {
      const p = await peer();
      p.socket.send(encodeRequest(Opcode.RRQ, 'f', 'octet'), f.port, '127.0.0.1');
      const first = await p.next();
      p.socket.send(encodeAck(1), first.port, '127.0.0.1');
      await until(f, (c) => c.transfersFailed === 1, 'the transfer to time out');
      const blocks = p.got.map((g) => g.packet.opcode === Opcode.DATA && g.packet.block);
      assert.equal(blocks.filter((b) => b === 2).length, 6, `block 2 sent once and resent maxRetries (5) times: ${blocks}`);
      assert.ok(blocks.filter((b) => b === 1).length <= 2);
      p.socket.close();
    } finally {
      await f.close();
    }
  });

  test(`${engine}: a transfer that trickles (each ACK only after a resend) ends at maxTransferLifetimeMs`, async () => {
    const blocks = 100;
    const f = await start(engine, { f: randomBytes(512 * blocks) }, { timeoutMs: 200, maxTransferLifetimeMs: 2000 });
    try {
      const p = await peer();
      const seen = new Map<number, number>();
      p.socket.on('message', (m, r) => {
        const d = decodePacket(m);
        if (d.opcode !== Opcode.DATA) return;
        const n = (seen.get(d.block) ?? 0) + 1;
        seen.set(d.block, n);
        // Block 1 at once (the peer is verified), later blocks only once they came a second time.
        if (d.block === 1 || n === 2) p.socket.send(encodeAck(d.block), r.port, '127.0.0.1');
      });
      p.socket.send(encodeRequest(Opcode.RRQ, 'f', 'octet'), f.port, '127.0.0.1');
      await until(f, (c) => c.transfersFailed + c.transfersCompleted === 1, 'the transfer to end');
      assert.equal(f.server.counters.transfersCompleted, 0);
      assert.equal(f.server.counters.lifetimeExpired, 1);
      assert.ok(seen.size < blocks, `${seen.size} of ${blocks} blocks sent before the lifetime ended it`);
      p.socket.close();
    } finally {
      await f.close();
    }
  });

  test(`${engine}: 16 spoofed RRQs bearing the phone's address do not lock the phone out`, async () => {
    const file = randomBytes(5000);
    // A long retransmission timeout: the spoofed transfers would hold their slots for the whole test.
    const f = await start(engine, { f: file }, { timeoutMs: 5000 });
    try {
      const spoofs = [];
      for (let i = 0; i < 16; i++) {
        const s = await peer();
        s.socket.send(encodeRequest(Opcode.RRQ, 'f', 'octet'), f.port, '127.0.0.1');
        spoofs.push(s);
      }
      await until(f, (c) => c.requests === 16, 'the spoofed requests');
      const r = await fetchFile({ server: '127.0.0.1', port: f.port, name: 'f', retries: 0, timeoutMs: 3000 });
      assert.ok(r.data.equals(file));
      await until(f, (c) => c.transfersCompleted === 1, 'the server to see the final ACK');
      assert.equal(f.server.counters.busyDrops, 0, 'the phone was not dropped');
      // Spoofs 9..16 each pushed out the oldest unverified one (maxUnverifiedPerClient 8), the phone one more.
      assert.equal(f.server.counters.unverifiedEvicted, 9);
      for (const s of spoofs) s.socket.close();
    } finally {
      await f.close();
    }
  });
}
