/**
 * Message serializer (RFC 3261 §7): start line, header fields in order, Content-Length from the body
 * (always rewritten: §20.14, a stream transport MUST carry it and a stale one would break framing), empty line,
 * body.
 * Header hygiene (header injection, issue 16 row 13): what goes on the wire is never a second line someone
 * smuggled in. A reason phrase is sbd's own text that may quote a peer's bytes (a From user in a 403): its CR,
 * LF and other control bytes are escaped away as %XX (§25.1 reason-phrase allows `escaped`, not CTLs). A
 * header name must be a token; a header value or the Request-URI holding CR, LF or another control byte
 * (HTAB excepted, §25.1 allows it in LWS) is refused with ERR_SIP_HEADER_VALUE: the caller sends nothing.
 */
import { SipMessageCode, SipMessageError } from './errors.js';
import { canonicalName } from './header-names.js';
import type { SipMessage } from './message.js';
import { formatUri } from './uri.js';

/** C0 controls except HTAB, and DEL. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const CONTROL_ALL = /[\x00-\x08\x0a-\x1f\x7f]/g;
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/** A reason phrase with its control bytes (CR and LF among them) escaped as %XX. */
export function safeReason(reason: string): string {
  return reason.replace(CONTROL_ALL, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function serializeMessage(msg: SipMessage): Buffer {
  let head: string;
  if (msg.kind === 'request') {
    const uri = formatUri(msg.uri);
    if (CONTROL.test(uri) || / /.test(uri) || !TOKEN.test(msg.method))
      throw new SipMessageError(SipMessageCode.headerValue, 'the request line holds a control byte or a space');
    head = `${msg.method} ${uri} SIP/2.0\r\n`;
  } else {
    head = `SIP/2.0 ${msg.status} ${safeReason(msg.reason)}\r\n`;
  }
  for (const h of msg.headers) {
    if (canonicalName(h.name) === 'content-length') continue;
    if (!TOKEN.test(h.name)) throw new SipMessageError(SipMessageCode.headerValue, 'a header name is not a token');
    if (CONTROL.test(h.value))
      throw new SipMessageError(SipMessageCode.headerValue, `header ${h.name} holds a control byte (CR or LF, or another one)`);
    head += `${h.name}: ${h.value}\r\n`;
  }
  head += `Content-Length: ${msg.body.length}\r\n\r\n`;
  return msg.body.length === 0 ? Buffer.from(head, 'utf8') : Buffer.concat([Buffer.from(head, 'utf8'), msg.body]);
}
