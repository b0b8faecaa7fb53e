/**
 * A phone's REGISTER over UDP to sbd-sipd on loopback, as the scenarios need it: one request (retransmitted on
 * RFC 3261 Timer E's schedule while no response arrives, §17.1.2.2), answering a digest challenge once when
 * credentials are given. Returns the final response.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { answerChallenge } from '../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import type { SipResponse } from '../../src/sip/core/messages/message.js';

export interface RegisterOptions {
  host: string;
  port: number;
  /** The To user: a directory number, or SEP<MAC> (the registrar maps a device name to its number). */
  user: string;
  model: string;
  credentials?: { username: string; password: string };
  /** Whole exchange. Default 20000 ms. */
  timeoutMs?: number;
}

export async function sipRegister(o: RegisterOptions): Promise<SipResponse> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const local = socket.address().port;
  const callId = `${randomBytes(8).toString('hex')}@127.0.0.1`;
  let cseq = 1;
  const request = (extra: string[]): Buffer =>
    Buffer.from(
      [
        `REGISTER sip:${o.host} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
        `From: <sip:${o.user}@${o.host}>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:${o.user}@${o.host}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq++} REGISTER`,
        `Contact: <sip:${o.user}@127.0.0.1:${local}>`,
        'Expires: 3600',
        'Max-Forwards: 70',
        `User-Agent: Cisco-CP${o.model}/14.2.1`,
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  const exchange = (bytes: Buffer): Promise<SipResponse> =>
    new Promise((resolve, reject) => {
      let interval = 500;
      let timer: NodeJS.Timeout;
      const deadline = setTimeout(
        () => finish(new Error(`no final response to REGISTER within ${o.timeoutMs ?? 20000} ms`)),
        o.timeoutMs ?? 20000,
      );
      const send = () => {
        socket.send(bytes, o.port, o.host);
        timer = setTimeout(send, interval);
        interval = Math.min(interval * 2, 4000); // Timer E doubles up to T2
      };
      const finish = (err?: Error, res?: SipResponse) => {
        clearTimeout(timer);
        clearTimeout(deadline);
        socket.off('message', onMessage);
        if (err) reject(err);
        else resolve(res!);
      };
      const onMessage = (msg: Buffer) => {
        const parsed = parseMessage(msg) as SipResponse;
        if (typeof parsed.status !== 'number' || parsed.status < 200) return;
        finish(undefined, parsed);
      };
      socket.on('message', onMessage);
      send();
    });
  try {
    const first = await exchange(request([]));
    if (first.status !== 401 || !o.credentials) return first;
    const challenge = first.getAll('WWW-Authenticate')[0]!;
    const auth = answerChallenge({
      challenge,
      method: 'REGISTER',
      uri: `sip:${o.host}`,
      username: o.credentials.username,
      secret: { password: o.credentials.password },
      cnonce: randomBytes(6).toString('hex'),
      nc: 1,
    });
    return await exchange(request([`Authorization: ${auth}`]));
  } finally {
    socket.close();
  }
}
