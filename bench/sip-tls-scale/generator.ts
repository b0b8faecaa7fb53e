/**
 * Load generator of bench/sip-tls-scale: N simulated phones, each with its own TLS connection to sbd-sipd kept
 * open as phones keep it, registering with digest over it. Runs in its own process (the TLS client cost is the
 * generator's, not the server's), driven by the bench over Node's IPC channel:
 *
 *   {cmd: 'warmup'}                      one extra connection: register phone 0, unregister, close
 *   {cmd: 'connect', concurrency}        open the N TLS connections (full handshakes, `concurrency` at once)
 *   {cmd: 'register', concurrency}       REGISTER → 401 → REGISTER with Authorization (nc=1) → 200 on each
 *   {cmd: 'refresh', rate, count, concurrency}  `count` phones (default all) re-REGISTER once each, paced at
 *                                        `rate`/s, over their open connection: the nonce of its last
 *                                        challenge with nc+1 (a 401 — stale or forgotten nonce — is answered
 *                                        and counted as a re-challenge)
 *   {cmd: 'open'}                        how many connections are still open
 *   {cmd: 'close'}
 *
 * Each answer is one IPC message {ok, failed, rechallenged, seconds, p50Ms, p99Ms, errors}. The phones talk
 * TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384 (what the phones use), verify sbd's CallManager certificate
 * against the PEM passed in SBD_GEN_CA (the name is not checked: the certificate names the host, we dial 127.0.0.1).
 */
import { randomBytes } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { answerChallenge } from '../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { StreamFramer } from '../../src/sip/core/messages/stream-framer.js';
import type { SipResponse } from '../../src/sip/core/messages/message.js';

const N = Number(process.env.SBD_GEN_PHONES);
const PORT = Number(process.env.SBD_GEN_PORT);
const CA = process.env.SBD_GEN_CA!;
const HOST = '127.0.0.1';
const EXPIRES = Number(process.env.SBD_GEN_EXPIRES ?? 3600);
const REQUEST_TIMEOUT_MS = 60_000;

interface Phone {
  user: string;
  password: string;
  socket?: TLSSocket;
  framer: StreamFramer;
  callId: string;
  tag: string;
  cseq: number;
  challenge?: string;
  nc: number;
  waiting?: { resolve: (r: SipResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
}

const phone = (i: number): Phone => ({
  user: `p${100000 + i}`,
  password: `pw${i}`,
  framer: new StreamFramer(),
  callId: `${randomBytes(8).toString('hex')}@gen`,
  tag: randomBytes(4).toString('hex'),
  cseq: 1,
  nc: 0,
});
const phones: Phone[] = Array.from({ length: N }, (_, i) => phone(i));

function open(p: Phone): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({
      host: HOST,
      port: PORT,
      ca: CA,
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
    });
    const fail = (e: Error) => {
      if (p.waiting) {
        clearTimeout(p.waiting.timer);
        p.waiting.reject(e);
        p.waiting = undefined;
      }
    };
    s.once('secureConnect', () => {
      p.socket = s;
      resolve();
    });
    s.on('error', (e) => {
      reject(e);
      fail(e);
    });
    s.on('close', () => {
      p.socket = undefined;
      fail(new Error('connection closed'));
    });
    s.on('data', (chunk: Buffer) => {
      for (const ev of p.framer.push(chunk)) {
        if (ev.type !== 'message') continue;
        const m = parseMessage(ev.bytes, {}, 'stream');
        if (m.kind !== 'response' || !p.waiting) continue;
        const w = p.waiting;
        p.waiting = undefined;
        clearTimeout(w.timer);
        w.resolve(m);
      }
    });
  });
}

function register(p: Phone, expires: number, withAuth: boolean): Promise<SipResponse> {
  const port = p.socket?.localPort ?? 0;
  const uri = `sip:${HOST}`;
  let auth = '';
  if (withAuth && p.challenge) {
    p.nc++;
    auth = `Authorization: ${answerChallenge({ challenge: p.challenge, method: 'REGISTER', uri, username: p.user, secret: { password: p.password }, cnonce: randomBytes(6).toString('hex'), nc: p.nc })}\r\n`;
  }
  const msg =
    `REGISTER ${uri} SIP/2.0\r\nVia: SIP/2.0/TLS ${HOST}:${port};branch=z9hG4bK${randomBytes(8).toString('hex')};rport\r\nMax-Forwards: 70\r\n` +
    `From: <sip:${p.user}@${HOST}>;tag=${p.tag}\r\nTo: <sip:${p.user}@${HOST}>\r\nCall-ID: ${p.callId}\r\nCSeq: ${p.cseq++} REGISTER\r\n` +
    `Contact: <sip:${p.user}@${HOST}:${port};transport=tls>\r\nExpires: ${expires}\r\nUser-Agent: sbd-bench-phone\r\n${auth}Content-Length: 0\r\n\r\n`;
  return new Promise((resolve, reject) => {
    if (!p.socket) return reject(new Error('not connected'));
    const timer = setTimeout(() => {
      p.waiting = undefined;
      reject(new Error('timeout'));
    }, REQUEST_TIMEOUT_MS);
    p.waiting = { resolve, reject, timer };
    p.socket.write(msg);
  });
}

/** A registration with digest: answers up to two 401s (the first, or a stale/forgotten nonce). */
async function registerWithDigest(p: Phone, expires: number, tryNonce: boolean): Promise<{ rechallenged: boolean }> {
  let r = await register(p, expires, tryNonce);
  let challenges = 0;
  while (r.status === 401 && challenges < 2) {
    challenges++;
    p.challenge = r.get('WWW-Authenticate');
    p.nc = 0;
    r = await register(p, expires, true);
  }
  if (r.status !== 200) throw new Error(`${r.status} ${r.reason}`);
  return { rechallenged: tryNonce && challenges > 0 };
}

/** Runs fn on every item, at most `concurrency` at once, starting at most `rate` per second (Infinity: unpaced). */
async function paced<T>(items: T[], concurrency: number, rate: number, fn: (x: T) => Promise<unknown>) {
  const lat: number[] = [];
  const errors = new Map<string, number>();
  let ok = 0;
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let inFlight = 0;
    const pump = () => {
      while (inFlight < concurrency && next < items.length) {
        const due = t0 + (next / rate) * 1000;
        const now = performance.now();
        if (due > now) {
          setTimeout(pump, Math.max(1, due - now));
          return;
        }
        const x = items[next++]!;
        inFlight++;
        const s = performance.now();
        fn(x)
          .then(
            () => {
              ok++;
              lat.push(performance.now() - s);
            },
            (e: Error) => {
              failed++;
              errors.set(e.message, (errors.get(e.message) ?? 0) + 1);
            },
          )
          .finally(() => {
            inFlight--;
            if (next >= items.length && inFlight === 0) done();
            else pump();
          });
      }
      if (items.length === 0) done();
    };
    pump();
  });
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (q: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]! : 0);
  return { ok, failed, seconds, p50Ms: pct(0.5), p99Ms: pct(0.99), errors: Object.fromEntries(errors) };
}

process.on('message', async (m: { cmd: string; concurrency?: number; rate?: number; count?: number }) => {
  const c = m.concurrency ?? 200;
  let out: Record<string, unknown>;
  if (m.cmd === 'warmup') {
    const p = phone(0);
    await open(p);
    await registerWithDigest(p, EXPIRES, false);
    await registerWithDigest(p, 0, true);
    p.socket!.destroy();
    out = { ok: 1 };
  } else if (m.cmd === 'connect') {
    out = await paced(phones, c, Infinity, open);
  } else if (m.cmd === 'register') {
    out = await paced(
      phones.filter((p) => p.socket),
      c,
      Infinity,
      (p) => registerWithDigest(p, EXPIRES, false),
    );
  } else if (m.cmd === 'refresh') {
    let rechallenged = 0;
    out = await paced(phones.filter((p) => p.socket).slice(0, m.count ?? N), c, m.rate ?? Infinity, async (p) => {
      if ((await registerWithDigest(p, EXPIRES, true)).rechallenged) rechallenged++;
    });
    out.rechallenged = rechallenged;
  } else if (m.cmd === 'open') {
    out = { open: phones.filter((p) => p.socket && !p.socket.destroyed).length };
  } else {
    for (const p of phones) p.socket?.destroy();
    out = {};
    process.send!(out, () => process.exit(0));
    return;
  }
  process.send!(out);
});
process.send!({ ready: true });
