/**
 * A dialog (RFC 3261 §12): the peer-to-peer state two UAs keep between an INVITE (or another dialog-creating
 * request) and its end. Sans-I/O: messages in, state changes out; in-dialog requests are built by
 * dialog-request.ts from this state. Identity is Call-ID + local tag + remote tag; the route set is fixed by the
 * creating message, the remote target follows target refreshes; the remote CSeq must not go backwards (500).
 * State table: docs/sip-transactions.md "Theory of operation".
 */
import { SipError } from '../messages/errors.js';
import type { SipRequest, SipResponse } from '../messages/message.js';
import type { NameAddr } from '../messages/name-addr.js';
import type { Uri } from '../messages/uri.js';

export type DialogState = 'early' | 'confirmed' | 'terminated';
export type DialogRole = 'uac' | 'uas';

export const DialogCode = {
  /** The message cannot create a dialog (100, no To tag, no or `*` Contact, a status that creates none). */
  create: 'ERR_SIP_DIALOG_CREATE',
  /** The message belongs to another dialog (Call-ID or tags differ). */
  mismatch: 'ERR_SIP_DIALOG_MISMATCH',
  /** A request that cannot be built this way (ACK or CANCEL through inDialogRequest, CSeq past 2**31-1). */
  request: 'ERR_SIP_DIALOG_REQUEST',
  /** The dialog is over; no request can be built in it. */
  terminated: 'ERR_SIP_DIALOG_TERMINATED',
} as const;
export type DialogCode = (typeof DialogCode)[keyof typeof DialogCode];

export class DialogError extends SipError {
  declare readonly code: DialogCode;

  constructor(code: DialogCode, message: string) {
    super(code, message);
  }
}

/** Methods whose requests refresh the remote target (§12.2, RFC 3311 UPDATE, RFC 6665 SUBSCRIBE/NOTIFY, RFC 3515). */
export const targetRefreshMethods: ReadonlySet<string> = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\u0000${localTag}\u0000${remoteTag}`;
}

/** The dialog a received request belongs to, seen from the receiver: local = To tag, remote = From tag. */
export function dialogKeyOfRequest(req: SipRequest): string {
  return dialogKey(req.callId(), req.to().params.get('tag') ?? '', req.from().params.get('tag') ?? '');
}

/** The dialog a received response belongs to, seen from the UAC: local = From tag, remote = To tag. */
export function dialogKeyOfResponse(res: SipResponse): string {
  return dialogKey(res.callId(), res.from().params.get('tag') ?? '', res.to().params.get('tag') ?? '');
}

export interface DialogCreateOptions {
  /** The request went (UAC) or came (UAS) over TLS: with a sips Request-URI the dialog is secure (§12.1.1). */
  overTls?: boolean;
}

/** Result of checking a request received in this dialog: accepted, or the response to send instead. */
export type InDialogCheck = { ok: true } | { ok: false; status: 481 | 500; reason: string };

export class Dialog {
  readonly role: DialogRole;
  state: DialogState;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Last CSeq number we used; undefined until we send a request (UAS side, §12.1.1). */
  localSeq: number | undefined;
  /** Last CSeq number the peer used; undefined until it sends one (UAC side, §12.1.2). */
  remoteSeq: number | undefined;
  /** Our From/To identity (URI and display name, without the tag). */
  readonly local: NameAddr;
  readonly remote: NameAddr;
  remoteTarget: Uri;
  routeSet: NameAddr[];
  readonly secure: boolean;
  /** CSeq number of the request that created the dialog (its 2xx confirms the dialog). */
  readonly creatingSeq: number;
  readonly creatingMethod: string;

  private constructor(f: {
    role: DialogRole;
    state: DialogState;
    callId: string;
    localTag: string;
    remoteTag: string;
    localSeq: number | undefined;
    remoteSeq: number | undefined;
    local: NameAddr;
    remote: NameAddr;
    remoteTarget: Uri;
    routeSet: NameAddr[];
    secure: boolean;
    creatingSeq: number;
    creatingMethod: string;
  }) {
    this.role = f.role;
    this.state = f.state;
    this.callId = f.callId;
    this.localTag = f.localTag;
    this.remoteTag = f.remoteTag;
    this.localSeq = f.localSeq;
    this.remoteSeq = f.remoteSeq;
    this.local = f.local;
    this.remote = f.remote;
    this.remoteTarget = f.remoteTarget;
    this.routeSet = f.routeSet;
    this.secure = f.secure;
    this.creatingSeq = f.creatingSeq;
    this.creatingMethod = f.creatingMethod;
  }

  get id(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * §12.1.2: the UAC's dialog from a 101–199 (with To tag) or 2xx response to its request. Route set = the
   * response's Record-Route reversed; remote target = its Contact; local seq = the request's CSeq.
   */
  static uac(req: SipRequest, res: SipResponse, o: DialogCreateOptions = {}): Dialog {
    const remoteTag = creatingTag(res);
    return new Dialog({
      role: 'uac',
      state: res.status < 200 ? 'early' : 'confirmed',
      callId: req.callId(),
      localTag: requireTag(req.from(), 'From of the request'),
      remoteTag,
      localSeq: req.cseq().seq,
      remoteSeq: undefined,
      local: untagged(req.from()),
      remote: untagged(res.to()),
      remoteTarget: contactOf(res),
      routeSet: [...res.recordRoute()].reverse(),
      secure: (o.overTls ?? false) && req.uri.scheme === 'sips',
      creatingSeq: req.cseq().seq,
      creatingMethod: req.method,
    });
  }

  /**
   * §12.1.1: the UAS's dialog when it sends a 101–199 with a To tag or a 2xx. Route set = the request's
   * Record-Route in order; remote target = the request's Contact; remote seq = the request's CSeq.
   */
  static uas(req: SipRequest, res: SipResponse, o: DialogCreateOptions = {}): Dialog {
    const localTag = creatingTag(res);
    return new Dialog({
      role: 'uas',
      state: res.status < 200 ? 'early' : 'confirmed',
      callId: req.callId(),
      localTag,
      remoteTag: req.from().params.get('tag') ?? '',
      localSeq: undefined,
      remoteSeq: req.cseq().seq,
      local: untagged(res.to()),
      remote: untagged(req.from()),
      remoteTarget: contactOf(req),
      routeSet: [...req.recordRoute()],
      secure: (o.overTls ?? false) && req.uri.scheme === 'sips',
      creatingSeq: req.cseq().seq,
      creatingMethod: req.method,
    });
  }

  /** A response (to the creating request, or to a request we sent in the dialog) reached the UAC. */
  receiveResponse(res: SipResponse): void {
    if (dialogKeyOfResponse(res) !== this.id) throw new DialogError(DialogCode.mismatch, 'response belongs to another dialog');
    if (this.state === 'terminated') return;
    const { seq, method } = res.cseq();
    const s = res.status;
    if (this.isCreating(seq, method) && this.state === 'early') {
      if (s >= 300) return this.terminate();
      if (s >= 200) {
        // §13.2.2.4: the 2xx confirms the dialog; its route set is recomputed from this response (§12.2.1.2).
        this.state = 'confirmed';
        if (this.role === 'uac') this.routeSet = [...res.recordRoute()].reverse();
      }
      if (s > 100) this.refreshTarget(res);
      return;
    }
    // §12.2.1.2: 481 or 408 to an in-dialog request ends the dialog.
    if (s === 481 || s === 408) return this.terminate();
    if (s >= 200 && s < 300 && targetRefreshMethods.has(method)) this.refreshTarget(res);
  }

  /** The UAS sent a response to the creating request: early → confirmed on 2xx, → terminated on 300–699. */
  sentResponse(res: SipResponse): void {
    if (this.state !== 'early') return;
    const { seq, method } = res.cseq();
    if (!this.isCreating(seq, method)) return;
    if (res.status >= 300) this.terminate();
    else if (res.status >= 200) this.state = 'confirmed';
  }

  /**
   * §12.2.2: a request received in this dialog. A lower CSeq than the last one is out of order (500); a target
   * refresh with a Contact replaces the remote target; BYE ends the dialog (§15.1.2, answer it 200).
   */
  receiveRequest(req: SipRequest): InDialogCheck {
    if (dialogKeyOfRequest(req) !== this.id) return { ok: false, status: 481, reason: 'Call/Transaction Does Not Exist' };
    if (this.state === 'terminated') return { ok: false, status: 481, reason: 'Call/Transaction Does Not Exist (dialog ended)' };
    const seq = req.cseq().seq;
    // ACK and CANCEL reuse their INVITE's number, so they are never "lower" unless something is badly wrong.
    if (this.remoteSeq !== undefined && seq < this.remoteSeq) {
      return { ok: false, status: 500, reason: `Server Internal Error (CSeq ${seq} is lower than ${this.remoteSeq})` };
    }
    this.remoteSeq = seq;
    if (targetRefreshMethods.has(req.method) && req.has('Contact')) this.refreshTarget(req);
    if (req.method === 'BYE') this.terminate();
    return { ok: true };
  }

  /** §15.1.1: a UA that sends BYE considers the session and the dialog over at once. */
  terminate(): void {
    this.state = 'terminated';
  }

  private isCreating(seq: number, method: string): boolean {
    return seq === this.creatingSeq && method === this.creatingMethod;
  }

  private refreshTarget(m: SipRequest | SipResponse): void {
    const c = m.contacts();
    if (!c.star && c.list.length > 0) this.remoteTarget = c.list[0]!.uri;
  }
}

function creatingTag(res: SipResponse): string {
  if (res.status <= 100 || res.status >= 300) {
    throw new DialogError(DialogCode.create, `a ${res.status} does not create a dialog (101–199 with a To tag, or 2xx, §12.1)`);
  }
  return requireTag(res.to(), 'To of the response');
}

function requireTag(na: NameAddr, what: string): string {
  const tag = na.params.get('tag');
  if (tag === undefined || tag === null || tag === '') throw new DialogError(DialogCode.create, `${what} has no tag (§12.1)`);
  return tag;
}

function untagged(na: NameAddr): NameAddr {
  const params = new Map(na.params);
  params.delete('tag');
  return { displayName: na.displayName, uri: na.uri, params };
}

function contactOf(m: SipRequest | SipResponse): Uri {
  const c = m.contacts();
  if (c.star || c.list.length === 0) {
    throw new DialogError(
      DialogCode.create,
      `${m.kind === 'request' ? 'request' : 'response'} that creates a dialog needs a Contact (§12.1)`,
    );
  }
  return c.list[0]!.uri;
}
