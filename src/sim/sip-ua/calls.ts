/**
 * Calls of the simulated phone: SDES offer/answer (RFC 3264 + RFC 4568 through the media room's
 * `createCryptoOffer` / `negotiateCrypto` / `acceptCryptoAnswer`), the dialog (§12) and the SRTP media session.
 *
 * Caller: INVITE with our suites in call priority → on the 2xx: dialog, ACK (§13.2.2.4, sent outside the
 * transaction and again for every retransmitted 2xx), the answer's crypto line checked against our offer → keys.
 * Callee: 180 Ringing, then 200 OK with the answer (one crypto line, our fresh key) → media keyed at once; the
 * ACK confirms. A callee with `requireSrtp` refuses an offer without a usable suite with 488 (RFC 4568 §7.5).
 * The secure-call indication the server adds (Call-Info …;security=Encrypted|NotAuthenticated) is recorded.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { acceptCryptoAnswer, createCryptoOffer, negotiateCrypto, type CryptoAttribute } from '../../sdp/index.js';
import type { Suite } from '../../sdp/suites.js';
import { Dialog, dialogKeyOfRequest } from '../../sip/core/dialogs/dialog.js';
import { ackFor2xx, byeRequest } from '../../sip/core/dialogs/dialog-request.js';
import { SipRequest, type HeaderField, type SipResponse } from '../../sip/core/messages/message.js';
import { parseUri } from '../../sip/core/messages/uri.js';
import { makeTag } from '../../sip/core/transactions/branch.js';
import { makeResponse } from '../../sip/core/messages/make-response.js';
import { MediaSession } from './media-session.js';
import { answeredCrypto, buildSdp, parseAudio } from './sdp.js';
import { SipUaError, SipUaErrorCode } from './errors.js';
import type { SipPhone } from './user-agent.js';

export type CallEnd = 'local-bye' | 'remote-bye' | 'cancelled';

export class Call {
  readonly role: 'uac' | 'uas';
  readonly dialog: Dialog;
  readonly media: MediaSession;
  /** The negotiated suite; undefined: plain RTP. */
  readonly suite: Suite | undefined;
  /** `security=` of the Call-Info the server added (Encrypted / NotAuthenticated), if any. */
  readonly securityIndication: string | undefined;
  readonly ended: Promise<CallEnd>;
  /** UAS: resolves when the ACK for our 2xx arrives; UAC: already resolved. */
  readonly confirmed: Promise<void>;
  private readonly phone: SipPhone;
  private readonly ack: SipRequest | undefined;
  private endWith!: (why: CallEnd) => void;
  private confirm!: () => void;

  constructor(f: {
    phone: SipPhone;
    role: 'uac' | 'uas';
    dialog: Dialog;
    media: MediaSession;
    suite: Suite | undefined;
    security: string | undefined;
    ack?: SipRequest;
  }) {
    this.phone = f.phone;
    this.role = f.role;
    this.dialog = f.dialog;
    this.media = f.media;
    this.suite = f.suite;
    this.securityIndication = f.security;
    this.ack = f.ack;
    this.ended = new Promise((resolve) => {
      this.endWith = resolve;
    });
    this.confirmed = new Promise((resolve) => {
      this.confirm = resolve;
    });
    if (f.role === 'uac') this.confirm();
    f.phone.calls.set(this.dialog.id, this);
  }

  /** BYE (§15.1.1): the dialog ends at once; resolves with the BYE's final response. */
  async hangup(): Promise<SipResponse> {
    if (this.dialog.state === 'terminated') throw new SipUaError(SipUaErrorCode.state, `call ${this.dialog.callId} is already over`);
    const bye = byeRequest(this.dialog, { via: this.phone.via() });
    this.finish('local-bye');
    return this.phone.request(bye);
  }

  /** A request the transaction layer delivered: ours if it is in this dialog. */
  handlesRequest(id: string, req: SipRequest): boolean {
    if (dialogKeyOfRequest(req) !== this.dialog.id) return false;
    const check = this.dialog.receiveRequest(req);
    if (!check.ok) {
      this.phone.respond(id, makeResponse(req, check.status, check.reason));
      return true;
    }
    if (req.method === 'BYE') {
      this.phone.respond(id, makeResponse(req, 200, 'OK'));
      this.finish('remote-bye');
    } else if (req.method === 'INVITE') {
      // Re-INVITE (hold/resume): the media keeps its keys; answer with the same stream (RFC 3264 §8).
      this.phone.respond(
        id,
        makeResponse(req, 200, 'OK', [{ name: 'Contact', value: `<${this.phone.contact()}>` }], {
          type: 'application/sdp',
          bytes: buildSdp({ address: this.media.address, port: this.media.port, payloadTypes: [0, 8], sessionId: '1', sessionVersion: 2 }),
        }),
      );
    } else this.phone.respond(id, makeResponse(req, 200, 'OK'));
    return true;
  }

  onAck(ack: SipRequest): void {
    if (this.role === 'uas' && dialogKeyOfRequest(ack) === this.dialog.id) this.confirm();
  }

  onStray2xx(res: SipResponse): void {
    if (
      this.role !== 'uac' ||
      !this.ack ||
      res.status < 200 ||
      res.status >= 300 ||
      res.cseq().method !== 'INVITE' ||
      res.callId() !== this.dialog.callId
    )
      return;
    this.phone.sendRaw(this.ack);
  }

  onCancel(_inviteTx: string, _cancel: SipRequest): void {
    // Calls are answered at once: a CANCEL that crosses our 200 finds no pending INVITE (§9.2); the BYE follows.
  }

  private finish(why: CallEnd): void {
    this.phone.calls.delete(this.dialog.id);
    this.media.close();
    this.endWith(why);
  }
}

function securityOf(m: { getAll(n: string): string[] }): string | undefined {
  for (const v of m.getAll('Call-Info')) {
    const s = /x-cisco-remotecc:callinfo>.*;\s*security=([A-Za-z]+)/.exec(v);
    if (s) return s[1];
  }
  return undefined;
}

export async function placeCall(phone: SipPhone, target: string): Promise<Call> {
  const uri = parseUri(/^sips?:/.test(target) ? target : `sip:${target}@${phone.domain}`);
  const media = await MediaSession.open({ ...(phone.o.mediaAddress ? { address: phone.o.mediaAddress } : {}) });
  try {
    const offer: CryptoAttribute[] = createCryptoOffer(phone.suites, 'call');
    if (offer.length === 0 && phone.o.requireSrtp)
      throw new SipUaError(SipUaErrorCode.sdp, 'no SRTP suite to offer and the phone requires SRTP');
    const sdp = buildSdp({
      address: media.address,
      port: media.port,
      payloadTypes: [0, 8],
      crypto: offer,
      sessionId: String(randomInt(1, 2 ** 31)),
    });
    const callId = `${randomBytes(10).toString('hex')}@sbd-phone`;
    const fromTag = makeTag();
    let seq = randomInt(1, 2 ** 16);
    let invite: SipRequest | undefined;
    const build = (auth?: HeaderField): SipRequest =>
      new SipRequest(
        'INVITE',
        uri,
        [
          phone.viaHeader(),
          { name: 'Max-Forwards', value: '70' },
          { name: 'From', value: `<sip:${phone.o.line}@${phone.domain}>;tag=${fromTag}` },
          { name: 'To', value: `<${target.startsWith('sip') ? target : `sip:${target}@${phone.domain}`}>` },
          { name: 'Call-ID', value: callId },
          { name: 'CSeq', value: `${seq++} INVITE` },
          { name: 'Contact', value: `<${phone.contact()}>` },
          { name: 'User-Agent', value: phone.userAgent() },
          { name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS' },
          ...(auth ? [auth] : []),
          { name: 'Content-Type', value: 'application/sdp' },
        ],
        sdp,
      );
    const res = await phone.withAuth(build, undefined, (r) => {
      invite = r;
    });
    if (res.status >= 300)
      throw new SipUaError(SipUaErrorCode.refused, `INVITE ${target} refused: ${res.status} ${res.reason}`, { status: res.status });
    const dialog = Dialog.uac(invite!, res, { overTls: phone.flow.transport === 'tls' });
    const ack = ackFor2xx(dialog, invite!.cseq().seq, { via: phone.via() });
    phone.sendRaw(ack);
    const remote = parseAudio(res.body);
    let suite: Suite | undefined;
    if (offer.length > 0 && remote.crypto.length > 0) {
      const keys = acceptCryptoAnswer(offer, answeredCrypto(remote));
      if (!keys) throw new SipUaError(SipUaErrorCode.sdp, `answer's crypto line ${remote.crypto[0]} is not one we offered`);
      media.start({ address: remote.address, port: remote.port }, { tx: keys.txPolicy, rx: keys.rxPolicy });
      suite = keys.suite;
    } else {
      if (phone.o.requireSrtp) throw new SipUaError(SipUaErrorCode.sdp, 'the answer dropped SRTP and the phone requires it');
      media.start({ address: remote.address, port: remote.port });
    }
    return new Call({ phone, role: 'uac', dialog, media, suite, security: securityOf(res), ack });
  } catch (err) {
    media.close();
    throw err;
  }
}

/** Answers an incoming INVITE (server transaction `id`): 180, then 200 with the SDES answer, or 488/400. */
export async function answerIncoming(phone: SipPhone, id: string, invite: SipRequest): Promise<Call | undefined> {
  let remote;
  try {
    remote = parseAudio(invite.body);
  } catch (err) {
    phone.respond(id, makeResponse(invite, 488, `Not Acceptable Here (${(err as Error).message})`));
    return undefined;
  }
  const r = negotiateCrypto(remote.crypto, { allowed: phone.suites, blockUnencrypted: phone.o.requireSrtp ?? false, purpose: 'call' });
  const srtp = r.mode === 'srtp' && remote.profile === 'RTP/SAVP';
  if (r.mode === 'reject' || (!srtp && phone.o.requireSrtp)) {
    phone.respond(id, makeResponse(invite, 488, `Not Acceptable Here (${r.mode === 'srtp' ? 'offer is not RTP/SAVP' : r.reason})`));
    return undefined;
  }
  // RFC 3261 §12.1.1: a response that establishes a dialog copies the request's Record-Route (the caller's route set).
  const contact = { name: 'Contact', value: `<${phone.contact()}>` };
  const rr = invite.getAll('Record-Route').map((value) => ({ name: 'Record-Route', value }));
  phone.respond(id, makeResponse(invite, 180, 'Ringing', [...rr, contact]));
  const media = await MediaSession.open({ ...(phone.o.mediaAddress ? { address: phone.o.mediaAddress } : {}) });
  const sdp = buildSdp({
    address: media.address,
    port: media.port,
    payloadTypes: answerPayloads(remote.payloadTypes),
    ...(srtp && r.mode === 'srtp' ? { crypto: [r.local] } : {}),
    sessionId: String(randomInt(1, 2 ** 31)),
  });
  const ok = makeResponse(invite, 200, 'OK', [...rr, contact, { name: 'User-Agent', value: phone.userAgent() }], {
    type: 'application/sdp',
    bytes: sdp,
  });
  if (srtp && r.mode === 'srtp') media.start({ address: remote.address, port: remote.port }, { tx: r.txPolicy, rx: r.rxPolicy });
  else media.start({ address: remote.address, port: remote.port });
  const dialog = Dialog.uas(invite, ok, { overTls: phone.flow.transport === 'tls' });
  const call = new Call({
    phone,
    role: 'uas',
    dialog,
    media,
    suite: srtp && r.mode === 'srtp' ? r.suite : undefined,
    security: securityOf(invite),
  });
  phone.respond(id, ok);
  return call;
}

/** RFC 3264 §6.1: the answer lists the offered formats we support, in the offer's order (G.711 only here). */
function answerPayloads(offered: readonly number[]): number[] {
  const ours = offered.filter((pt) => pt === 0 || pt === 8);
  return ours.length > 0 ? ours : [0];
}
