/**
 * One-shot message digests for hot paths (SIP digest, response tags, branches): Node ≥ 20.12's `crypto.hash`
 * costs about a third of a `createHash` object per call (OpenSSL 3 fetches the algorithm on every object);
 * `createHash` where it is missing. Same bytes either way.
 */
import * as nodeCrypto from 'node:crypto';

type OneShot = (algorithm: string, data: string | Buffer, encoding: 'hex' | 'base64url' | 'buffer') => string | Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;

export const hasOneShotHash = oneShot !== undefined;

export function hashString(algorithm: 'md5' | 'sha1' | 'sha256', data: string | Buffer, encoding: 'hex' | 'base64url'): string {
  return oneShot ? (oneShot(algorithm, data, encoding) as string) : nodeCrypto.createHash(algorithm).update(data).digest(encoding);
}

export function hashBytes(algorithm: 'md5' | 'sha1' | 'sha256', data: Buffer): Buffer {
  return oneShot ? (oneShot(algorithm, data, 'buffer') as Buffer) : nodeCrypto.createHash(algorithm).update(data).digest();
}
