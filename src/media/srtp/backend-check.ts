/**
 * Cross-backend check: a backend must give byte-identical SRTP/SRTCP to the OpenSSL backend for every suite,
 * packet size and direction, and reject what it should. Used by the AF_ALG test and by `sbd srtp selftest`,
 * which runs inside the booted image (the build host's kernel has no AF_ALG).
 */
import { randomBytes } from 'node:crypto';
import { MediaErrorCode } from '../errors.js';
import { SrtpContext, type Backend } from './context.js';
import { deriveSessionKey } from './kdf.js';
import { SUITES, SUITE_NAMES, type Suite } from '../../sdp/suites.js';

export interface BackendCheckResult {
  suite: Suite | 'kdf';
  ok: boolean;
  detail: string;
}

function rtp(seq: number, ssrc: number, size: number): Buffer {
  const b = randomBytes(size);
  (b[0] = 0x80), (b[1] = 0);
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

function rtcp(ssrc: number, size: number): Buffer {
  const b = randomBytes(size);
  (b[0] = 0x81), (b[1] = 200);
  b.writeUInt16BE(size / 4 - 1, 2);
  b.writeUInt32BE(ssrc, 4);
  return b;
}

export function checkBackend(backend: Backend, suites: readonly Suite[] = SUITE_NAMES): BackendCheckResult[] {
  const out: BackendCheckResult[] = [];
  const mk = randomBytes(32),
    ms = randomBytes(14);
  for (const [len, label] of [
    [16, 0],
    [20, 1],
    [14, 2],
    [32, 3],
  ] as const) {
    const a = deriveSessionKey(mk.subarray(0, 16), ms, label, len, 'openssl'),
      b = deriveSessionKey(mk.subarray(0, 16), ms, label, len, backend);
    if (!a.equals(b)) {
      out.push({ suite: 'kdf', ok: false, detail: `label ${label} differs` });
      return out;
    }
  }
  out.push({ suite: 'kdf', ok: true, detail: 'RFC 3711 §4.3 PRF identical' });
  for (const suite of suites) {
    const p = SUITES[suite];
    const policy = { suite, masterKey: randomBytes(p.keyLength), masterSalt: randomBytes(p.saltLength) };
    const refTx = new SrtpContext({ ...policy, backend: 'openssl' }),
      tx = new SrtpContext({ ...policy, backend });
    const rx = new SrtpContext({ ...policy, backend });
    let detail = '';
    try {
      for (const [i, size] of [12, 20, 172, 1200, 1600].entries()) {
        const pkt = rtp(65534 + i, 0x01020304, size);
        const a = refTx.protect(pkt),
          b = tx.protect(pkt);
        if (!a.equals(b)) throw new Error(`SRTP of ${size} bytes differs`);
        if (!rx.unprotect(b).equals(pkt)) throw new Error(`unprotect of ${size} bytes differs`);
        const c = rtcp(0x01020304, 8 + 4 * i * 10);
        const ca = refTx.protectRtcp(c),
          cb = tx.protectRtcp(c);
        if (!ca.equals(cb)) throw new Error(`SRTCP of ${c.length} bytes differs`);
        if (!rx.unprotectRtcp(cb).equals(c)) throw new Error(`SRTCP unprotect of ${c.length} bytes differs`);
      }
      const bad = Buffer.from(tx.protect(rtp(10, 0x01020304, 172)));
      bad[40]! ^= 1;
      try {
        rx.unprotect(bad);
        throw new Error('tampered packet accepted');
      } catch (err) {
        if ((err as { code?: string }).code !== MediaErrorCode.srtpAuth) throw err;
      }
      detail = 'identical bytes (SRTP 12-1600 B across a ROC rollover, SRTCP), tamper rejected';
      out.push({ suite, ok: true, detail });
    } catch (err) {
      out.push({ suite, ok: false, detail: (err as Error).message });
    } finally {
      refTx.close(), tx.close(), rx.close();
    }
  }
  return out;
}
