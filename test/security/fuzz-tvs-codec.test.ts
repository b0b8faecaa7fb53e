/**
 * Issue 16, build item 11: property-based fuzzing of the TVS codec with fast-check. The corpus is what the real
 * client (src/tvs/client.ts queryTvs, as the phone simulator and `sbd tvs query` use it) sent to a real TvsServer
 * and what the server answered, recorded by a relay in between, for certificates the cluster vouches for and for
 * strangers, plus the spec's hand-assembled fixtures. Over 100,000 messages — mutations of that corpus (bit flips,
 * cuts, insertions, length-field lies, splices) and generated ones (well-formed frames with random elements, raw
 * bytes) — go, split at random points, through the frame reader, the request and response parsers and the server's
 * answer path (parse → TrustAnswerer on the real store → build the response, which the client parser must read).
 * Nothing may throw but a TvsError with a known code, the reader holds at most one header plus maxBodyBytes, and
 * its copying stays linear in the bytes received when they come one to three at a time.
 * Then 300 of them go to the real TvsServer over TLS: it closes each bad one and still answers a phone.
 * SBD_FUZZ_SCALE=10 runs ten times as many by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import fc from 'fast-check';
import { concatBytes, mutate, mutationArb, pieces } from './fuzz-bytes.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { queryTvs } from '../../src/tvs/client.js';
import { TvsError, TvsErrorCode } from '../../src/tvs/core/errors.js';
import { TvsFrameReader, TVS_FRAME_READER_DEFAULTS } from '../../src/tvs/core/frame-reader.js';
import { encodeFrame, TVS_HEADER_BYTES } from '../../src/tvs/core/frame.js';
import { buildVerifyResponse, parseVerifyRequest, parseVerifyResponse, TvsStatus } from '../../src/tvs/core/verify.js';
import { TvsServer } from '../../src/tvs/server.js';
import { TrustAnswerer } from '../../src/tvs/trust-answer.js';
import { tempState } from '../tvs/helpers.js';

const SCALE = Math.max(1, Number(process.env.SBD_FUZZ_SCALE ?? 1) || 1);
const DEVICE = 'CP-8845-SEP001122334455';
const MAX_HELD = TVS_HEADER_BYTES + TVS_FRAME_READER_DEFAULTS.maxBodyBytes;
const CODES = new Set<string>(Object.values(TvsErrorCode));
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A TLS relay in front of the real server, recording both directions; queryTvs talks to it. */
async function recordExchanges(server: TvsServer, certPem: string, keyPem: string, certs: Buffer[]): Promise<Buffer[]> {
  const recorded: Buffer[] = [];
  const relay = tls.createServer({ cert: certPem, key: keyPem }, (inbound) => {
    const outbound = tls.connect({ host: '127.0.0.1', port: server.address().port, rejectUnauthorized: false });
    const up: Buffer[] = [];
    const down: Buffer[] = [];
    inbound.on('data', (d: Buffer) => (up.push(d), outbound.write(d)));
    outbound.on('data', (d: Buffer) => (down.push(d), inbound.write(d)));
    outbound.on('end', () => {
      recorded.push(Buffer.concat(up), Buffer.concat(down));
      inbound.end();
    });
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const port = (relay.address() as { port: number }).port;
  try {
    for (const [i, certDer] of certs.entries()) {
      const a = await queryTvs({ host: '127.0.0.1', port, deviceName: DEVICE, certDer, checkServerCert: () => true, sessionId: 1000 + i });
      assert.ok(a.status === 'valid' || a.status === 'invalid');
    }
  } finally {
    relay.close();
  }
  return recorded.filter((b) => b.length > 0);
}

const mutation = mutationArb([0, 1, 2, 3, 4, 7, 8, 9, 0x57, 0x7f, 0x80, 0xff]);

function generated(): fc.Arbitrary<Buffer> {
  const byte = fc.integer({ min: 0, max: 255 });
  const value = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
    fc
      .oneof(
        fc.constantFrom(DEVICE, 'CP-7975G-SEP00AABBCCDDEE', 'CP--SEP001122334455', 'SEP001122334455', ''),
        fc.string({ maxLength: 48 }),
      )
      .map((s) => Buffer.concat([Buffer.of(1), Buffer.from(s, 'latin1')])),
  );
  const frame = fc
    .record({
      command: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4), byte),
      sessionId: fc.integer({ min: 0, max: 0xffffffff }),
      reserved: byte,
      elements: fc.array(fc.record({ tag: fc.oneof(fc.constantFrom(1, 2, 7, 8, 9), byte), value }), { maxLength: 8 }),
    })
    .map((f) => encodeFrame(f.command, f.sessionId, f.elements, f.reserved));
  return fc.oneof({ weight: 4, arbitrary: frame }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)) });
}

function onlyTvsErrors(f: () => void): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof TvsError) || !CODES.has(err.code)) throw err;
  }
}

test(`fast-check: ${100_000 * SCALE}+ mutated and generated TVS messages through the reader, both parsers and the answer path; then the real server`, async (t) => {
  const state = tempState(t);
  const store = state.store;
  const server = new TvsServer({ store, host: '127.0.0.1', port: 0, reloadIntervalMs: 0, requestTimeoutMs: 5000 });
  await server.listen();
  t.after(() => server.close());
  const tvsRow = store.currentCertificate('TVS', 'cucm-pub')!;
  const vouched = store
    .listCertificates({ includeHistory: false })
    .filter((r) => ['CallManager', 'ITLRecovery', 'CAPF', 'TVS'].includes(r.name))
    .map((r) => r.der);
  const stranger = generateIdentity({ name: 'tomcat', hostname: 'rogue', now: new Date() });
  const recorded = await recordExchanges(server, tvsRow.pem, privateKeyOf(tvsRow), [...vouched, stranger.certDer]);
  const corpus = [
    ...recorded,
    hex(`57 01 01 00 000003e9 0023  01 0018 01 ${Buffer.from(DEVICE).toString('hex')}  02 0005 3003020105`),
    hex('57 01 02 00 000003e9 0010  07 0001 00  08 0002 02 00  09 0004 00015180'),
    hex('57 01 02 00 000003e9 0004  07 0001 01'),
  ];
  assert.ok(recorded.length >= 8, `recorded ${recorded.length} messages`);
  const answerer = new TrustAnswerer(store);
  const message = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([i, ms]) => mutate(corpus[i % corpus.length]!, ms, corpus, 40)),
    },
    { weight: 2, arbitrary: generated() },
  );
  const PER_RUN = 10;
  let fuzzed = 0;
  let requests = 0;
  let valid = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(message, fc.array(fc.nat(), { maxLength: 4 })), { minLength: PER_RUN, maxLength: PER_RUN }), (batch) => {
      // One reader for the whole batch, as one connection's stream would be: it must stay failed after an error.
      const stream = new TvsFrameReader();
      let streamFailed = false;
      for (const [bytes, splits] of batch) {
        fuzzed++;
        onlyTvsErrors(() => {
          const reader = new TvsFrameReader();
          for (const p of pieces(bytes, splits)) {
            for (const frame of reader.push(p)) {
              onlyTvsErrors(() => {
                // The server's path: request → answer from the store → response the phone's parser reads.
                const req = parseVerifyRequest(frame);
                requests++;
                const a = answerer.answer(req.certificate);
                if (a.status === TvsStatus.valid) valid++;
                const out = buildVerifyResponse(
                  a.status === TvsStatus.valid
                    ? { sessionId: req.sessionId, status: a.status, roles: a.roles, ttl: a.ttl }
                    : { sessionId: req.sessionId, status: a.status },
                );
                const res = parseVerifyResponse(new TvsFrameReader().push(out)[0]!);
                assert.equal(res.sessionId, req.sessionId);
              });
              onlyTvsErrors(() => void parseVerifyResponse(frame));
            }
            assert.ok(reader.pendingBytes <= MAX_HELD, `${reader.pendingBytes} bytes held`);
          }
          reader.end();
        });
        onlyTvsErrors(() => {
          try {
            for (const p of pieces(bytes, splits)) stream.push(p);
          } catch (err) {
            streamFailed = true;
            throw err;
          }
        });
        if (streamFailed) assert.throws(() => stream.push(Buffer.of(0x57)), TvsError, 'a failed reader stays failed');
        assert.ok(stream.pendingBytes <= MAX_HELD);
      }
    }),
    { numRuns: (100_000 * SCALE) / PER_RUN },
  );
  // Work stays linear in the bytes a peer sends, however it splits them: a client trickling a request in tiny
  // pieces (the TLS records a slow peer may send) must not make the reader copy everything it holds per piece.
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...corpus), message), fc.integer({ min: 1, max: 3 }), (bytes, size) => {
      const copied = concatBytes(() =>
        onlyTvsErrors(() => {
          const reader = new TvsFrameReader();
          for (let i = 0; i < bytes.length; i += size) reader.push(bytes.subarray(i, i + size));
        }),
      );
      assert.ok(copied <= 3 * bytes.length + 64, `${copied} bytes copied for ${bytes.length} bytes in ${size}-byte pieces`);
    }),
    { numRuns: 2000 * SCALE },
  );
  t.diagnostic(`${fuzzed} fuzzed messages, ${requests} parsed as VERIFY_REQUEST, ${valid} answered valid`);
  assert.ok(fuzzed >= 100_000 * SCALE);
  assert.ok(requests > 1000, 'the mutations reach the request parser and the answer path');

  // The real server over TLS: every bad message closes its connection, none stops the server.
  const sample = fc.sample(message, { numRuns: 300, seed: 16 });
  const port = server.address().port;
  for (const bytes of sample) {
    await new Promise<void>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => s.end(bytes));
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
  }
  const a = await queryTvs({ host: '127.0.0.1', port, deviceName: DEVICE, certDer: vouched[0]!, trustedServerCerts: [tvsRow.der] });
  assert.equal(a.status, 'valid');
  assert.ok(server.stats.connections >= 300 + recorded.length / 2);
  // The server closes its side after the answer is flushed: poll its own count (no event says "all closed").
  let open = await server.connectionCount();
  for (let i = 0; i < 200 && open > 0; i++)
    open = await new Promise<number>((r) => setTimeout(() => void server.connectionCount().then(r), 50));
  assert.equal(open, 0, 'no connection left behind');
});
