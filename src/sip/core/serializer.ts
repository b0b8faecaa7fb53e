/**
 * Message serializer (RFC 3261 §7): start line, header fields in order, Content-Length from the body
 * (always rewritten: §20.14, a stream transport MUST carry it and a stale one would break framing), empty line,
 * body. Header names are written as stored; values that hold CR or LF are refused (header injection).
 */
import { SipError } from './errors.js';
import { canonicalName } from './header-names.js';
import { type SipMessage } from './message.js';
import { formatUri } from './uri.js';

export function serializeMessage(msg: SipMessage): Buffer {
  let head = msg.kind === 'request'
    ? `${msg.method} ${formatUri(msg.uri)} SIP/2.0\r\n`
    : `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  for (const h of msg.headers) {
    if (canonicalName(h.name) === 'content-length') continue;
    if (/[\r\n]/.test(h.name) || /[\r\n]/.test(h.value)) {
      throw new SipError('ERR_SIP_HEADER_VALUE', `header ${h.name} holds CR or LF`);
    }
    head += `${h.name}: ${h.value}\r\n`;
  }
  head += `Content-Length: ${msg.body.length}\r\n\r\n`;
  return msg.body.length === 0 ? Buffer.from(head, 'utf8') : Buffer.concat([Buffer.from(head, 'utf8'), msg.body]);
}
