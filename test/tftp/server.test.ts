/**
 * sbd-tftpd's shell on real loopback sockets: TIDs, limits, duplicate requests, the folder source's confinement,
 * log lines and counters.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TftpErrorCode } from '../../src/tftp/core/errors.js';
import { decodePacket, encodeAck, encodeRequest, Opcode, type TftpPacket } from '../../src/tftp/core/packet.js';
import { fetchFile, TftpClientPool } from '../../src/tftp/client.js';
import { portOf, standardFiles, startFixture, type Fixture } from './helpers.js';

let fx: Fixture;
before(async () => {
  fx = await startFixture(standardFiles(), { timeoutMs: 200, maxRetries: 2, maxTransfersPerClient: 4 });
  writeFileSync(join(fx.root, '..', `${fx.root.split('/').pop()}-secret`), 'outside');
  symlinkSync(join(fx.root, '..', `${fx.root.split('/').pop()}-secret`), join(fx.root, 'escape.txt'));
  symlinkSync('CTLSEP001122334455.tlv', join(fx.root, 'inside-link.tlv'));
  mkdirSync(join(fx.root, 'adir'));
});
after(() => fx.close());

/** A raw UDP peer that collects what it receives. */
async function rawPeer(address = '127.0.0.1') {
  // Binds to `address`, talks to the server on 127.0.0.1.
  const socket = dgram.createSocket('udp4');
  const inbox: { packet: TftpPacket; port: number }[] = [];
  let waiter: (() => void) | undefined;
  socket.on('message', (msg, rinfo) => {
    inbox.push({ packet: decodePacket(msg), port: rinfo.port });
    waiter?.();
  });
  socket.bind(0, address);
  await once(socket, 'listening');
  const next = async (): Promise<{ packet: TftpPacket; port: number }> => {
    while (inbox.length === 0) await new Promise<void>((r) => (waiter = r));
    return inbox.shift()!;
  };
  const send = (bytes: Buffer, port: number) => socket.send(bytes, port, '127.0.0.1');
  return { socket, next, send, inbox };
}

test('a datagram from an unknown TID gets error 5 and the transfer goes on to the exact bytes', async () => {
  const port = portOf(fx.server, 'IPv4');
  const victim = await rawPeer();
  const intruder = await rawPeer();
  victim.send(encodeRequest(Opcode.RRQ, 'f4097.bin', 'octet'), port);
  const first = await victim.next();
  assert.equal(first.packet.opcode, Opcode.DATA);
  const tid = first.port;
  assert.notEqual(tid, port, 'the transfer runs from its own port (RFC 1350 §4)');
  await fx.server.sync();
  const before = fx.server.counters.unknownTid;
  intruder.send(encodeAck(1), tid);
  const answer = await intruder.next();
  assert.deepEqual(answer.packet, { opcode: Opcode.ERROR, errorCode: 5, message: 'unknown transfer ID' });
  assert.equal(answer.port, tid);
  await fx.server.sync();
  assert.equal(fx.server.counters.unknownTid, before + 1);
  const chunks: Buffer[] = [];
  let p = first;
  for (;;) {
    assert.equal(p.packet.opcode, Opcode.DATA);
    if (p.packet.opcode !== Opcode.DATA) break;
    chunks.push(p.packet.data);
    victim.send(encodeAck(p.packet.block), tid);
    if (p.packet.data.length < 512) break;
    p = await victim.next();
  }
  assert.ok(Buffer.concat(chunks).equals(fx.files.get('f4097.bin')!));
  victim.socket.close();
  intruder.socket.close();
});

test('transfer sockets are pooled: the peer just served is ignored while its port rests, others get error 5, then the port serves a new transfer', async () => {
  const own = await startFixture(standardFiles(), { addresses: ['127.0.0.1'], tidReuseDelayMs: 200, maxIdleSockets: 2 });
  try {
    const port = own.server.port;
    /** Fetch f1024.bin (3 blocks of 512) by hand; returns the server's TID. */
    const fetch = async (peer: Awaited<ReturnType<typeof rawPeer>>): Promise<number> => {
      peer.send(encodeRequest(Opcode.RRQ, 'f1024.bin', 'octet'), port);
      const chunks: Buffer[] = [];
      let tid = 0;
      for (let block = 1; block <= 3; block++) {
        const p = await peer.next();
        assert.ok(p.packet.opcode === Opcode.DATA && p.packet.block === block, JSON.stringify(p.packet));
        if (p.packet.opcode !== Opcode.DATA) break;
        tid = p.port;
        chunks.push(p.packet.data);
        peer.send(encodeAck(block), tid);
      }
      assert.ok(Buffer.concat(chunks).equals(own.files.get('f1024.bin')!));
      return tid;
    };
    const first = await rawPeer();
    const other = await rawPeer('127.0.0.9');
    const tid = await fetch(first);
    while ((await own.server.sync(), own.server.activeTransfers) > 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(own.server.transferSockets, 1);
    assert.equal(own.server.idleSockets, 0, 'resting, not free yet');
    // The peer just served repeats its final ACK: dropped quietly. Anyone else at that port: error 5.
    const before = own.server.counters.unknownTid;
    first.send(encodeAck(3), tid);
    other.send(encodeAck(3), tid);
    const answer = await other.next();
    assert.deepEqual(answer.packet, { opcode: Opcode.ERROR, errorCode: 5, message: 'unknown transfer ID' });
    assert.equal(answer.port, tid);
    await own.server.sync();
    assert.equal(own.server.counters.unknownTid, before + 1, 'only the stranger was answered');
    assert.equal(first.inbox.length, 0);
    // After the rest the same port serves the next transfer (one socket in the pool), as a fresh TID.
    while ((await own.server.sync(), own.server.idleSockets) < 1) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await fetch(other), tid);
    // A free socket answers anyone with error 5 once its rest is over, the peer it served included.
    while ((await own.server.sync(), own.server.idleSockets) < 1) await new Promise((r) => setTimeout(r, 20));
    first.send(encodeAck(3), tid);
    assert.equal((await first.next()).packet.opcode, Opcode.ERROR);
    // maxIdleSockets bounds what stays open: five transfers at once need five sockets, two remain.
    const peers = await Promise.all([1, 2, 3, 4, 5].map((i) => rawPeer(`127.0.1.${i}`)));
    await Promise.all(peers.map((p) => fetch(p)));
    await own.server.sync();
    assert.ok(own.server.transferSockets >= 5);
    while ((await own.server.sync(), own.server.transferSockets) > 2) await new Promise((r) => setTimeout(r, 20));
    assert.equal(own.server.idleSockets, 2);
    for (const p of [first, other, ...peers]) p.socket.close();
  } finally {
    await own.close();
  }
});

test('a peer that goes away mid-transfer: retransmissions to the retry bound, a timeout, and the socket serves again', async () => {
  // The native data plane connects its transfer socket to the peer; a closed peer port then comes back as ICMP port
  // unreachable (ECONNREFUSED on the next send). That must stay a lost packet, as on an unconnected socket.
  const own = await startFixture(standardFiles(), { addresses: ['127.0.0.1'], timeoutMs: 50, maxRetries: 3, tidReuseDelayMs: 20 });
  try {
    const port = own.server.port;
    const gone = await rawPeer();
    gone.send(encodeRequest(Opcode.RRQ, 'f4097.bin', 'octet'), port);
    const first = await gone.next();
    assert.equal(first.packet.opcode, Opcode.DATA);
    // Block 1 acknowledged: the peer is verified, so block 2 gets the full maxRetries (not maxRetriesUnverified).
    gone.send(encodeAck(1), first.port);
    assert.ok((await gone.next()).packet.opcode === Opcode.DATA);
    gone.socket.close();
    while ((await own.server.sync(), own.server.activeTransfers) > 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(own.server.counters.transfersFailed, 1);
    const failed = own.logLines.filter((l) => l.event === 'transfer-failed');
    assert.deepEqual(
      failed.map((l) => l.reason),
      ['timed out after 3 retransmissions'],
    );
    assert.equal(own.logLines.filter((l) => l.event === 'transfer-socket-error').length, 0);
    assert.equal(own.server.transferSockets, 1, 'the socket is kept, not closed as broken');
    // After its rest the same port (same TID socket) serves the next peer to the exact bytes.
    while ((await own.server.sync(), own.server.idleSockets) < 1) await new Promise((r) => setTimeout(r, 10));
    const next = await rawPeer();
    next.send(encodeRequest(Opcode.RRQ, 'f1024.bin', 'octet'), port);
    const chunks: Buffer[] = [];
    for (;;) {
      const p = await next.next();
      assert.equal(p.port, first.port);
      if (p.packet.opcode !== Opcode.DATA) assert.fail(JSON.stringify(p.packet));
      chunks.push(p.packet.data);
      next.send(encodeAck(p.packet.block), p.port);
      if (p.packet.data.length < 512) break;
    }
    assert.ok(Buffer.concat(chunks).equals(own.files.get('f1024.bin')!));
    next.socket.close();
  } finally {
    await own.close();
  }
});

test('maxIdleSockets 0: every transfer socket is closed when its transfer ends', async () => {
  const own = await startFixture(standardFiles(), { addresses: ['127.0.0.1'], maxIdleSockets: 0 });
  try {
    const r = await fetchFile({ server: '127.0.0.1', port: own.server.port, name: 'f4097.bin', blksize: 1428 });
    assert.ok(r.data.equals(own.files.get('f4097.bin')!));
    while ((await own.server.sync(), own.server.activeTransfers) > 0) await new Promise((res) => setTimeout(res, 5));
    assert.equal(own.server.transferSockets, 0);
  } finally {
    await own.close();
  }
});

test('a retransmitted RRQ does not start a second transfer', async () => {
  const port = portOf(fx.server, 'IPv4');
  const peer = await rawPeer();
  await fx.server.sync();
  const before = fx.server.counters.duplicateRequests;
  const rrq = encodeRequest(Opcode.RRQ, 'f1024.bin', 'octet');
  peer.send(rrq, port);
  const first = await peer.next();
  peer.send(rrq, port);
  peer.send(encodeAck(1), first.port);
  const second = await peer.next();
  assert.equal(second.port, first.port);
  assert.ok(second.packet.opcode === Opcode.DATA && second.packet.block === 2);
  peer.send(encodeAck(2), first.port);
  const third = await peer.next();
  assert.ok(third.packet.opcode === Opcode.DATA && third.packet.block === 3 && third.packet.data.length === 0);
  peer.send(encodeAck(3), first.port);
  await fx.server.sync();
  assert.equal(fx.server.counters.duplicateRequests, before + 1);
  peer.socket.close();
});

test('maxTransfersPerClient: requests over the limit of verified transfers are dropped (no reply); the client retries and gets through', async () => {
  const port = portOf(fx.server, 'IPv4');
  const hold = await rawPeer('127.0.0.7');
  // Four transfers whose block 1 we acknowledge (so they are verified: a new request cannot evict them) and then
  // stall hold the client's four slots until they time out (200 ms × 2).
  for (const name of ['f512.bin', 'f513.bin', 'f1024.bin', 'f1428.bin']) hold.send(encodeRequest(Opcode.RRQ, name, 'octet'), port);
  const acked = new Set<number>();
  while (acked.size < 4) {
    for (const m of hold.inbox) {
      if (m.packet.opcode === Opcode.DATA && m.packet.block === 1 && !acked.has(m.port)) {
        acked.add(m.port);
        hold.send(encodeAck(1), m.port);
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  while (hold.inbox.filter((m) => m.packet.opcode === Opcode.DATA && m.packet.block === 2).length < 4)
    await new Promise((r) => setTimeout(r, 5));
  await fx.server.sync();
  const drops = fx.server.counters.busyDrops;
  const r = await fetchFile({ server: '127.0.0.1', port, name: 'f511.bin', timeoutMs: 300, retries: 10, localAddress: '127.0.0.7' });
  assert.ok(r.data.equals(fx.files.get('f511.bin')!));
  await fx.server.sync();
  assert.ok(fx.server.counters.busyDrops > drops, 'at least one request was dropped');
  assert.ok(r.retransmissions >= 1);
  assert.ok(fx.logLines.some((l) => l.event === 'request-dropped' && l.reason === 'maxTransfersPerClient'));
  hold.socket.close();
});

test('folder source: symlink out of the root and directories are refused with error 2, a symlink inside is served', async () => {
  const port = portOf(fx.server, 'IPv4');
  // The client's error carries the server's ERROR: its number and (RFC 1350 §5) its text, which is the wire contract.
  await assert.rejects(fetchFile({ server: '127.0.0.1', port, name: 'escape.txt' }), {
    code: 'ERR_TFTP_TRANSFER',
    tftpCode: TftpErrorCode.accessViolation,
    message: /server error 2: "escape.txt" resolves outside the TFTP root/,
  });
  await assert.rejects(fetchFile({ server: '127.0.0.1', port, name: 'adir' }), {
    code: 'ERR_TFTP_TRANSFER',
    tftpCode: TftpErrorCode.accessViolation,
    message: /server error 2: "adir" is a directory/,
  });
  await assert.rejects(fetchFile({ server: '127.0.0.1', port, name: 'adir/x' }), {
    code: 'ERR_TFTP_NOT_FOUND',
    tftpCode: TftpErrorCode.fileNotFound,
    message: /server error 1: file not found/,
  });
  const r = await fetchFile({ server: '127.0.0.1', port, name: 'inside-link.tlv' });
  assert.ok(r.data.equals(fx.files.get('CTLSEP001122334455.tlv')!));
});

test('bad requests: mode, options, length → the proper error code and one log line each', async () => {
  const port = portOf(fx.server, 'IPv4');
  const peer = await rawPeer();
  const cases: [Buffer, number, RegExp][] = [
    [encodeRequest(Opcode.RRQ, 'f1.bin', 'mail'), 4, /transfer mode "mail" is not supported/],
    [encodeRequest(Opcode.RRQ, 'f1.bin', 'octet', [['blksize', '4']]), 8, /blksize=4 is outside 8..65464/],
    [
      encodeRequest(Opcode.RRQ, 'f1.bin', 'octet', [
        ['tsize', '0'],
        ['tsize', '0'],
      ]),
      8,
      /tsize appears twice/,
    ],
    [encodeRequest(Opcode.WRQ, 'f1.bin', 'octet'), 2, /write requests are refused/],
    [encodeRequest(Opcode.RRQ, 'x'.repeat(600), 'octet'), 4, /request of 609 bytes is longer than 512/],
    [encodeRequest(Opcode.RRQ, 'x'.repeat(300), 'octet'), 2, /file name of 300 bytes is longer than 255/],
    [Buffer.from([0, 1, 0x61]), 4, /file name is not NUL-terminated/],
  ];
  for (const [bytes, code, re] of cases) {
    await fx.server.sync(); // the native server's log lines arrive over its control socket, before its counters
    const before = fx.logLines.length;
    peer.send(bytes, port);
    const { packet } = await peer.next();
    await fx.server.sync();
    assert.ok(packet.opcode === Opcode.ERROR, re.source);
    assert.equal(packet.errorCode, code, packet.message);
    assert.match(packet.message, re);
    const lines = fx.logLines.slice(before).filter((l) => l.event === 'request-refused');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.tftpCode, code);
  }
  peer.socket.close();
});

test('client pool: 300 downloads over 8 sockets, IPv4 and IPv6, options mixed, all bytes exact', async () => {
  // Its own server with the default limits (16 transfers per client address): 8 sockets × 1 transfer fit.
  const own = await startFixture(standardFiles());
  try {
    for (const family of ['IPv4', 'IPv6'] as const) {
      const pool = new TftpClientPool({
        sockets: 8,
        family,
        maxTransfersPerSocket: 1,
        localAddresses: [family === 'IPv6' ? '::1' : '127.0.0.9'],
      });
      const server = family === 'IPv6' ? '::1' : '127.0.0.1';
      const port = portOf(own.server, family);
      const big = await fetchFile({ server, port, name: 'big.bin', blksize: 1428, windowsize: 8, tsize: true });
      assert.ok(big.data.equals(own.files.get('big.bin')!));
      const names = ['CTLSEP001122334455.tlv', 'ITLSEP001122334455.tlv', 'SEP001122334455.cnf.xml.sgn'];
      const jobs = Array.from({ length: 300 }, (_, i) => {
        const name = names[i % 3]!;
        const opts = i % 2 ? { blksize: 1428, tsize: true } : i % 5 ? {} : { blksize: 512, windowsize: 4 };
        return pool.fetch({ server, port, name, ...opts }).then((r) => assert.ok(r.data.equals(own.files.get(name)!), name));
      });
      await Promise.all(jobs);
      await pool.close();
    }
    while ((await own.server.sync(), own.server.activeTransfers) > 0) await new Promise((r) => setTimeout(r, 10)); // the last final ACKs
    assert.equal(own.server.counters.transfersCompleted, 602);
  } finally {
    await own.close();
  }
});

test('counters and bound state after the suite', async () => {
  await fx.server.sync();
  const c = fx.server.counters;
  assert.equal(c.transfersStarted, c.transfersCompleted + c.transfersFailed + fx.server.activeTransfers);
  assert.ok(c.errorsSent[5]! >= 1 && c.errorsSent[2]! >= 3 && c.errorsSent[8]! >= 2 && c.errorsSent[4]! >= 3 && c.errorsSent[1]! >= 1);
});

test('folder source cache: within cacheTtlMs the same bytes, after it the new ones; errors are not cached; the byte bound holds', async () => {
  const { FolderFileSource } = await import('../../src/tftp/file-source.js');
  let now = 0;
  const src = new FolderFileSource(fx.root, { cacheTtlMs: 1000, maxCacheBytes: 3000, clock: { now: () => now } });
  writeFileSync(join(fx.root, 'cached.txt'), 'one');
  assert.equal((await src.open('cached.txt')).toString(), 'one');
  writeFileSync(join(fx.root, 'cached.txt'), 'two');
  now = 999;
  assert.equal((await src.open('cached.txt')).toString(), 'one');
  now = 1000;
  assert.equal((await src.open('cached.txt')).toString(), 'two');
  await assert.rejects(async () => src.open('later.txt'), { code: 'ERR_TFTP_NOT_FOUND' });
  writeFileSync(join(fx.root, 'later.txt'), 'here');
  assert.equal((await src.open('later.txt')).toString(), 'here');
  // 2856 + 1428 > 3000: the older entry leaves.
  await src.open('f2856.bin');
  await src.open('f1428.bin');
  writeFileSync(join(fx.root, 'f2856.bin'), 'changed');
  assert.equal((await src.open('f2856.bin')).toString(), 'changed', 'evicted, so read again');
  writeFileSync(join(fx.root, 'f2856.bin'), fx.files.get('f2856.bin')!);
});

test('folder source: files over syncReadMaxBytes are read asynchronously with the same bytes and the same refusals', async () => {
  const { FolderFileSource } = await import('../../src/tftp/file-source.js');
  const sync = new FolderFileSource(fx.root);
  const small = sync.open('f4097.bin');
  assert.ok(Buffer.isBuffer(small), 'a small file is answered synchronously');
  assert.deepEqual(small, fx.files.get('f4097.bin'));
  const asyncSource = new FolderFileSource(fx.root, { syncReadMaxBytes: 1000 });
  const big = asyncSource.open('big.bin');
  assert.ok(big instanceof Promise, 'a file over syncReadMaxBytes is read asynchronously');
  assert.deepEqual(await big, fx.files.get('big.bin'));
  assert.deepEqual(await asyncSource.open('f1024.bin'), fx.files.get('f1024.bin'));
  assert.deepEqual(await asyncSource.open('f0.bin'), Buffer.alloc(0));
  await assert.rejects(async () => asyncSource.open('adir'), { code: 'ERR_TFTP_ACCESS', message: /is a directory/ });
  await assert.rejects(async () => asyncSource.open('escape.txt'), { code: 'ERR_TFTP_ACCESS', message: /resolves outside the TFTP root/ });
  await assert.rejects(async () => new FolderFileSource(join(fx.root, 'no-such-root')).open('f1.bin'), { code: 'ERR_TFTP_ROOT' });
});
