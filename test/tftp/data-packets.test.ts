/** core/data-packets.ts: shared DATA packets — same bytes as encodeData, built once, bounded per file and size. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DataPacketCache, DataPackets } from '../../src/tftp/core/data-packets.js';
import { encodeData } from '../../src/tftp/core/packet.js';
import { ServerTransfer, defaultServerTransferLimits } from '../../src/tftp/core/server-transfer.js';

test('packets equal encodeData of each block, at and around block boundaries and past the 16-bit wrap', () => {
  for (const [size, blksize] of [
    [0, 512],
    [1, 512],
    [511, 512],
    [512, 512],
    [513, 512],
    [1428 * 7 + 3, 1428],
    [65536 * 8 + 5, 8],
  ] as const) {
    const file = randomBytes(size);
    const cached = new DataPacketCache().for(file, blksize);
    const plain = new DataPackets(file, blksize, false);
    assert.equal(cached.blockCount, Math.floor(size / blksize) + 1);
    for (let b = 1; b <= cached.blockCount; b++) {
      const want = encodeData(b, file.subarray((b - 1) * blksize, Math.min(b * blksize, size)));
      assert.deepEqual(cached.packet(b), want, `size ${size} block ${b}`);
      assert.deepEqual(plain.packet(b), want);
    }
    if (size > 65536 * 8) assert.equal(cached.packet(65536).readUInt16BE(2), 0, 'block 65536 is 0 on the wire');
  }
});

test('one build per block and blksize is shared by every transfer of the same Buffer; bounds hold', () => {
  const file = randomBytes(10 * 1024);
  const cache = new DataPacketCache({ maxVariantsPerFile: 2 });
  const a = cache.for(file, 1428);
  assert.equal(cache.for(file, 1428), a, 'same Buffer and blksize: the same packets');
  assert.equal(a.packet(3), a.packet(3), 'built once');
  assert.notEqual(cache.for(Buffer.from(file), 1428), a, 'keyed by the Buffer, not by its contents');
  const b = cache.for(file, 512);
  assert.equal(cache.for(file, 512), b);
  cache.for(file, 1024); // a third blksize displaces the oldest variant (1428)
  assert.notEqual(cache.for(file, 1428), a);
  const big = randomBytes(4096);
  const small = new DataPacketCache({ maxFileBytes: 4095 });
  const p = small.for(big, 512);
  assert.notEqual(p.packet(1), p.packet(1), 'over maxFileBytes: built per call, nothing kept');
  const off = new DataPacketCache({ maxFileBytes: 0 }).for(Buffer.alloc(0), 512);
  assert.notEqual(off.packet(1), off.packet(1));
});

test('ServerTransfer sends the shared packets and refuses packets of another blksize', () => {
  const file = randomBytes(3000);
  const packets = new DataPacketCache().for(file, 1428);
  const params = { blksize: 1428, windowsize: 4, timeoutS: undefined };
  const t = new ServerTransfer(file, params, [], defaultServerTransferLimits, packets);
  const sent = t
    .start(0)
    .filter((x) => x.type === 'send')
    .map((x) => (x.type === 'send' ? x.bytes : Buffer.alloc(0)));
  assert.equal(sent.length, 3);
  sent.forEach((bytes, i) => assert.equal(bytes, packets.packet(i + 1)));
  assert.throws(() => new ServerTransfer(file, { ...params, blksize: 512 }, [], defaultServerTransferLimits, packets), RangeError);
});
