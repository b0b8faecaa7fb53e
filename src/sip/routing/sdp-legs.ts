/**
 * The SRTP policy on the SDP a proxied message carries, given the transports of the leg it came in on and the
 * leg it goes out on (issue 16 row 10): the router's step 4.
 *  - keys that came over TLS never go out over UDP/TCP (RFC 4568 §8.3: SDES keys are as safe as the
 *    signalling that carries them): the body loses its a=crypto lines and RTP/SAVP (crypto-policy.ts withoutKeys);
 *  - an offer (INVITE, UPDATE: RFC 3261 §13.2.1, RFC 3311) passes `checkOffer`; the INVITE gets the secure-call
 *    indication, Encrypted only when the media is SRTP and both legs are TLS;
 *  - an answer in a request (PRACK, ACK) or in a 18x/2xx response is refused under Block Unencrypted Calls when
 *    it is not SRTP; the 2xx to INVITE carries the indication like the INVITE.
 * Messages are edited in place; what to answer or send instead is the router's business.
 */
import { canonicalName } from '../core/messages/header-names.js';
import type { SipMessage, SipRequest, SipResponse } from '../core/messages/message.js';
import { answerIsSecure, checkOffer, legsProtectKeys, SECURITY_INDICATION, withoutKeys, type CryptoPolicy } from '../sdp/crypto-policy.js';

const isSdp = (m: SipMessage) => m.body.length > 0 && /^application\/sdp/i.test(m.contentType() ?? '');

/**
 * A request's SDP: undefined when it may go on (edited in place), else the reason phrase of the 488.
 * `requiresTls`: the sender's security profile is authenticated/encrypted (asked only for SDES over non-TLS).
 */
export function requestSdp(
  req: SipRequest,
  inbound: string,
  outbound: string,
  policy: CryptoPolicy,
  requiresTls: () => boolean,
): string | undefined {
  if (!isSdp(req) || !['INVITE', 'UPDATE', 'PRACK', 'ACK'].includes(req.method)) return undefined;
  if (inbound !== 'tls' && /^a=crypto:/m.test(req.body.toString('latin1')) && requiresTls()) {
    return 'Not Acceptable Here (SDES keys over a non-TLS transport from a phone whose security profile requires TLS)';
  }
  if (inbound === 'tls' && outbound !== 'tls') req.body = withoutKeys(req.body);
  if (req.method === 'INVITE' || req.method === 'UPDATE') {
    const d = checkOffer(req.body, policy);
    if (d.mode === 'reject') return `Not Acceptable Here (${d.reason}; Block Unencrypted Calls is on)`;
    req.body = d.sdp;
    if (req.method === 'INVITE') setIndication(req, d.mode === 'srtp' && legsProtectKeys(inbound, outbound));
    return undefined;
  }
  if (policy.blockUnencrypted && !answerIsSecure(req.body, policy))
    return 'Not Acceptable Here (the answer has no SRTP; Block Unencrypted Calls is on)';
  return undefined;
}

/**
 * A response's SDP (18x, 2xx to INVITE, UPDATE or PRACK) from the callee's leg to the caller's: 'refuse' when
 * Block Unencrypted Calls must refuse its answer, else 'pass' (edited in place).
 */
export function responseSdp(res: SipResponse, calleeLeg: string, callerLeg: string, policy: CryptoPolicy): 'pass' | 'refuse' {
  const method = res.cseq().method;
  if (res.status >= 300 || res.status === 100 || !['INVITE', 'UPDATE', 'PRACK'].includes(method) || !isSdp(res)) return 'pass';
  if (calleeLeg === 'tls' && callerLeg !== 'tls') res.body = withoutKeys(res.body);
  const secure = answerIsSecure(res.body, policy);
  if (!secure && policy.blockUnencrypted) return 'refuse';
  if (method === 'INVITE' && res.status >= 200) setIndication(res, secure && legsProtectKeys(calleeLeg, callerLeg));
  return 'pass';
}

/** Replaces our secure-call indication (a Call-Info in the Cisco form); other Call-Info values stay. */
function setIndication(m: SipMessage, secure: boolean): void {
  const name = canonicalName(SECURITY_INDICATION.header);
  m.headers = m.headers.filter((h) => !(canonicalName(h.name) === name && /x-cisco-remotecc:callinfo/.test(h.value)));
  m.append(SECURITY_INDICATION.header, SECURITY_INDICATION.value(secure));
}
