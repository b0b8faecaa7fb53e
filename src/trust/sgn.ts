/**
 * Signed files `NAME.sgn` (spec §2.1): the trust-file header (no records, no tag 28), then the original bytes
 * unchanged. FILENAME is the served name including `.sgn` and any sub-directory. Version 1.0 as certutils writes it
 * (CUCM's own value is not public).
 */
import { buildSignedFile, type Signer } from './build.js';
import { parseTrustFile } from './codec.js';
import { TrustError, TrustErrorCode } from './errors.js';
import type { HashName } from './tags.js';

export interface SgnSpec {
  body: Buffer;
  filename: string;
  signer: Signer;
  timestamp: number;
  hash?: HashName;
}

export function buildSgn(spec: SgnSpec): Buffer {
  if (!spec.filename.endsWith('.sgn'))
    throw new TrustError(TrustErrorCode.content, `a signed file's FILENAME must end in .sgn, got "${spec.filename}"`);
  return buildSignedFile({
    signer: spec.signer,
    filename: spec.filename,
    timestamp: spec.timestamp,
    version: [1, 0],
    hash: spec.hash ?? 'sha1',
    body: spec.body,
  });
}

/** `stripsgn`: the original bytes of a .sgn file. */
export function sgnBody(bytes: Buffer): Buffer {
  return parseTrustFile(bytes, { kind: 'sgn' }).body;
}
