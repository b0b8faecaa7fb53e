/**
 * bench/srtp: SRTP written the naive way on node:crypto — one createCipheriv / createHmac per packet — the
 * baseline the issue names. Checked against the engine's bytes before it is timed.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { deriveSessionKey, KDF_LABELS, SUITES, type Suite } from '../src/media/srtp/index.js';

export interface NaiveSrtp {
  protect(rtp: Buffer): Buffer;
  unprotect(srtp: Buffer): Buffer;
}

export function naiveSrtp(suite: Suite, masterKey: Buffer, masterSalt: Buffer): NaiveSrtp {
  const p = SUITES[suite];
  const key = deriveSessionKey(masterKey, masterSalt, KDF_LABELS.rtpEncryption, p.keyLength);
  const salt = deriveSessionKey(masterKey, masterSalt, KDF_LABELS.rtpSalt, p.saltLength);
  const auth = deriveSessionKey(masterKey, masterSalt, KDF_LABELS.rtpAuthentication, 20);
  const algo = p.cipher === 'gcm' ? `aes-${p.keyLength * 8}-gcm` : `aes-${p.keyLength * 8}-ctr`;
  const roc = Buffer.alloc(4); // the bench stays in ROC 0
  const ivOf = (rtp: Buffer): Buffer => {
    const iv = Buffer.alloc(p.cipher === 'gcm' ? 12 : 16);
    if (p.cipher === 'gcm') {
      rtp.copy(iv, 2, 8, 12); // SSRC
      rtp.copy(iv, 10, 2, 4); // SEQ (ROC 0)
    } else {
      rtp.copy(iv, 4, 8, 12);
      rtp.copy(iv, 12, 2, 4);
    }
    for (let i = 0; i < salt.length; i++) iv[i]! ^= salt[i]!;
    return iv;
  };
  return {
    protect(rtp) {
      const iv = ivOf(rtp);
      const hdr = rtp.subarray(0, 12),
        payload = rtp.subarray(12);
      if (p.cipher === 'gcm') {
        const c = createCipheriv(algo, key, iv) as ReturnType<typeof createCipheriv> & { setAAD(b: Buffer): void; getAuthTag(): Buffer };
        c.setAAD(hdr);
        return Buffer.concat([hdr, c.update(payload), c.final(), c.getAuthTag()]);
      }
      const c = createCipheriv(algo, key, iv);
      const body = Buffer.concat([hdr, c.update(payload), c.final()]);
      const tag = createHmac('sha1', auth).update(body).update(roc).digest().subarray(0, p.rtpTagLength);
      return Buffer.concat([body, tag]);
    },
    unprotect(srtp) {
      const iv = ivOf(srtp);
      const hdr = srtp.subarray(0, 12);
      if (p.cipher === 'gcm') {
        const d = createDecipheriv(algo, key, iv) as ReturnType<typeof createDecipheriv> & {
          setAAD(b: Buffer): void;
          setAuthTag(b: Buffer): void;
        };
        d.setAAD(hdr);
        d.setAuthTag(srtp.subarray(srtp.length - 16));
        return Buffer.concat([hdr, d.update(srtp.subarray(12, srtp.length - 16)), d.final()]);
      }
      const body = srtp.subarray(0, srtp.length - p.rtpTagLength);
      const tag = createHmac('sha1', auth).update(body).update(roc).digest().subarray(0, p.rtpTagLength);
      if (!timingSafeEqual(tag, srtp.subarray(body.length))) throw new Error('auth');
      const d = createDecipheriv(algo, key, iv);
      return Buffer.concat([hdr, d.update(body.subarray(12)), d.final()]);
    },
  };
}
