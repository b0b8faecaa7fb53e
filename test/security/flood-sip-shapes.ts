/**
 * The SIP flood's messages: garbage and the adversarial shapes of issue 16's table, as byte templates for
 * ./flood-sender.c ("@@@@@@@@" becomes the message's index, so Call-IDs, branches, tags and users differ).
 * Sources are 127.66.x.y (the sender binds there); every address inside a message is loopback, and no shape asks
 * sbd to relay anywhere but loopback (the relay probe of row 2 lives in its own row test, which sends nothing).
 * Weights are per mille of the flood.
 */
import type { FloodShape } from './flood-helpers.js';

export interface SipTarget {
  /** 'UDP' or 'TCP' (the Via transport). */
  transport: 'UDP' | 'TCP';
  port: number;
  /** The legitimate phone's line user: the flood targets it (unregister, contacts) without credentials. */
  victim: string;
  /** Another line user whose password the flood guesses (the victim is left out: a lockout of the guessed user is by design). */
  guessed: string;
}

const CRLF = '\r\n';

function message(start: string, headers: string[], body = ''): string {
  return [start, ...headers, `Content-Length: ${Buffer.byteLength(body, 'latin1')}`, '', body].join(CRLF);
}

function via(t: SipTarget): string {
  return `Via: SIP/2.0/${t.transport} 127.66.0.1:5060;branch=z9hG4bK-fl@@@@@@@@;rport`;
}

/** REGISTER/INVITE skeleton from the attacker toward `user`. */
function request(t: SipTarget, method: string, user: string, extra: string[], body = ''): string {
  return message(
    `${method} sip:${method === 'REGISTER' ? '' : `${user}@`}127.0.0.1:${t.port} SIP/2.0`,
    [
      via(t),
      'Max-Forwards: 70',
      `From: <sip:${user}@127.0.0.1>;tag=f@@@@@@@@`,
      `To: <sip:${user}@127.0.0.1>`,
      `Call-ID: fl-@@@@@@@@@127.66.0.1`,
      `CSeq: 1 ${method}`,
      ...extra,
    ],
    body,
  );
}

/** Contacts that fit one datagram (row 5 used 4,000 in 51 KB; loopback addresses make each longer, ~2,900 fit). */
function manyContacts(t: SipTarget, maxBytes: number): string {
  const head = request(t, 'REGISTER', t.victim, ['Expires: 600', 'Contact: X']);
  const room = maxBytes - head.length;
  const list: string[] = [];
  let used = 0;
  for (let i = 1; ; i++) {
    const c = `<sip:${i}@127.0.0.9>`;
    if (used + c.length + 1 > room) break;
    list.push(c);
    used += c.length + 1;
  }
  return request(t, 'REGISTER', t.victim, ['Expires: 600', `Contact: ${list.join(',')}`]);
}

/**
 * The flood's mix for one transport (weights sum to 1000). TCP frames at most 16 KiB of headers (framerDefaults), so
 * its big shapes are smaller; and over TCP the daemon reads every byte (no drops as with UDP), so the big shapes are
 * fewer there, to keep a 1,000,000-message run within minutes on two cores.
 */
export function sipFloodShapes(t: SipTarget): FloodShape[] {
  const udp = t.transport === 'UDP';
  const longUser = 'u'.repeat(udp ? 4000 : 1000) + '@@@@@@@@';
  // Row 4: runs of spaces inside header values (seven 8,100-space headers, 57 KB, over UDP; one 15,000-space over TCP).
  const spaces = udp ? Array.from({ length: 7 }, () => `X-A: a${' '.repeat(8100)}b`) : [`X-A: a${' '.repeat(15000)}b`];
  return [
    // Garbage: random bytes. Not over TCP: there the first one breaks framing and the server closes the connection
    // with megabytes of queued flood unread (the flood would measure reconnections, not the daemon).
    { name: 'random-bytes', weight: udp ? 240 : 0, random: 600 },
    // Garbage a stream framer still frames (random bytes ending in CRLF CRLF).
    { name: 'framed-garbage', weight: udp ? 100 : 290, random: 400, framed: true },
    // Row 7: unauthenticated INVITEs, each a new transaction (a 407 that Timer G would resend toward the source).
    { name: 'unauthenticated-invite', weight: 250, bytes: request(t, 'INVITE', t.victim, ['Contact: <sip:attacker@127.66.0.1:5060>']) },
    // Row 6: REGISTERs for unknown AORs with long users, each user new.
    {
      name: 'unknown-aor-register',
      weight: udp ? 150 : 200,
      bytes: request(t, 'REGISTER', longUser, ['Expires: 600', `Contact: <sip:${longUser}@127.66.0.1:5060>`]),
    },
    // Row 3: wrong digest answers for another user, the To rotating, the nonce never minted by sbd.
    {
      name: 'wrong-digest-register',
      weight: 100,
      bytes: message(`REGISTER sip:127.0.0.1:${t.port} SIP/2.0`, [
        via(t),
        'Max-Forwards: 70',
        `From: <sip:r@@@@@@@@@127.0.0.1>;tag=f@@@@@@@@`,
        `To: <sip:r@@@@@@@@@127.0.0.1>`,
        'Call-ID: dg-@@@@@@@@',
        'CSeq: 2 REGISTER',
        'Contact: <sip:r@127.66.0.1:5060>',
        'Expires: 600',
        `Authorization: Digest username="${t.guessed}", realm="ccmsipline", nonce="@@@@@@@@", uri="sip:127.0.0.1", response="0123456789abcdef0123456789@@@@@@", algorithm=MD5, qop=auth, nc=00000001, cnonce="@@@@@@@@"`,
      ]),
    },
    // Row 13: CR LF smuggled through a URI into a reason phrase.
    {
      name: 'header-injection',
      weight: 50,
      bytes: request(t, 'REGISTER', 'x%0D%0AInjected-Header:%20@@@@@@@@', ['Expires: 600', 'Contact: <sip:x@127.66.0.1:5060>']),
    },
    // Row 1: `Contact: *` with Expires 0 for the legitimate phone's AOR, no credentials.
    { name: 'unregister-star', weight: 50, bytes: request(t, 'REGISTER', t.victim, ['Expires: 0', 'Contact: *']) },
    // Row 2: a response whose top Via looks like sbd's (relayed, if at all, to the loopback source below it).
    {
      name: 'forged-response',
      weight: 50,
      bytes: message('SIP/2.0 200 OK', [
        `Via: SIP/2.0/${t.transport} 127.0.0.1:${t.port};branch=z9hG4bK@@@@@@@@`,
        `Via: SIP/2.0/${t.transport} 127.66.0.2:5060;branch=z9hG4bK-x@@@@@@@@`,
        `From: <sip:a@127.0.0.1>;tag=a@@@@@@@@`,
        `To: <sip:b@127.0.0.1>;tag=b@@@@@@@@`,
        'Call-ID: rs-@@@@@@@@',
        'CSeq: 1 INVITE',
      ]),
    },
    // Row 4.
    { name: 'space-runs', weight: 5, bytes: request(t, 'OPTIONS', t.victim, spaces) },
    // Row 5: a REGISTER with thousands of Contacts for the legitimate phone's AOR.
    { name: 'many-contacts', weight: 5, bytes: manyContacts(t, udp ? 65000 : 16000) },
  ];
}
