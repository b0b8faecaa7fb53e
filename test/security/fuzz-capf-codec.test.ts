/**
 * Issue 16, build item 11: property-based fuzzing of the CAPF codec and session state machines with fast-check.
 * The corpus is every frame of real sessions: the phone core (src/capf/core/client-session.ts, what
 * src/capf/client.ts drives) and the server core wired together in memory for install (auth string, and
 * certificate authentication with SIGNED_DATA / SHA2_SIGNED_DATA), fetch, delete, nothing pending and a refusal,
 * with a real LSC and real keys. Over 100,000 messages — mutations of that corpus (bit flips, cuts, insertions,
 * length-field lies, splices) and generated ones (typed messages with random fields, random element lists, raw
 * bytes) — go, split at random points, through the frame reader and decoder and into a server session (and a
 * phone session) that real frames have led into each state. Nothing may throw but a CapfError with a known code;
 * the sessions never throw at all (they answer END_SESSION and report protocolError); what they send decodes;
 * they hold at most one header plus maxBodyBytes; the reader's copying stays linear in the bytes received when
 * they come one to three at a time. SBD_FUZZ_SCALE=10 runs ten times as many by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { concatBytes, mutate, mutationArb, pieces } from './fuzz-bytes.js';
import { CapfClientSession, type CapfClientAuth, type CapfClientEvent } from '../../src/capf/core/client-session.js';
import { CapfError, CapfErrorCode } from '../../src/capf/core/errors.js';
import { CapfFrameReader, CAPF_FRAME_READER_DEFAULTS } from '../../src/capf/core/frame-reader.js';
import { CAPF_HEADER_BYTES, CapfCertificateType, encodeFrame } from '../../src/capf/core/frame.js';
import { decodeMessage, encodeMessage, type CapfMessage } from '../../src/capf/core/messages.js';
import { CapfServerSession, type CapfDecision, type CapfServerEvent } from '../../src/capf/core/server-session.js';
import { signAuthData } from '../../src/capf/core/signed-data.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { issueLsc } from '../../src/pki/lsc.js';
import { tempDir } from '../tvs/helpers.js';
import crypto from 'node:crypto';

const SCALE = Math.max(1, Number(process.env.SBD_FUZZ_SCALE ?? 1) || 1);
const DEVICE = 'SEP001122334455';
const SID = 0x01020304;
const MAX_HELD = CAPF_HEADER_BYTES + CAPF_FRAME_READER_DEFAULTS.maxBodyBytes;
const CODES = new Set<string>(Object.values(CapfErrorCode));

interface Scenario {
  decision: CapfDecision;
  auth: CapfClientAuth;
  lsc: Buffer | undefined;
  /** Frames the phone sent, in order (what a server session receives). */
  toServer: Buffer[];
  /** Frames the server sent (what a phone session receives). */
  toClient: Buffer[];
}

/** Real keys and a real LSC: a CAPF CA by openssl, the LSC by pki/lsc.ts, the signatures by signed-data.ts. */
function material(t: { after: (fn: () => void) => void }) {
  const dir = tempDir(t, 'sbd-fuzz-capf-');
  const key = path.join(dir, 'capf.key');
  const pem = path.join(dir, 'capf.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      pem,
      '-days',
      '30',
      '-subj',
      '/CN=CAPF-fuzz',
    ],
    { stdio: 'pipe' },
  );
  const phoneKey = generateKeyPair({ type: 'ec', curve: 'P-256' });
  const lsc = issueLsc({
    capfCertPem: fs.readFileSync(pem, 'utf8'),
    capfKeyPem: fs.readFileSync(key, 'utf8'),
    deviceName: DEVICE,
    subjectPublicKey: phoneKey.spkiDer,
    serial: Buffer.of(1, 2, 3),
    now: new Date('2026-12-01T00:00:00Z'),
  });
  const signed = signAuthData(crypto.createPrivateKey(phoneKey.privateKeyPem), DEVICE, lsc.der);
  const rsa = generateKeyPair({ type: 'rsa', bits: 2048 });
  return {
    lsc: lsc.der,
    phoneKey,
    rsa,
    certAuth: {
      deviceName: DEVICE,
      certificate: { type: CapfCertificateType.lsc, der: lsc.der },
      signedData: signed.signedData,
      sha2SignedData: signed.sha2SignedData,
    },
  };
}

const sends = (events: ReadonlyArray<{ type: string }>) =>
  (events as Array<{ type: string; bytes?: Buffer }>).filter((e) => e.type === 'send').map((e) => e.bytes!);

/** The two real cores in memory; records each side's frames. The callbacks play the shells. */
function record(decision: CapfDecision, auth: CapfClientAuth, lsc: Buffer | undefined, spki: Buffer): Scenario {
  const server = new CapfServerSession({ sessionId: SID });
  const client = new CapfClientSession({ auth });
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  const queue: Array<['s' | 'c', Buffer]> = [];
  const onServer = (events: CapfServerEvent[]): void => {
    for (const b of sends(events)) toClient.push(b), queue.push(['c', b]);
    for (const e of events) {
      if (e.type === 'authenticate') onServer(server.decide(decision));
      if (e.type === 'publicKey') onServer(server.certificateIssued(lsc ?? Buffer.from('not a certificate')));
    }
  };
  const onClient = (events: CapfClientEvent[]): void => {
    for (const b of sends(events)) toServer.push(b), queue.push(['s', b]);
    for (const e of events) {
      if (e.type === 'keyGenerate') onClient(client.keyGenerated(spki));
      if (e.type === 'storeCertificate') onClient(client.certificateStored(true));
      if (e.type === 'fetchCertificate') onClient(client.fetchResponse(lsc));
      if (e.type === 'deleteCertificate') onClient(client.deleted(true));
    }
  };
  onServer(server.start());
  for (let q = queue.shift(); q; q = queue.shift()) {
    if (q[0] === 'c') onClient(client.receive(q[1]));
    else onServer(server.receive(q[1]));
  }
  assert.equal(server.state, 'done');
  return { decision, auth, lsc, toServer, toClient };
}

const mutation = mutationArb([0, 1, 2, 3, 7, 9, 13, 15, 0x55, 0x7f, 0x80, 0xff]);

function generatedMessage(): fc.Arbitrary<Buffer> {
  const byte = fc.integer({ min: 0, max: 255 });
  const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
  const typed = fc
    .record(
      {
        command: fc.oneof(fc.integer({ min: 1, max: 23 }), byte),
        sessionId: fc.oneof(fc.constant(SID), fc.integer({ min: 0, max: 0xffffffff })),
        reason: byte,
        certificateType: byte,
        version: fc.oneof(fc.constant(3), byte),
        authType: byte,
        keyType: fc.oneof(fc.constantFrom(0, 1), byte),
        keySize: fc.oneof(fc.constantFrom(1024, 2048, 3072, 4096), fc.integer({ min: 0, max: 0xffff })),
        curve: fc.oneof(fc.constantFrom(0, 1, 2), byte),
        deviceName: fc.oneof(
          fc.constantFrom(DEVICE, 'sep001122334455', 'SEP00112233445', '', 'SEP0011223344555'),
          fc.string({ maxLength: 70 }),
        ),
        password: fc.oneof(fc.stringMatching(/^\d{0,20}$/), fc.string({ maxLength: 70 })),
        certificate: fc.record({ type: byte, der: bytes(300) }),
        signedData: bytes(300),
        sha2SignedData: fc.record({ hash: fc.oneof(fc.constant(3), byte), signature: bytes(300) }),
        sudiData: bytes(100),
        publicKey: bytes(300),
      },
      { requiredKeys: ['command', 'sessionId'] },
    )
    .map((m) => encodeMessage(m as CapfMessage));
  const elements = fc
    .record({
      command: byte,
      sessionId: fc.oneof(fc.constant(SID), fc.integer({ min: 0, max: 0xffffffff })),
      elements: fc.array(fc.record({ tag: fc.oneof(fc.integer({ min: 0, max: 21 }), byte), value: bytes(64) }), { maxLength: 12 }),
    })
    .map((f) => encodeFrame(f.command, f.sessionId, f.elements));
  return fc.oneof({ weight: 3, arbitrary: typed }, { weight: 3, arbitrary: elements }, { weight: 1, arbitrary: bytes(64) });
}

function onlyCapfErrors(f: () => void): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof CapfError) || !CODES.has(err.code)) throw err;
  }
}

/** What the sessions send must itself decode (they never emit a frame they could not read). */
function checkSends(events: ReadonlyArray<{ type: string }>): void {
  for (const b of sends(events)) {
    const frames = new CapfFrameReader().push(b);
    assert.equal(frames.length, 1);
    decodeMessage(frames[0]!);
  }
}

function checkProtocolErrors(events: ReadonlyArray<{ type: string; error?: unknown }>): void {
  for (const e of events) {
    if (e.type === 'protocolError') assert.ok(e.error instanceof CapfError && CODES.has(e.error.code), String(e.error));
  }
}

/** One step: optionally the next real frame first (so the session moves on), then one fuzzed message. */
const step = (message: fc.Arbitrary<Buffer>) => fc.record({ advance: fc.boolean(), message, splits: fc.array(fc.nat(), { maxLength: 4 }) });
const STEPS = 10;

test(`fast-check: ${100_000 * SCALE}+ mutated and generated CAPF messages through the frame reader, the decoder and both session cores`, (t) => {
  const m = material(t);
  const ec = m.phoneKey.spkiDer;
  const scenarios = [
    record({ kind: 'install', keySpec: { type: 'ec', curve: 'P-256' } }, { deviceName: DEVICE, password: '24681357' }, m.lsc, ec),
    record({ kind: 'install', keySpec: { type: 'rsa', bits: 2048 } }, m.certAuth, m.lsc, m.rsa.spkiDer),
    record({ kind: 'fetch' }, { deviceName: DEVICE }, m.lsc, ec),
    record({ kind: 'fetch' }, { deviceName: DEVICE }, undefined, ec),
    record({ kind: 'delete' }, m.certAuth, m.lsc, ec),
    record({ kind: 'none' }, { deviceName: DEVICE }, undefined, ec),
    record({ kind: 'reject', reason: 7, why: 'wrong' }, { deviceName: DEVICE, password: '00000000' }, undefined, ec),
  ];
  const corpus = scenarios.flatMap((s) => [...s.toServer, ...s.toClient]);
  assert.ok(corpus.length >= 30, `corpus of ${corpus.length} frames`);
  const message = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([i, ms]) => mutate(corpus[i % corpus.length]!, ms, corpus, 24)),
    },
    { weight: 2, arbitrary: generatedMessage() },
  );
  let fuzzed = 0;
  let decoded = 0;
  let maxHeld = 0;

  // The codec alone, and the server core led by real frames into each state.
  fc.assert(
    fc.property(fc.nat({ max: scenarios.length - 1 }), fc.array(step(message), { minLength: STEPS, maxLength: STEPS }), (si, steps) => {
      const scn = scenarios[si]!;
      const server = new CapfServerSession({ sessionId: SID });
      const handle = (events: CapfServerEvent[]): void => {
        checkSends(events);
        checkProtocolErrors(events);
        for (const e of events) {
          // As for the phone below: the server's owner answers an event only while the session is open.
          if (server.state === 'done') break;
          if (e.type === 'authenticate') handle(server.decide(scn.decision));
          if (e.type === 'publicKey') handle(server.certificateIssued(scn.lsc ?? Buffer.from('x')));
        }
      };
      const feed = (bytes: Buffer, splits: readonly number[]) => {
        for (const p of pieces(bytes, splits)) {
          const before = server.state;
          const events = server.receive(p);
          if (before === 'done') assert.deepEqual(events, [], 'nothing after done');
          handle(events);
          maxHeld = Math.max(maxHeld, server.pendingBytes);
          assert.ok(server.pendingBytes <= MAX_HELD);
        }
      };
      handle(server.start());
      let next = 0;
      for (const s of steps) {
        if (s.advance && next < scn.toServer.length) feed(scn.toServer[next++]!, []);
        fuzzed++;
        onlyCapfErrors(() => {
          const reader = new CapfFrameReader();
          for (const p of pieces(s.message, s.splits)) {
            for (const f of reader.push(p)) {
              decodeMessage(f);
              decoded++;
            }
            assert.ok(reader.pendingBytes <= MAX_HELD);
          }
          reader.end();
        });
        feed(s.message, s.splits);
      }
      handle(server.closed());
      assert.equal(server.state, 'done');
    }),
    { numRuns: 10_000 * SCALE },
  );

  // The phone core, led the same way by the server's real frames.
  fc.assert(
    fc.property(fc.nat({ max: scenarios.length - 1 }), fc.array(step(message), { minLength: STEPS, maxLength: STEPS }), (si, steps) => {
      const scn = scenarios[si]!;
      const client = new CapfClientSession({ auth: scn.auth });
      const handle = (events: CapfClientEvent[]): void => {
        checkSends(events);
        checkProtocolErrors(events);
        for (const e of events) {
          // A later frame of the same chunk can end the session before the phone answers an earlier request; the
          // core then refuses a late answer (typed ERR_CAPF_STATE), so a phone answers only while it is open.
          if (client.state === 'done') break;
          if (e.type === 'keyGenerate') handle(client.keyGenerated(ec));
          if (e.type === 'storeCertificate') handle(client.certificateStored(true));
          if (e.type === 'fetchCertificate') handle(client.fetchResponse(scn.lsc));
          if (e.type === 'deleteCertificate') handle(client.deleted(true));
        }
      };
      let next = 0;
      for (const s of steps) {
        if (s.advance && next < scn.toClient.length) handle(client.receive(scn.toClient[next++]!));
        fuzzed++;
        for (const p of pieces(s.message, s.splits)) {
          handle(client.receive(p));
          assert.ok(client.pendingBytes <= MAX_HELD);
        }
      }
      handle(client.closed());
      assert.equal(client.state, 'done');
    }),
    { numRuns: 2_000 * SCALE },
  );
  // Work stays linear in the bytes a peer sends, however finely it splits them (the reader once copied all it
  // held on every piece: 128 MB for one 16 KB frame sent a byte at a time).
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...corpus), message), fc.integer({ min: 1, max: 3 }), (bytes, size) => {
      const copied = concatBytes(() =>
        onlyCapfErrors(() => {
          const reader = new CapfFrameReader();
          for (let i = 0; i < bytes.length; i += size) reader.push(bytes.subarray(i, i + size));
        }),
      );
      assert.ok(copied <= 3 * bytes.length + 64, `${copied} bytes copied for ${bytes.length} bytes in ${size}-byte pieces`);
    }),
    { numRuns: 2000 * SCALE },
  );
  t.diagnostic(`${fuzzed} fuzzed messages, ${decoded} decoded as frames, at most ${maxHeld} bytes held by a session`);
  assert.ok(fuzzed >= 100_000 * SCALE, `${fuzzed} messages`);
  assert.ok(decoded > fuzzed / 10, `${decoded} of ${fuzzed} got past the framing: the mutations are not all noise`);
});
