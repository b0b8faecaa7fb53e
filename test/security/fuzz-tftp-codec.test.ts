/**
 * Issue 16, build item 11: property-based fuzzing of the TypeScript TFTP codec with fast-check. Over 100,000
 * packets — generated ones and mutations (bit flips, cuts, insertions, splices) of a corpus of real packets: the
 * requests tftp-hpa, atftp and curl send in the interop tests (captured in native/fuzz/seeds/, shared with the AFL
 * harness), ACK, ERROR, OACK and DATA — go through src/tftp/core: decodePacket, the file-name check, option
 * negotiation, and a running ServerTransfer fed each packet and the timer. Nothing may throw but a TftpError; a
 * decoded packet re-encodes to one that decodes the same; negotiation never grants more than the limits; the
 * transfer never acts after `done` and its sends stay bounded by its retries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodePacket,
  encodeRequest,
  Opcode,
} from '../../src/tftp/core/packet.js';
import { defaultNegotiationLimits, negotiate, type NegotiationLimits } from '../../src/tftp/core/options.js';
import { checkFilename } from '../../src/tftp/core/filename.js';
import { TftpError } from '../../src/tftp/core/errors.js';
import { ServerTransfer, defaultServerTransferLimits } from '../../src/tftp/core/server-transfer.js';
import type { TransferAction } from '../../src/tftp/core/actions.js';

const seeds = join(import.meta.dirname, '..', '..', 'native', 'fuzz', 'seeds');
const corpus: Buffer[] = [
  ...readdirSync(seeds)
    .sort()
    .map((f) => readFileSync(join(seeds, f))),
  encodeRequest(Opcode.RRQ, 'SEP001122334455.cnf.xml.sgn', 'octet', [
    ['blksize', '1428'],
    ['tsize', '0'],
  ]),
  encodeRequest(Opcode.RRQ, 'ITLSEP001122334455.tlv', 'OCTET', [
    ['BlkSize', '65464'],
    ['windowsize', '64'],
    ['timeout', '255'],
  ]),
  encodeAck(0),
  encodeAck(1),
  encodeAck(65535),
  encodeError(8, 'option refused'),
  encodeError(0, 'transfer cancelled'),
  encodeOack([
    ['blksize', '1428'],
    ['tsize', '7168'],
    ['windowsize', '8'],
  ]),
  encodeData(1, Buffer.alloc(512, 0x41)),
  encodeData(2, Buffer.alloc(3)),
];

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'cut'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'splice'; at: number; other: number; from: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0, 0xff, 0x30, 0x39, 0x7f, 0x80, 0x2f, 0x2e) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('splice' as const), at: fc.nat(), other: fc.nat(), from: fc.nat() }),
);

function mutate(base: Buffer, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(base);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.op === 'flip' && at < b.length) b[at]! ^= 1 << m.bit;
    else if (m.op === 'set' && at < b.length) b[at] = m.byte;
    else if (m.op === 'cut') b = b.subarray(0, at);
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    else if (m.op === 'splice') {
      const o = corpus[m.other % corpus.length]!;
      b = Buffer.concat([b.subarray(0, at), o.subarray(m.from % (o.length + 1))]);
    }
  }
  return b;
}

const optionName = fc.oneof(
  fc.constantFrom('blksize', 'tsize', 'timeout', 'windowsize', 'BLKSIZE', 'TimeOut', 'multicast'),
  fc.string({ maxLength: 12 }),
);
const optionValue = fc.oneof(
  fc.integer({ min: 0, max: 70_000 }).map(String),
  fc.constantFrom('0', '255', '256', '65464', '65465', '9007199254740991', '99999999999', '-1', '1e3', ' 8', '0x10', ''),
  fc.string({ maxLength: 12 }),
);
const generated = fc.oneof(
  fc
    .record({
      opcode: fc.constantFrom(Opcode.RRQ, Opcode.WRQ),
      filename: fc.oneof(
        fc.constantFrom('SEP001122334455.cnf.xml', '../etc/passwd', 'a//b', '/abs', 'C:x', 'x\\y', '.', ''),
        fc.string({ maxLength: 40 }),
      ),
      mode: fc.constantFrom('octet', 'netascii', 'mail', 'OcTeT', ''),
      options: fc.array(fc.tuple(optionName, optionValue), { maxLength: 6 }),
    })
    .map((r) => encodeRequest(r.opcode, r.filename, r.mode, r.options)),
  fc.integer({ min: 0, max: 0xffff }).map(encodeAck),
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.string({ maxLength: 30 })).map(([c, m]) => encodeError(c, m)),
  fc.array(fc.tuple(optionName, optionValue), { maxLength: 5 }).map(encodeOack),
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
);
const packet = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...corpus), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms)),
  },
  { weight: 2, arbitrary: generated },
);

const PER_RUN = 50;
const RUNS = 2100;
const limitsVariants: NegotiationLimits[] = [
  defaultNegotiationLimits,
  { ...defaultNegotiationLimits, maxBlksize: 1428, maxWindowsize: 8, minTimeoutS: 2, maxTimeoutS: 5 },
];

function onlyTftpErrors(f: () => void): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof TftpError) || typeof err.code !== 'string') throw err;
  }
}

test(`fast-check: ${RUNS * PER_RUN} generated and mutated packets through the TFTP core, no crash`, () => {
  let packets = 0;
  let decoded = 0;
  fc.assert(
    fc.property(
      fc.array(packet, { minLength: PER_RUN, maxLength: PER_RUN }),
      fc.nat({ max: 6000 }),
      fc.constantFrom(...limitsVariants),
      (batch, size, limits) => {
        const file = Buffer.alloc(size, 0x5a);
        // A running transfer that every packet of the batch reaches, as if sent by its peer.
        const negotiated = negotiate(
          [
            ['blksize', '512'],
            ['windowsize', '4'],
          ],
          file.length,
          limits,
        );
        const transfer = new ServerTransfer(file, negotiated.params, negotiated.oack, {
          ...defaultServerTransferLimits,
          timeoutMs: 100,
          maxLifetimeMs: 5000,
        });
        let now = 0;
        let done = 0;
        let sent = 0;
        const check = (acts: TransferAction[]) => {
          for (const a of acts) {
            if (a.type === 'send') {
              sent++;
              assert.ok(Buffer.isBuffer(a.bytes) && a.bytes.length >= 4);
            } else if (a.type === 'done') done++;
            else assert.ok(Number.isFinite(a.at) && a.at > now - 1 && a.at <= 5000);
          }
          if (done > 0) assert.equal(transfer.state, 'done');
        };
        check(transfer.start(now));
        for (const bytes of batch) {
          packets++;
          onlyTftpErrors(() => {
            const p = decodePacket(bytes);
            decoded++;
            assert.deepEqual(decodePacket(encodePacket(p)), p, 'a decoded packet re-encodes to the same');
            if (p.opcode === Opcode.RRQ || p.opcode === Opcode.WRQ) {
              const bad = checkFilename(p.filename);
              assert.ok(bad === undefined || bad instanceof TftpError);
              const n = negotiate(p.options, size, limits);
              assert.ok(n.params.blksize >= 8 && n.params.blksize <= limits.maxBlksize);
              assert.ok(n.params.windowsize >= 1 && n.params.windowsize <= limits.maxWindowsize);
              assert.ok(
                n.params.timeoutS === undefined || (n.params.timeoutS >= limits.minTimeoutS && n.params.timeoutS <= limits.maxTimeoutS),
              );
            }
          });
          const before = done;
          now += 7;
          check(transfer.receive(bytes, now));
          if (before > 0) assert.equal(done, before, 'nothing after done');
          if (bytes.length % 5 === 0) {
            now += 100;
            check(transfer.timeout(now));
          }
        }
        assert.ok(done <= 1);
        // Bounded work: the window (4) per ACK or timer event, plus the OACK.
        assert.ok(sent <= 1 + 4 * (batch.length * 2 + 1), `${sent} sends`);
      },
    ),
    { numRuns: RUNS },
  );
  assert.ok(packets >= 100_000, `${packets} packets`);
  assert.ok(decoded > packets / 10, `${decoded} of them decoded`);
});
