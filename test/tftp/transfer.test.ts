/**
 * The server and client transfer cores wired together in memory: a clock we advance, a link that can drop or
 * duplicate chosen packets, and the little bit of shell each side needs (the RRQ goes to the "main port").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TransferAction } from '../../src/tftp/core/actions.js';
import { ClientTransfer, type ClientTransferOptions } from '../../src/tftp/core/client-transfer.js';
import { ServerTransfer, defaultServerTransferLimits } from '../../src/tftp/core/server-transfer.js';
import { defaultNegotiationLimits, negotiate, type NegotiationLimits } from '../../src/tftp/core/options.js';
import { decodePacket, encodeError, encodeOack, encodeData, encodeAck, Opcode, type TftpPacket } from '../../src/tftp/core/packet.js';
import { toNetascii } from '../../src/tftp/core/netascii.js';

const MAIN = 69;
const TID = 4242;

interface Packet {
  dir: 'c2s' | 's2c';
  bytes: Buffer;
  port: number;
  /** Index of this packet among those sent in its direction. */
  n: number;
}

interface Sim {
  client: ClientTransfer;
  server: ServerTransfer | undefined;
  clientDone: Extract<TransferAction, { type: 'done' }> | undefined;
  serverDone: Extract<TransferAction, { type: 'done' }> | undefined;
  sent: Packet[];
  delivered: Packet[];
}

function run(
  file: Buffer,
  clientOpts: Omit<ClientTransferOptions, 'serverPort'>,
  link: {
    drop?: (p: Packet, decoded: TftpPacket) => boolean;
    dup?: (p: Packet, decoded: TftpPacket) => boolean;
    limits?: Partial<NegotiationLimits>;
    maxRetries?: number;
    refuseOptions?: boolean;
  } = {},
): Sim {
  let now = 1_000_000;
  const client = new ClientTransfer({ ...clientOpts, serverPort: MAIN });
  const sim: Sim = { client, server: undefined, clientDone: undefined, serverDone: undefined, sent: [], delivered: [] };
  const queue: Packet[] = [];
  let cDeadline = Infinity;
  let sDeadline = Infinity;
  const counts = { c2s: 0, s2c: 0 };
  const send = (dir: 'c2s' | 's2c', bytes: Buffer, port: number) => {
    const p: Packet = { dir, bytes, port, n: counts[dir]++ };
    sim.sent.push(p);
    const d = decodePacket(bytes);
    if (link.drop?.(p, d)) return;
    queue.push(p);
    if (link.dup?.(p, d)) queue.push({ ...p });
  };
  const onClient = (acts: TransferAction[]) => {
    for (const a of acts) {
      if (a.type === 'send') send('c2s', a.bytes, a.port ?? TID);
      else if (a.type === 'timer') cDeadline = a.at;
      else {
        sim.clientDone = a;
        cDeadline = Infinity;
      }
    }
  };
  const onServer = (acts: TransferAction[]) => {
    for (const a of acts) {
      if (a.type === 'send') send('s2c', a.bytes, a.port ?? 0);
      else if (a.type === 'timer') sDeadline = a.at;
      else {
        sim.serverDone = a;
        sDeadline = Infinity;
      }
    }
  };
  onClient(client.start(now));
  for (let steps = 0; steps < 5_000_000; steps++) {
    const p = queue.shift();
    if (p) {
      sim.delivered.push(p);
      if (p.dir === 'c2s' && p.port === MAIN) {
        const rrq = decodePacket(p.bytes);
        assert.equal(rrq.opcode, Opcode.RRQ);
        if (rrq.opcode !== Opcode.RRQ || sim.server) continue; // a retransmitted RRQ: the running transfer answers it
        if (link.refuseOptions && rrq.options.length > 0) {
          send('s2c', encodeError(8, 'options refused'), 0);
          continue;
        }
        const data = rrq.mode === 'netascii' ? toNetascii(file) : file;
        const { params, oack } = negotiate(rrq.options, data.length, { ...defaultNegotiationLimits, ...link.limits });
        sim.server = new ServerTransfer(data, params, oack, { ...defaultServerTransferLimits, maxRetries: link.maxRetries ?? 5 });
        onServer(sim.server.start(now));
      } else if (p.dir === 'c2s') onServer(sim.server!.receive(p.bytes, now));
      else onClient(client.receive(p.bytes, TID, now));
      continue;
    }
    const next = Math.min(cDeadline, sDeadline);
    if (next === Infinity) break;
    now = next;
    if (sDeadline <= now) {
      sDeadline = Infinity;
      if (sim.server) onServer(sim.server.timeout(now));
    }
    if (cDeadline <= now) {
      cDeadline = Infinity;
      onClient(client.timeout(now));
    }
  }
  return sim;
}

const dataSends = (sim: Sim) => sim.sent.filter((p) => p.dir === 's2c' && p.bytes.readUInt16BE(0) === Opcode.DATA);
const isData = (d: TftpPacket, block?: number) => d.opcode === Opcode.DATA && (block === undefined || d.block === block);
const isAck = (d: TftpPacket, block?: number) => d.opcode === Opcode.ACK && (block === undefined || d.block === block);

function assertOk(sim: Sim, file: Buffer) {
  assert.equal(sim.clientDone?.ok, true, `client: ${sim.clientDone?.reason}`);
  assert.equal(sim.serverDone?.ok, true, `server: ${sim.serverDone?.reason}`);
  assert.ok(sim.client.data().equals(file), 'bytes equal');
}

test('sizes around block boundaries, with and without options, no loss: no retransmissions', () => {
  for (const size of [0, 1, 511, 512, 513, 1024, 1427, 1428, 1429, 2856, 10_000]) {
    for (const request of [{}, { blksize: 1428, tsize: true }, { blksize: 8 }, { blksize: 1428, windowsize: 8, tsize: true }]) {
      const file = randomBytes(size);
      const sim = run(file, { filename: 'f', request });
      assertOk(sim, file);
      const bs = request.blksize ?? 512;
      assert.equal(dataSends(sim).length, Math.floor(size / bs) + 1, `size ${size} ${JSON.stringify(request)}`);
      assert.equal(sim.server!.retransmissions, 0);
      assert.equal(sim.client.retransmissions, 0);
      if ('tsize' in request) assert.equal(sim.client.tsize, size === 0 ? undefined : size);
    }
  }
});

test('a lost DATA block is sent again after the timeout', () => {
  const file = randomBytes(5000);
  const sim = run(file, { filename: 'f' }, { drop: (p, d) => p.dir === 's2c' && isData(d, 4) && p.n === 3 });
  assertOk(sim, file);
  assert.equal(sim.server!.retransmissions, 1);
});

test('a lost ACK: the server resends on timeout, the client ACKs the duplicate again', () => {
  const file = randomBytes(3000);
  let dropped = false;
  const sim = run(
    file,
    { filename: 'f', timeoutMs: 5000 },
    { drop: (p, d) => !dropped && p.dir === 'c2s' && isAck(d, 2) && (dropped = true) },
  );
  assertOk(sim, file);
  assert.equal(sim.server!.retransmissions, 1);
  assert.equal(sim.delivered.filter((p) => p.dir === 'c2s' && isAck(decodePacket(p.bytes), 2)).length, 1, 'the resent ACK 2 arrives');
});

test("Sorcerer's Apprentice: every ACK duplicated, every DATA block still sent exactly once", () => {
  for (const windowsize of [undefined, 4]) {
    const file = randomBytes(512 * 40 + 17);
    const sim = run(file, { filename: 'f', request: { windowsize } }, { dup: (p) => p.dir === 'c2s' });
    assertOk(sim, file);
    const blocks = dataSends(sim).map((p) => p.bytes.readUInt16BE(2));
    assert.equal(blocks.length, 41, `windowsize ${windowsize}: ${blocks.length} DATA sends for 41 blocks`);
    assert.equal(new Set(blocks).size, 41);
  }
});

test('duplicated DATA packets are acknowledged but do not corrupt the file', () => {
  const file = randomBytes(512 * 10 + 3);
  const sim = run(file, { filename: 'f' }, { dup: (p) => p.dir === 's2c' });
  assertOk(sim, file);
  assert.equal(dataSends(sim).length, 11, 'the server ignores the duplicate ACKs the duplicates cause');
});

test('windowsize 8: one ACK per window; a block lost mid-window restarts the window after the last in-order block (RFC 7440 §4)', () => {
  const file = randomBytes(512 * 64 + 100);
  const clean = run(file, { filename: 'f', request: { windowsize: 8 } });
  assertOk(clean, file);
  const acks = clean.sent.filter((p) => p.dir === 'c2s' && isAck(decodePacket(p.bytes)));
  assert.equal(acks.length, 1 + 8 + 1, 'ACK 0 for the OACK, one per full window, one for the last block');

  let dropped = false;
  const lossy = run(
    file,
    { filename: 'f', request: { windowsize: 8 } },
    { drop: (_p, d) => !dropped && isData(d, 13) && (dropped = true) },
  );
  assertOk(lossy, file);
  const nak = lossy.sent.find((p) => p.dir === 'c2s' && isAck(decodePacket(p.bytes), 12));
  assert.ok(nak, 'the client acknowledged block 12, the last in order');
  assert.ok(lossy.server!.retransmissions >= 1 && lossy.server!.retransmissions <= 8, `retransmissions ${lossy.server!.retransmissions}`);
});

test('windowsize with random loss both ways still delivers the exact bytes', () => {
  for (let seed = 1; seed <= 20; seed++) {
    let x = seed * 7919;
    const rnd = () => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const file = randomBytes(512 * 50 + seed);
    const sim = run(
      file,
      { filename: 'f', request: { windowsize: 1 + (seed % 8), blksize: 512 }, maxRetries: 20 },
      { drop: () => rnd() < 0.1, maxRetries: 20 },
    );
    assertOk(sim, file);
  }
});

test('timeout exhaustion: the server gives up after maxRetries, the client too', () => {
  const file = randomBytes(4000);
  const sim = run(
    file,
    { filename: 'f', maxRetries: 3 },
    { drop: (p, d) => p.dir === 's2c' && isData(d) && d.opcode === Opcode.DATA && d.block >= 3, maxRetries: 3 },
  );
  assert.equal(sim.serverDone?.ok, false);
  assert.match(sim.serverDone!.reason, /timed out after 3 retransmissions/);
  assert.equal(sim.server!.retransmissions, 3);
  assert.equal(sim.clientDone?.ok, false);
  assert.match(sim.clientDone!.reason, /timed out/);
});

test('a lost OACK is sent again; a lost RRQ is sent again by the client', () => {
  const file = randomBytes(2000);
  const sim = run(file, { filename: 'f', request: { blksize: 1024 } }, { drop: (p, d) => d.opcode === Opcode.OACK && p.n === 0 });
  assertOk(sim, file);
  assert.equal(sim.server!.retransmissions, 1);
  const sim2 = run(file, { filename: 'f' }, { drop: (p) => p.dir === 'c2s' && p.n === 0 });
  assertOk(sim2, file);
  assert.equal(sim2.client.retransmissions, 1);
});

test('block numbers roll over past 65535 (blksize 8, 65546 blocks), also with windowsize and loss at the wrap', () => {
  const file = randomBytes(8 * 65545 + 5);
  const sim = run(file, { filename: 'big', request: { blksize: 8 } });
  assertOk(sim, file);
  assert.equal(sim.server!.blockCount, 65546);
  const wire = dataSends(sim).map((p) => p.bytes.readUInt16BE(2));
  assert.deepEqual(wire.slice(65534, 65538), [65535, 0, 1, 2], 'after 65535 comes 0');

  let dropped = 0;
  const lossy = run(
    file,
    { filename: 'big', request: { blksize: 8, windowsize: 16 } },
    {
      drop: (_p, d) => d.opcode === Opcode.DATA && (d.block === 0 || d.block === 65535) && dropped < 2 && ++dropped > 0,
    },
  );
  assertOk(lossy, file);
  assert.equal(dropped, 2);
});

test('server refuses options with error 8: the client asks again without them and gets the file at blksize 512', () => {
  const file = randomBytes(1500);
  const sim = run(file, { filename: 'f', request: { blksize: 1428, tsize: true } }, { refuseOptions: true });
  assert.equal(sim.clientDone?.ok, true);
  assert.ok(sim.client.data().equals(file));
  assert.equal(sim.client.fellBack, true);
  assert.equal(sim.client.params.blksize, 512);
});

test('server ignores options (no OACK, DATA 1): the client uses RFC 1350 defaults', () => {
  const file = randomBytes(1500);
  const sim = run(file, { filename: 'f', request: { blksize: 1428 } }, { limits: { blksize: false } });
  assertOk(sim, file);
  assert.equal(sim.client.params.blksize, 512);
});

test('the client refuses an OACK granting more than asked: error 8 to the server, both sides end', () => {
  const client = new ClientTransfer({ filename: 'f', serverPort: MAIN, request: { blksize: 512 } });
  client.start(0);
  const acts = client.receive(encodeOack([['blksize', '1024']]), TID, 1);
  const sent = acts.find((a) => a.type === 'send');
  assert.ok(sent && sent.type === 'send');
  assert.deepEqual(decodePacket(sent.bytes), { opcode: 5, errorCode: 8, message: 'option blksize=1024 is outside 8..512' });
  assert.deepEqual(acts.at(-1), { type: 'done', ok: false, reason: 'option blksize=1024 is outside 8..512', tftpCode: 8 });

  const server = new ServerTransfer(
    Buffer.alloc(10),
    { blksize: 1024, windowsize: 1, timeoutS: undefined },
    [['blksize', '1024']],
    defaultServerTransferLimits,
  );
  server.start(0);
  assert.deepEqual(server.receive(sent.bytes, 1), [
    { type: 'done', ok: false, reason: 'client sent error 8: option blksize=1024 is outside 8..512', tftpCode: 8 },
  ]);
});

test('client: a packet from another TID gets error 5 and changes nothing', () => {
  const client = new ClientTransfer({ filename: 'f', serverPort: MAIN });
  client.start(0);
  client.receive(encodeData(1, Buffer.alloc(512)), TID, 1);
  const acts = client.receive(encodeData(2, Buffer.alloc(3)), TID + 1, 2);
  assert.equal(acts.length, 1);
  const a = acts[0]!;
  assert.ok(a.type === 'send' && a.port === TID + 1);
  assert.deepEqual(decodePacket(a.bytes), { opcode: 5, errorCode: 5, message: 'unknown transfer ID' });
  assert.equal(client.state, 'data');
  const done = client.receive(encodeData(2, Buffer.alloc(3)), TID, 3);
  assert.deepEqual(done.at(-1), { type: 'done', ok: true, reason: 'complete' });
  assert.equal(client.data().length, 515);
  // Dally: the last block again is acknowledged again.
  const again = client.receive(encodeData(2, Buffer.alloc(3)), TID, 4);
  assert.ok(again[0]?.type === 'send' && again[0].bytes.equals(encodeAck(2)));
});

test('client: tsize that disagrees with the bytes received fails the transfer', () => {
  const client = new ClientTransfer({ filename: 'f', serverPort: MAIN, request: { tsize: true } });
  client.start(0);
  client.receive(encodeOack([['tsize', '10']]), TID, 1);
  const acts = client.receive(encodeData(1, Buffer.alloc(9)), TID, 2);
  assert.equal(acts.at(-1)?.type === 'done' && acts.at(-1)?.type, 'done');
  assert.match(JSON.stringify(acts.at(-1)), /announced tsize 10/);
});

test('client: maxBytes bound (tsize and received) → error 3', () => {
  const c1 = new ClientTransfer({ filename: 'f', serverPort: MAIN, request: { tsize: true }, maxBytes: 100 });
  c1.start(0);
  const a1 = c1.receive(encodeOack([['tsize', '101']]), TID, 1);
  assert.ok(a1[0]?.type === 'send' && decodePacket(a1[0].bytes).opcode === Opcode.ERROR && a1[0].bytes.readUInt16BE(2) === 3);
  const c2 = new ClientTransfer({ filename: 'f', serverPort: MAIN, maxBytes: 600 });
  c2.start(0);
  c2.receive(encodeData(1, Buffer.alloc(512)), TID, 1);
  const a2 = c2.receive(encodeData(2, Buffer.alloc(512)), TID, 2);
  assert.equal(a2[0]?.type === 'send' && a2[0].bytes.readUInt16BE(2), 3);
  assert.equal(c2.state, 'done');
});

test('server: malformed or unexpected packets from the peer → error 4 and the transfer ends; stale ACKs are ignored', () => {
  const mk = () => {
    const s = new ServerTransfer(Buffer.alloc(2000), { blksize: 512, windowsize: 1, timeoutS: undefined }, [], defaultServerTransferLimits);
    s.start(0);
    return s;
  };
  for (const bad of [Buffer.from([0, 4, 0]), encodeData(1, Buffer.alloc(1)), Buffer.from([0, 9])]) {
    const s = mk();
    const acts = s.receive(bad, 1);
    assert.ok(acts[0]?.type === 'send' && acts[0].bytes.readUInt16BE(2) === 4, bad.toString('hex'));
    assert.equal(acts[1]?.type, 'done');
    assert.equal(s.state, 'done');
  }
  const s = mk();
  assert.deepEqual(s.receive(encodeAck(0), 1), [], 'duplicate of the block before the window');
  assert.deepEqual(s.receive(encodeAck(7), 1), [], 'ACK of a block never sent');
  assert.equal(s.state, 'data');
});

test('netascii end to end through the cores', () => {
  const file = Buffer.from('line one\nline two\r\nend\n'.repeat(100));
  const sim = run(file, { filename: 't.txt', mode: 'netascii' });
  assert.equal(sim.clientDone?.ok, true);
  assert.ok(sim.client.data().equals(file));
});
