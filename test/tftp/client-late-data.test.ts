/**
 * The client pool and a server's late last DATA: a server that did not see our final ACK sends its last block
 * again, sometimes seconds later under load. bench/cluster caught the pool taking that packet for the first reply
 * of the next request on the same socket: a phone got ITLFile.tlv's bytes as its config. A scripted server on
 * loopback (real UDP sockets) replays exactly that order of packets.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { TftpClientPool } from '../../src/tftp/client.js';
import { decodePacket, encodeData, encodeError } from '../../src/tftp/core/packet.js';

const A = Buffer.from('first file: one short block');
const B = Buffer.from('second file, not the first');

async function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** A server on `requests` that answers A from `tidA`, and B from `tidB` only after replaying A's last DATA. */
async function scriptedServer(opts: { replayDelayMs: number }) {
  const requests = await bound();
  const tidA = await bound();
  const tidB = await bound();
  const acks: { tid: 'A' | 'B'; block: number }[] = [];
  for (const [tid, s] of [
    ['A', tidA],
    ['B', tidB],
  ] as const)
    s.on('message', (m) => {
      const p = decodePacket(m);
      if (p.opcode === 4) acks.push({ tid, block: p.block });
    });
  requests.on('message', (m, rinfo) => {
    const p = decodePacket(m);
    if (p.opcode !== 1) return;
    if (p.filename === 'a.bin') tidA.send(encodeData(1, A), rinfo.port, rinfo.address);
    else
      setTimeout(() => {
        tidA.send(encodeData(1, A), rinfo.port, rinfo.address); // A's last block again, late
        setTimeout(() => tidB.send(encodeData(1, B), rinfo.port, rinfo.address), 50);
      }, opts.replayDelayMs);
  });
  return {
    port: (requests.address() as { port: number }).port,
    acks,
    close: () => [requests, tidA, tidB].forEach((s) => s.close()),
  };
}

const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

for (const { name, dallyMs, replayDelayMs, reAcked } of [
  { name: 'within the dally time: answered with our final ACK again', dallyMs: 2000, replayDelayMs: 50, reAcked: true },
  { name: 'after the dally time: still not taken for the next reply', dallyMs: 100, replayDelayMs: 400, reAcked: false },
]) {
  test(`a finished transfer's last DATA, sent again ${name}`, async () => {
    const server = await scriptedServer({ replayDelayMs });
    const pool = new TftpClientPool({ sockets: 1, family: 'IPv4', dallyMs });
    closers.push(server.close, () => void pool.close());
    const a = await pool.fetch({ server: '127.0.0.1', port: server.port, name: 'a.bin', timeoutMs: 1000, retries: 3 });
    assert.deepEqual(a.data, A);
    const b = await pool.fetch({ server: '127.0.0.1', port: server.port, name: 'b.bin', timeoutMs: 1000, retries: 3 });
    assert.deepEqual(b.data, B, 'the second request got the first file');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.acks.filter((x) => x.tid === 'A').length, reAcked ? 2 : 1);
    assert.deepEqual(
      server.acks.filter((x) => x.tid === 'B'),
      [{ tid: 'B', block: 1 }],
    );
  });
}

test('a second transfer started by a retransmitted RRQ is not taken for the next request', async () => {
  const requests = await bound();
  const tids = [await bound(), await bound(), await bound()];
  const errorsAtGhost: number[] = [];
  tids[1]!.on('message', (m) => errorsAtGhost.push(decodePacket(m).opcode));
  let rrqA = 0;
  requests.on('message', (m, rinfo) => {
    const p = decodePacket(m);
    if (p.opcode !== 1) return;
    if (p.filename === 'a.bin') {
      // The first RRQ is answered late (a loaded server): by then the client has sent it again, and both get a transfer.
      if (++rrqA === 2) {
        tids[0]!.send(encodeData(1, A), rinfo.port, rinfo.address);
        setTimeout(() => tids[1]!.send(encodeData(1, A), rinfo.port, rinfo.address), 300);
      }
    } else tids[2]!.send(encodeData(1, B), rinfo.port, rinfo.address);
  });
  const pool = new TftpClientPool({ sockets: 1, family: 'IPv4', ghostMs: 1000 });
  closers.push(
    () => [requests, ...tids].forEach((s) => s.close()),
    () => void pool.close(),
  );
  const port = (requests.address() as { port: number }).port;
  const a = await pool.fetch({ server: '127.0.0.1', port, name: 'a.bin', timeoutMs: 200, retries: 3 });
  assert.deepEqual(a.data, A);
  const b = await pool.fetch({ server: '127.0.0.1', port, name: 'b.bin', timeoutMs: 1000, retries: 3 });
  assert.deepEqual(b.data, B, "the second request got the first file's second transfer");
  assert.deepEqual(errorsAtGhost, [5], 'the second transfer of a.bin was told error 5 (unknown transfer ID)');
});

// bench/cluster's "the config delivered no digest credentials": a phone's own config request answered by the late
// "file not found" of another request's retransmitted RRQ (CTLFile.tlv has none outside mixed mode), so the phone
// fell back to XMLDefault.cnf.xml.sgn (signed, trusted, no line) while its real config went to the next request.
test('a second "file not found" for a retransmitted RRQ is not taken for the next request', async () => {
  const requests = await bound();
  const tids = [await bound(), await bound(), await bound()];
  const errorsAtGhost: number[] = [];
  tids[1]!.on('message', (m) => errorsAtGhost.push(decodePacket(m).opcode));
  let rrqCtl = 0;
  requests.on('message', (m, rinfo) => {
    const p = decodePacket(m);
    if (p.opcode !== 1) return;
    if (p.filename === 'CTLFile.tlv') {
      // Answered late: both copies of the RRQ get their "not found", the second 300 ms after the first.
      if (++rrqCtl === 2) {
        tids[0]!.send(encodeError(1, 'File not found'), rinfo.port, rinfo.address);
        setTimeout(() => tids[1]!.send(encodeError(1, 'File not found'), rinfo.port, rinfo.address), 300);
      }
    } else setTimeout(() => tids[2]!.send(encodeData(1, B), rinfo.port, rinfo.address), 600);
  });
  const pool = new TftpClientPool({ sockets: 1, family: 'IPv4', ghostMs: 1000 });
  closers.push(
    () => [requests, ...tids].forEach((s) => s.close()),
    () => void pool.close(),
  );
  const port = (requests.address() as { port: number }).port;
  await assert.rejects(pool.fetch({ server: '127.0.0.1', port, name: 'CTLFile.tlv', timeoutMs: 200, retries: 3 }), {
    code: 'ERR_TFTP_NOT_FOUND',
  });
  const b = await pool.fetch({ server: '127.0.0.1', port, name: 'SEP0000000000C3.cnf.xml.sgn', timeoutMs: 1000, retries: 3 });
  assert.deepEqual(b.data, B, 'the phone\'s config request was answered by the other file\'s late "not found"');
  assert.deepEqual(errorsAtGhost, [5], 'the second "not found" was told error 5 (unknown transfer ID)');
});
