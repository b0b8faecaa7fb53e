/**
 * What every server transaction checks on a response its TU hands down, and the 100 Trying it may build by
 * itself (§8.2.6.1, §17.2.1).
 */
import { canonicalName } from '../messages/header-names.js';
import { SipResponse, type SipRequest } from '../messages/message.js';
import { TransactionCode, TransactionError } from './errors.js';

/** The TU's response must be a status 100–699 for this request (same CSeq); anything else is a local bug. */
export function checkResponseFor(req: SipRequest, res: SipResponse): void {
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 699) {
    throw new TransactionError(TransactionCode.response, `status ${res.status} is not 100–699`);
  }
  const a = req.cseq();
  let b;
  try {
    b = res.cseq();
  } catch (cause) {
    throw new TransactionError(TransactionCode.response, 'response has no valid CSeq', { cause });
  }
  if (a.seq !== b.seq || a.method !== b.method) {
    throw new TransactionError(TransactionCode.response, `response CSeq ${b.seq} ${b.method} does not answer ${a.seq} ${a.method}`);
  }
}

const tryingCopies = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'timestamp']);

/**
 * §8.2.6.1 with §17.2.1: Via (all), From, To (no tag: "SHOULD NOT" for a 100), Call-ID, CSeq and Timestamp copied
 * from the request.
 */
export function tryingFor(req: SipRequest): SipResponse {
  const headers = req.headers.filter((h) => tryingCopies.has(canonicalName(h.name))).map((h) => ({ name: h.name, value: h.value }));
  return new SipResponse(100, 'Trying', headers);
}
