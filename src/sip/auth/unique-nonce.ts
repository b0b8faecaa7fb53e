/**
 * Digest server whose nonces are unique per challenge. The core's `DigestServer` makes a nonce from the
 * issuing second and an HMAC only, so every challenge issued in the same second carries the same nonce; its
 * nonce-count replay check (the highest nc seen per nonce) then refuses the second phone that answers with
 * nc=00000001 in that second. Here a nonce is
 *   base64url( issued-at seconds (8) ‖ random (8) ‖ HMAC-SHA-256(secret, issued-at ‖ random ‖ realm)[0..16) )
 * which keeps the core's properties (stateless check, bound to time, secret and realm) and makes nc tracking
 * per phone. Narrow override of the two nonce methods only; everything else is the core's.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DigestServer, type DigestServerOptions } from '../core/digest.js';

export class UniqueNonceDigestServer extends DigestServer {
  readonly #secret: Buffer;
  readonly #lifetime: number;

  constructor(o: DigestServerOptions) {
    super(o);
    this.#secret = o.secret;
    this.#lifetime = o.nonceLifetime ?? 300;
  }

  #mac(head: Buffer): Buffer {
    return createHmac('sha256', this.#secret).update(head).update(this.realm, 'utf8').digest().subarray(0, 16);
  }

  override makeNonce(now: number): string {
    const head = Buffer.alloc(16);
    head.writeBigUInt64BE(BigInt(Math.floor(now / 1000)));
    randomBytes(8).copy(head, 8);
    return Buffer.concat([head, this.#mac(head)]).toString('base64url');
  }

  override checkNonce(nonce: string, now: number): 'ok' | 'stale' | 'bad' {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 32 || raw.toString('base64url') !== nonce) return 'bad';
    const head = raw.subarray(0, 16);
    if (!timingSafeEqual(raw.subarray(16), this.#mac(head))) return 'bad';
    const age = Math.floor(now / 1000) - Number(head.readBigUInt64BE(0));
    if (age < -5) return 'bad';
    return age > this.#lifetime ? 'stale' : 'ok';
  }
}
