/**
 * Issue 16 build item 11 (SIP part): property-based fuzzing of the SIP codec with fast-check. A corpus of real
 * messages (the RFC 4475 torture tests, plus REGISTER/INVITE/response shapes the interop tests exchange with
 * sipp and baresip) is mutated, and structured messages are generated from the grammar's pieces with adversarial
 * whitespace and separators; all of it goes through the parser (datagram and stream framing), the stream framer
 * (split at random points), the serializer and the 400-answer builder. Properties:
 *  - nothing but the codec's typed errors (SipParseError from parsing, SipError ERR_SIP_HEADER_VALUE from the
 *    serializer refusing a control byte) ever escapes;
 *  - accepted input is stable: parse → serialize → parse → serialize gives the same bytes;
 *  - the 400 built for rejected input is one well-formed response (no injected line);
 *  - no unbounded growth: the framer never holds more than its limits, and the work the scanners do (scanWork)
 *    stays within a constant times the input size.
 * ≥ 100,000 messages by default (NUM_RUNS multiplies each property's runs: NUM_RUNS=10 for a long session by hand).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { parseMessage, type Framing } from '../../src/sip/core/messages/parser.js';
import { SipError, SipParseError } from '../../src/sip/core/messages/errors.js';
import { StreamFramer, type FramerEvent } from '../../src/sip/core/messages/stream-framer.js';
import { serializeMessage } from '../../src/sip/core/messages/serializer.js';
import { errorResponseFor } from '../../src/sip/core/messages/error-response.js';
import { scanWork } from '../../src/sip/core/messages/syntax.js';
import type { SipMessage } from '../../src/sip/core/messages/message.js';

const scale = Number(process.env.NUM_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * scale));
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : undefined;
const params = (n: number) => ({ numRuns: runs(n), ...(seed !== undefined ? { seed } : {}) });

const dir = new URL('../sip/rfc4475/', import.meta.url);
const crlf = (lines: string[]) => lines.join('\r\n');
const sdp = crlf([
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0 8 101',
  'a=rtpmap:101 telephone-event/8000',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
  '',
]);
/** Shapes the interop tests exchange (sipp register.xml/caller.xml, baresip, the daemon's own answers). */
const captured = [
  crlf([
    'REGISTER sip:127.0.0.1:5060 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1-0;rport',
    'From: <sip:1001@127.0.0.1>;tag=1SIPpTag001',
    'To: <sip:1001@127.0.0.1>',
    'Call-ID: 1-4242@127.0.0.1',
    'CSeq: 2 REGISTER',
    'Contact: <sip:1001@127.0.0.1:5062;transport=UDP>',
    'Authorization: Digest username="1001",realm="sbd.example",uri="sip:127.0.0.1:5060",nonce="AAAAAGsGzcCTjzdiyBhsG-yaU0U9sdxe6EBHR7RwOLo",response="2b8bb1c4a5c0b0d3a4ef2f7e1d5a6c3b",algorithm=MD5,cnonce="6b8b4567",qop=auth,nc=00000001',
    'Max-Forwards: 70',
    'Expires: 300',
    'Content-Length: 0',
    '',
    '',
  ]),
  crlf([
    'SIP/2.0 401 Unauthorized',
    'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1-0;rport=5062;received=127.0.0.1',
    'From: <sip:1001@127.0.0.1>;tag=1SIPpTag001',
    'To: <sip:1001@127.0.0.1>;tag=sbd-3f2a',
    'Call-ID: 1-4242@127.0.0.1',
    'CSeq: 1 REGISTER',
    'WWW-Authenticate: Digest realm="sbd.example", nonce="AAAAAGsGzcCTjzdiyBhsG-yaU0U9sdxe6EBHR7RwOLo", algorithm=MD5, qop="auth"',
    'Content-Length: 0',
    '',
    '',
  ]),
  crlf([
    'INVITE sip:1002@127.0.0.1:5060 SIP/2.0',
    'Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-2-1;rport',
    'From: "Alice A." <sip:1001@127.0.0.1>;tag=2A1',
    'To: <sip:1002@127.0.0.1>',
    'Call-ID: 2-99@127.0.0.1',
    'CSeq: 3 INVITE',
    'Contact: <sip:1001@127.0.0.1:5070;transport=TCP>',
    'Max-Forwards: 70',
    'Route: <sip:127.0.0.1:5060;lr;sbd=abc123>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS',
    'Supported: replaces, timer',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ]),
  crlf([
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsbd.1',
    'Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-2-1;rport=5070',
    'Record-Route: <sip:127.0.0.1:5060;lr;transport=udp>, <sip:127.0.0.1:5060;lr;transport=tcp>',
    'From: "Alice A." <sip:1001@127.0.0.1>;tag=2A1',
    'To: <sip:1002@127.0.0.1>;tag=b0b',
    'Call-ID: 2-99@127.0.0.1',
    'CSeq: 3 INVITE',
    'Contact: <sip:1002@127.0.0.1:5080>',
    'Content-Length: 0',
    '',
    '',
  ]),
  crlf([
    'SIP/2.0 200 OK',
    'v: SIP/2.0/UDP [::1]:5060;branch=z9hG4bKsbd.2',
    'f: <sip:1001@[::1]>;tag=a',
    't: <sip:1002@[::1]>;tag=b',
    'i: x@[::1]',
    'CSeq: 4 BYE',
    'l: 0',
    '',
    '',
  ]),
  crlf([
    'OPTIONS sip:127.0.0.1 SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKping',
    'Max-Forwards: 70',
    'From: <sip:ping@192.0.2.10>;tag=p',
    'To: <sip:127.0.0.1>',
    'Call-ID: ping-1',
    'CSeq: 1 OPTIONS',
    'Accept: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ]),
].map((s) => Buffer.from(s));
const corpus = [
  ...readdirSync(dir)
    .filter((f) => f.endsWith('.dat'))
    .map((f) => readFileSync(new URL(f, dir))),
  ...captured,
];

const interesting = [
  0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x2c, 0x22, 0x5c, 0x3c, 0x3e, 0x40, 0x25, 0x5b, 0x5d, 0x3f, 0x3d, 0x00, 0x7f, 0xc3, 0xff, 0x30, 0x39,
  0x2f,
];

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'run'; at: number; byte: number; len: number }
  | { kind: 'dup'; at: number; len: number }
  | { kind: 'splice'; at: number; other: number; from: number };

const byteArb = fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 }));
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: byteArb }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(byteArb, { minLength: 1, maxLength: 8 }) }),
  // Long runs of one byte (spaces, commas, semicolons...): the adversarial shapes of row 4.
  fc.record({
    kind: fc.constant('run' as const),
    at: fc.nat(),
    byte: fc.constantFrom(0x20, 0x09, 0x3b, 0x2c, 0x3c, 0x22, 0x25, 0x61),
    len: fc.integer({ min: 1, max: 3000 }),
  }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), other: fc.nat(), from: fc.nat() }),
);

function mutate(base: Buffer, ops: Mutation[]): Buffer {
  let cur = base;
  for (const op of ops) {
    const at = cur.length === 0 ? 0 : op.at % (cur.length + 1);
    switch (op.kind) {
      case 'set':
        cur = Buffer.from(cur);
        if (at < cur.length) cur[at] = op.byte;
        break;
      case 'delete':
        cur = Buffer.concat([cur.subarray(0, at), cur.subarray(at + op.len)]);
        break;
      case 'insert':
        cur = Buffer.concat([cur.subarray(0, at), Buffer.from(op.bytes), cur.subarray(at)]);
        break;
      case 'run':
        cur = Buffer.concat([cur.subarray(0, at), Buffer.alloc(op.len, op.byte), cur.subarray(at)]);
        break;
      case 'dup':
        cur = Buffer.concat([cur.subarray(0, at + op.len), cur.subarray(at)]);
        break;
      case 'splice': {
        const other = corpus[op.other % corpus.length]!;
        cur = Buffer.concat([cur.subarray(0, at), other.subarray(op.from % (other.length + 1))]);
        break;
      }
    }
  }
  return cur;
}

const mutatedArb = fc
  .tuple(fc.nat({ max: corpus.length - 1 }), fc.array(mutationArb, { minLength: 0, maxLength: 6 }))
  .map(([i, ops]) => mutate(corpus[i]!, ops));

// --- structured generation from the grammar's pieces
const token = fc.string({ unit: fc.constantFrom(..."abcXYZ019-.!%*_+`'~"), minLength: 1, maxLength: 10 });
const ws = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  fc.constant(' '),
  fc.string({ unit: fc.constantFrom(' ', '\t'), minLength: 1, maxLength: 400 }),
);
const host = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom('127.0.0.1', 'sbd.example', '[::1]', '[2001:db8::9]', 'a-b.c', 'x9') },
  fc.string({ unit: fc.constantFrom(...'abz09-.'), minLength: 1, maxLength: 12 }),
  token,
);
/** Mostly `good`, sometimes anything `bad` makes: enough valid messages for the round-trip to be exercised. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ weight: 19, arbitrary: good }, { weight: 1, arbitrary: bad });
/** Usually absent. */
const rarely = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: a });
const uriSafe = fc.string({ unit: fc.constantFrom(..."abc019-_.!~*'()"), minLength: 1, maxLength: 10 });
const uriUser = mostly(
  fc
    .array(fc.oneof(uriSafe, fc.constantFrom('%41', '%00', '%e9', '&', '=', '+', '$', ',', ';', '?', '/')), { minLength: 1, maxLength: 4 })
    .map((a) => a.join('')),
  fc.string({ unit: fc.constantFrom(..."abc019-_.!~*'()&=+$,;?/%4`"), minLength: 1, maxLength: 12 }),
);
const uriParam = fc
  .tuple(mostly(uriSafe, token), fc.option(mostly(fc.oneof(uriSafe, fc.constantFrom('udp', 'tcp', '%41', '[::1]')), token)))
  .map(([k, v]) => `;${k}${v === null ? '' : `=${v}`}`);
const sipUri = fc
  .tuple(
    mostly(fc.constantFrom('sip', 'sips', 'SIP'), fc.constantFrom('tel', 'x-y', '1a')),
    fc.option(uriUser),
    host,
    fc.option(mostly(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 65536, max: 999999 }))),
    fc.array(uriParam, { maxLength: 3 }),
    rarely(fc.constantFrom('?a=b', '?subject=x&h=%20', '?')),
  )
  .map(
    ([scheme, user, h, port, ps, hdr]) =>
      `${scheme}:${user === null ? '' : `${user}@`}${h}${port === null ? '' : `:${port}`}${ps.join('')}${hdr ?? ''}`,
  );
const quoted = mostly(
  fc
    .array(fc.oneof(fc.constantFrom('a', 'b c', '\t', ',', ';', '<>', ':', 'é', '\\"', '\\\\')), { maxLength: 6 })
    .map((a) => `"${a.join('')}"`),
  fc.string({ unit: fc.constantFrom(...'ab c"\\\t,;<>:é'), maxLength: 20 }).map((s) => `"${s}"`),
);
const genParam = fc
  .tuple(ws, token, fc.option(fc.tuple(ws, fc.oneof(token, quoted, host))))
  .map(([w, k, v]) => `${w};${k}${v === null ? '' : `${v[0]}=${v[1]}`}`);
const nameAddr = fc
  .tuple(
    fc.option(
      fc.oneof(
        quoted,
        fc.array(token, { minLength: 1, maxLength: 3 }).map((a) => a.join(' ')),
      ),
    ),
    ws,
    fc.boolean(),
    sipUri,
    fc.array(genParam, { maxLength: 3 }),
  )
  .map(([dn, w, angle, uri, ps]) => `${dn === null ? '' : `${dn}${w}`}${angle || dn !== null ? `<${uri}>` : uri}${ps.join('')}`);
const via = fc
  .tuple(
    mostly(fc.constantFrom('SIP/2.0/UDP', 'SIP/2.0/TCP', 'SIP / 2.0 / TLS', 'sip/2.0/udp'), fc.constantFrom('SIP/3.0/UDP', 'SIP/2.0')),
    ws,
    mostly(fc.constantFrom('127.0.0.1', 'sbd.example', '[::1]', 'a-b.c'), host),
    fc.option(mostly(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 65536, max: 999999 }))),
    fc.array(
      mostly(
        fc.tuple(token, fc.option(token)).map(([k, v]) => `;${k}${v === null ? '' : `=${v}`}`),
        genParam,
      ),
      { maxLength: 3 },
    ),
    fc.constantFrom(';branch=z9hG4bKgen', ';branch=x', ';rport', ''),
  )
  .map(([p, w, h, port, ps, b]) => `${p} ${w}${h}${port === null ? '' : `:${port}`}${b}${ps.join('')}`);
const list = <T extends string>(a: fc.Arbitrary<T>) =>
  fc.tuple(a, fc.array(a, { maxLength: 3 }), fc.boolean(), ws).map(([x, xs, one, w]) => (one ? [x] : [x, ...xs]).join(`${w},${w}`));
const method = fc.constantFrom('INVITE', 'REGISTER', 'OPTIONS', 'ACK', 'BYE', 'CANCEL', 'NOTIFY', 'REFER', 'inv!te');
const header = fc.oneof(
  fc.tuple(fc.constantFrom('Via', 'v', 'VIA'), list(via)),
  fc.tuple(fc.constantFrom('Contact', 'm', 'Route', 'Record-Route'), fc.oneof(list(nameAddr), fc.constant('*'))),
  fc.tuple(
    fc.constantFrom('Max-Forwards', 'Expires', 'Content-Length', 'l'),
    fc.oneof(fc.nat().map(String), fc.constantFrom('00070', '4294967296000', '-1', '1 2')),
  ),
  fc.tuple(
    fc.constantFrom('X-A', 'Subject', 'User-Agent', 'Supported', 'Allow', 'Authorization', 'Proxy-Authorization'),
    fc.tuple(ws, fc.string({ maxLength: 60 }), ws).map(([a, s, b]) => `${a}${s}${b}`),
  ),
  fc.tuple(token, fc.string({ unit: fc.constantFrom(...'a ,;="<>\\\t:@%'), maxLength: 40 })),
);
const callId = mostly(
  fc.oneof(
    token,
    fc.tuple(token, token).map(([a, b]) => `${a}@${b}`),
  ),
  fc.string({ maxLength: 10 }),
);

const generatedArb = fc
  .record({
    response: fc.boolean(),
    method,
    uri: sipUri,
    status: mostly(fc.integer({ min: 100, max: 699 }), fc.integer({ min: 0, max: 999 })),
    reason: mostly(fc.constantFrom('OK', 'Ringing', 'Not Found', 'Forbidden (bad)', ''), fc.string({ maxLength: 20 })),
    from: nameAddr,
    to: nameAddr,
    callId,
    cseq: fc.tuple(mostly(fc.nat({ max: 2 ** 31 - 1 }), fc.nat({ max: 2 ** 33 })), ws, rarely(token)),
    via: list(via),
    extra: fc.array(fc.oneof({ weight: 3, arbitrary: header.filter(([n]) => !['Content-Length', 'l'].includes(n)) }, header), {
      maxLength: 6,
    }),
    fold: fc.boolean(),
    body: fc.oneof(fc.constant(''), fc.constant(sdp), fc.string({ maxLength: 30 })),
    cl: mostly(fc.constantFrom('right', 'none'), fc.constant('wrong')),
  })
  .map((g) => {
    const start = g.response ? `SIP/2.0 ${g.status} ${g.reason}` : `${g.method} ${g.uri} SIP/2.0`;
    const lines = [
      start,
      `Via: ${g.via}`,
      `From:${g.fold ? '\r\n ' : ' '}${g.from}`,
      `To: ${g.to}`,
      `Call-ID: ${g.callId}`,
      `CSeq: ${g.cseq[0]}${g.cseq[1] || ' '}${g.cseq[2] ?? g.method}`,
      ...g.extra.map(([n, v]) => `${n}: ${v}`),
    ];
    const body = Buffer.from(g.body);
    if (g.cl === 'right') lines.push(`Content-Length: ${body.length}`);
    else if (g.cl === 'wrong') lines.push(`Content-Length: ${body.length + 3}`);
    return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), body]);
  });

// --- the properties

const stats = { parsed: 0, rejected: 0, refusedBySerializer: 0, answered400: 0 };

/** The typed errors the codec may raise; anything else is a bug. */
function expected(err: unknown): boolean {
  return err instanceof SipParseError || (err instanceof SipError && err.code === 'ERR_SIP_HEADER_VALUE');
}

function serializeOrRefuse(m: SipMessage): Buffer | undefined {
  try {
    return serializeMessage(m);
  } catch (err) {
    if (!(err instanceof SipError) || err.code !== 'ERR_SIP_HEADER_VALUE') throw err;
    stats.refusedBySerializer++;
    return undefined;
  }
}

function checkCodec(input: Buffer, framing: Framing): void {
  const work0 = scanWork.chars;
  let m: SipMessage;
  try {
    m = parseMessage(input, {}, framing);
    m.contacts?.();
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    assert.ok([400, 413, 414, 505, 513].includes(err.status), `status ${err.status}`);
    stats.rejected++;
    const answer = errorResponseFor(input, err);
    if (answer) {
      stats.answered400++;
      // One response whose lines are the status line, the copied headers and Content-Length: nothing the request
      // smuggled in became a line of its own (the copied values are the peer's, so they need not parse).
      const text = answer.toString('latin1');
      assert.ok(text.indexOf('\r\n\r\n') === text.length - 4, 'the answer ends with its only empty line');
      const lines = text.slice(0, -4).split('\r\n');
      assert.match(lines[0]!, /^SIP\/2\.0 (400|413|414|505|513) [^\r\n]*$/);
      for (const l of lines.slice(1)) assert.match(l, /^(Via|From|To|Call-ID|CSeq|Content-Length): [^\r\n\x00]*$/);
    }
    assert.ok(scanWork.chars - work0 <= 24 * input.length + 4096, `work ${scanWork.chars - work0} for ${input.length} bytes`);
    return;
  }
  stats.parsed++;
  // Stable: what we serialize parses again and serializes to the same bytes.
  const b1 = serializeOrRefuse(m);
  if (b1 !== undefined) {
    const m2 = parseMessage(b1, {}, 'stream');
    const b2 = serializeMessage(m2);
    assert.equal(b2.toString('latin1'), b1.toString('latin1'), 'parse → serialize → parse → serialize is stable');
    assert.equal(m2.kind, m.kind);
    assert.deepEqual(m2.body, m.body);
  }
  assert.ok(scanWork.chars - work0 <= 48 * input.length + 8192, `work ${scanWork.chars - work0} for ${input.length} bytes`);
}

function guard(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    if (expected(err)) throw new Error(`typed error escaped where it should have been handled: ${String(err)}`);
    throw err;
  }
}

test('mutated real messages: parser, serializer and 400 builder raise only typed errors; accepted input round-trips', () => {
  fc.assert(
    fc.property(mutatedArb, fc.boolean(), (input, stream) => guard(() => checkCodec(input, stream ? 'stream' : 'datagram'))),
    params(50_000),
  );
  assert.ok(stats.parsed > runs(50_000) / 20 && stats.rejected > runs(50_000) / 20, JSON.stringify(stats));
});

test('generated messages from the grammar (adversarial whitespace, separators, lists): same properties', () => {
  const before = { ...stats };
  fc.assert(
    fc.property(generatedArb, fc.boolean(), (input, stream) => guard(() => checkCodec(input, stream ? 'stream' : 'datagram'))),
    params(40_000),
  );
  assert.ok(
    stats.parsed - before.parsed > runs(40_000) / 20 && stats.rejected - before.rejected > runs(40_000) / 20,
    JSON.stringify(stats),
  );
});

test('stream framer: random splits give the same events as one write; buffered bytes and work stay bounded', () => {
  const limits = { maxHeaderBytes: 8192, maxBodyBytes: 8192 };
  const streamArb = fc.tuple(
    fc.array(fc.oneof(mutatedArb, generatedArb, fc.constantFrom(Buffer.from('\r\n\r\n'), Buffer.from('\r\n'))), {
      minLength: 1,
      maxLength: 4,
    }),
    fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
  );
  fc.assert(
    fc.property(streamArb, ([parts, cuts]) => {
      const bytes = Buffer.concat(parts);
      const summary = (evs: FramerEvent[]) =>
        evs.map((e) => (e.type === 'message' ? `m:${e.bytes.toString('latin1')}` : e.type === 'error' ? `e:${e.error.status}` : e.type));
      const whole = summary(new StreamFramer(limits).push(bytes));
      const f = new StreamFramer(limits);
      const events: FramerEvent[] = [];
      let at = 0;
      for (let k = 0; at < bytes.length; k++) {
        const len = cuts[k % cuts.length]!;
        events.push(...f.push(bytes.subarray(at, at + len)));
        at += len;
        assert.ok(f.buffered <= limits.maxHeaderBytes + limits.maxBodyBytes + 700, `buffered ${f.buffered}`);
      }
      assert.deepEqual(summary(events), whole);
      assert.ok(f.work <= 12 * bytes.length + 8192, `framer work ${f.work} for ${bytes.length} bytes`);
      for (const e of events) {
        if (e.type !== 'message') continue;
        try {
          parseMessage(e.bytes, {}, 'stream');
        } catch (err) {
          if (!(err instanceof SipParseError)) throw err;
        }
      }
      return true;
    }),
    params(12_000),
  );
});
