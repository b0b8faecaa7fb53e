/**
 * Phones of bench/tls-storm after a power cut: each opens a new TCP connection and makes a full TLS 1.2 handshake
 * (ECDHE-RSA-AES256-GCM-SHA384, no session to resume: the phone rebooted), sends REGISTER, gets 401, sends
 * REGISTER with digest (RFC 2617/3261 §22, MD5 qop=auth), gets 200 and keeps the connection, as phones do. A phone
 * that fails (reset, refusal, timeout) tries again after RETRY_DELAY_MS, at most MAX_ATTEMPTS times in all.
 * Runs in its own process (the client's TLS cost is not the server's), driven over Node's IPC channel:
 *   {cmd: 'storm', first, count, inflight}  phones first..first+count-1 (users <prefix><100000+i>, password pw<i>),
 *                                           at most `inflight` in their handshake or registration at once
 *   {cmd: 'close'}                          close every connection and exit
 * Answer: {ok, failed, retries, seconds, p50Ms, p99Ms, errors}; latency is per phone, first attempt to its 200.
 * Env: SBD_GEN_PORT, SBD_GEN_CA (PEM the server's certificate must chain to; the name is not checked).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, type TLSSocket } from 'node:tls';
import { answerChallenge } from '../../src/sip/core/auth/digest.js';
import type { SipResponse } from '../../src/sip/core/messages/message.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { StreamFramer } from '../../src/sip/core/messages/stream-framer.js';

const PORT = Number(process.env.SBD_GEN_PORT);
const CA = process.env.SBD_GEN_CA!;
const HOST = '127.0.0.1';
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ATTEMPTS = 5;
const RETRY_DELAY_MS = 1000;

const open: TLSSocket[] = [];

/** One phone's TLS connection and its pending response. */
function connectPhone(): Promise<{ socket: TLSSocket; next: () => Promise<SipResponse> }> {
  return new Promise((resolve, reject) => {
    const framer = new StreamFramer();
    const queued: SipResponse[] = [];
    let waiting: { resolve: (r: SipResponse) => void; reject: (e: Error) => void } | undefined;
    let failure: Error | undefined;
    const socket = connect({
      host: HOST,
      port: PORT,
      ca: CA,
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
    });
    const fail = (e: Error) => {
      failure ??= e;
      reject(e);
      waiting?.reject(e);
      waiting = undefined;
    };
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => {
      fail(new Error('timeout'));
      socket.destroy();
    });
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    socket.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.type !== 'message') continue;
        const m = parseMessage(ev.bytes, {}, 'stream');
        if (m.kind !== 'response') continue;
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w.resolve(m);
        } else queued.push(m);
      }
    });
    const next = () =>
      new Promise<SipResponse>((res, rej) => {
        if (failure) return rej(failure);
        const q = queued.shift();
        if (q) return res(q);
        waiting = { resolve: res, reject: rej };
      });
    socket.once('secureConnect', () => resolve({ socket, next }));
  });
}

function register(socket: TLSSocket, i: number, user: string, cseq: number, callId: string, tag: string, auth: string): void {
  const port = socket.localPort ?? 0;
  socket.write(
    `REGISTER sip:${HOST} SIP/2.0\r\nVia: SIP/2.0/TLS ${HOST}:${port};branch=z9hG4bK${randomBytes(8).toString('hex')};rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:${user}@${HOST}>;tag=${tag}\r\nTo: <sip:${user}@${HOST}>\r\nCall-ID: ${callId}\r\n` +
      `CSeq: ${cseq} REGISTER\r\nContact: <sip:${user}@${HOST}:${port};transport=tls>\r\nExpires: 3600\r\n` +
      `User-Agent: sbd-bench-storm-${i}\r\n${auth}Content-Length: 0\r\n\r\n`,
  );
}

async function phone(i: number, prefix: string): Promise<void> {
  const user = `${prefix}${100000 + i}`;
  const { socket, next } = await connectPhone();
  const callId = `${randomBytes(8).toString('hex')}@storm`;
  const tag = randomBytes(4).toString('hex');
  try {
    register(socket, i, user, 1, callId, tag, '');
    const challenge = await next();
    if (challenge.status !== 401) throw new Error(`first REGISTER: ${challenge.status}`);
    const uri = `sip:${HOST}`;
    const answer = answerChallenge({
      challenge: challenge.get('WWW-Authenticate')!,
      method: 'REGISTER',
      uri,
      username: user,
      secret: { password: `pw${i}` },
      cnonce: randomBytes(6).toString('hex'),
      nc: 1,
    });
    register(socket, i, user, 2, callId, tag, `Authorization: ${answer}\r\n`);
    const ok = await next();
    if (ok.status !== 200) throw new Error(`REGISTER with digest: ${ok.status}`);
    socket.setTimeout(0);
    open.push(socket);
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

async function storm(first: number, count: number, inflight: number, prefix: string) {
  const lat: number[] = [];
  const errors = new Map<string, number>();
  let ok = 0;
  let failed = 0;
  let retries = 0;
  const t0 = performance.now();
  const queue = Array.from({ length: count }, (_, k) => ({ i: first + k, attempt: 1, start: 0 }));
  await new Promise<void>((done) => {
    let active = 0;
    let next = 0;
    const finished = () => {
      if (ok + failed === count) done();
      else pump();
    };
    const pump = () => {
      while (active < inflight && next < queue.length) {
        const job = queue[next++]!;
        if (job.start === 0) job.start = performance.now();
        active++;
        phone(job.i, prefix).then(
          () => {
            active--;
            ok++;
            lat.push(performance.now() - job.start);
            finished();
          },
          (e: Error) => {
            active--;
            errors.set(e.message, (errors.get(e.message) ?? 0) + 1);
            if (job.attempt >= MAX_ATTEMPTS) {
              failed++;
              return finished();
            }
            // A phone that failed waits before it tries again, without holding a place in flight.
            retries++;
            job.attempt++;
            setTimeout(() => {
              queue.push(job);
              pump();
            }, RETRY_DELAY_MS);
            pump();
          },
        );
      }
    };
    if (count === 0) done();
    else pump();
  });
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (q: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]! : 0);
  return { ok, failed, retries, seconds, p50Ms: pct(0.5), p99Ms: pct(0.99), errors: Object.fromEntries(errors) };
}

process.on('message', async (m: { cmd: string; first?: number; count?: number; inflight?: number; prefix?: string }) => {
  if (m.cmd === 'storm') {
    process.send!(await storm(m.first ?? 0, m.count ?? 0, m.inflight ?? 200, m.prefix ?? 'p'));
    return;
  }
  for (const s of open) s.destroy();
  process.send!({}, () => process.exit(0));
});
process.send!({ ready: true });
