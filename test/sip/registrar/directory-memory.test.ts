/**
 * The registrar needs nothing from the store but its `Directory` (src/sip/registrar/directory.ts, issue 17 item 4):
 * here it runs over a tiny in-memory directory (one line user, one phone, no SQLite): a digest REGISTER binds, the
 * phone's ITL report and unregistration reach the directory, a device name it refuses to autoregister stays an
 * unknown AOR, and a rate-limited autoregistration is answered 503 with the directory's reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { answerChallenge, DigestServer, type DigestAlgorithm } from '../../../src/sip/core/auth/digest.js';
import type { SipRequest } from '../../../src/sip/core/messages/message.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { AutoregDecision } from '../../../src/sip/auth/autoreg-limiter.js';
import type { AorOwner, DeviceByName, Directory } from '../../../src/sip/registrar/directory.js';
import { ITL_REPORT_HEADER, Registrar } from '../../../src/sip/registrar/registrar.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';

const REALM = 'sbd.test';
const T0 = Date.parse('2026-11-25T10:00:00Z');
const udp: MessageSource = { transport: 'udp', address: '127.0.0.1', port: 5062 };
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

class MemoryDirectory implements Directory {
  readonly ha1 = new Map([['phone1', md5(`phone1:${REALM}:pw-phone1`)]]);
  readonly owners = new Map<string, AorOwner>([
    [
      '1001',
      {
        kind: 'device',
        device: 'SEP001122334455',
        digestUser: 'phone1',
        digestRequired: true,
        digestAlgorithms: ['MD5'],
        nonceValiditySeconds: 300,
        mutualTls: false,
        lscFingerprint256: null,
      },
    ],
  ]);
  readonly events: string[] = [];
  realm(): string {
    return REALM;
  }
  defaultDigestAlgorithms(): readonly DigestAlgorithm[] {
    return ['MD5'];
  }
  defaultNonceValiditySeconds(): number {
    return 300;
  }
  lockoutPolicy() {
    return { threshold: 0, minutes: 30 };
  }
  accountLocked(): boolean {
    return false;
  }
  lookupHa1(username: string, realm: string, algorithm: DigestAlgorithm): string | undefined {
    return realm === REALM && algorithm === 'MD5' ? this.ha1.get(username) : undefined;
  }
  resolveAor(user: string): AorOwner | undefined {
    return this.owners.get(user);
  }
  recordItlReport(device: string, sha256Hex: string, status: string): void {
    this.events.push(`itl ${device} ${sha256Hex.slice(0, 8)} ${status}`);
  }
  clearItlReport(device: string): void {
    this.events.push(`clear ${device}`);
  }
  recordTrustReport(): 'changed' | 'touched' {
    return 'changed';
  }
  deviceByName(name: string, model: string | undefined, mayCreate?: () => AutoregDecision): DeviceByName {
    this.events.push(`autoreg ${name} ${model ?? '-'}`);
    if (mayCreate && !mayCreate().ok)
      return { kind: 'refused', code: 'ERR_SIP_AUTOREG_RATE', status: 503, reason: 'Service Unavailable (rate)' };
    return { kind: 'refused', code: 'ERR_AUTOREG_DISABLED', status: 404, reason: 'Not Found' };
  }
}

let cseq = 1;
function register(aor: string, extra: string[] = []): SipRequest {
  const text = [
    `REGISTER sip:${REALM} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK${cseq}x`,
    `From: <sip:${aor}@${REALM}>;tag=f1`,
    `To: <sip:${aor}@${REALM}>`,
    'Call-ID: mem@test',
    `CSeq: ${cseq++} REGISTER`,
    'Max-Forwards: 70',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

test('the registrar over an in-memory Directory: digest binding, ITL report, unregister, autoregistration refusals', () => {
  const directory = new MemoryDirectory();
  const digest = new DigestServer({ realm: REALM, secret: Buffer.alloc(32, 7) });
  const registrar = new Registrar({ digest, directory }, { minExpires: 60, maxExpires: 3600, autoregLimit: { perSourcePerMinute: 1 } });
  const withAuth = (aor: string, extra: string[], now: number) => {
    const first = registrar.handleRegister(register(aor, extra), udp, now);
    assert.equal(first.response.status, 401);
    const auth = answerChallenge({
      challenge: first.response.get('WWW-Authenticate')!,
      method: 'REGISTER',
      uri: `sip:${REALM}`,
      username: 'phone1',
      secret: { password: 'pw-phone1' },
      cnonce: 'c1',
      nc: 1,
    });
    return registrar.handleRegister(register(aor, [...extra, `Authorization: ${auth}`]), udp, now);
  };

  const hash = 'ab'.repeat(32);
  const ok = withAuth('1001', ['Contact: <sip:1001@127.0.0.1:5062>', 'Expires: 600', `${ITL_REPORT_HEADER}: ${hash}`], T0);
  assert.deepEqual([ok.response.status, ok.result], [200, 'registered']);
  assert.equal(registrar.bindings.lookup('1001', T0).length, 1);
  const bye = withAuth('1001', ['Contact: *', 'Expires: 0'], T0 + 1000);
  assert.deepEqual([bye.response.status, bye.result], [200, 'unregistered']);
  assert.deepEqual(directory.events, [`itl SEP001122334455 ${hash.slice(0, 8)} installed`, 'clear SEP001122334455']);

  // A device name the directory does not know: asked once per REGISTER; its 404 stays a challenge (not revealed).
  directory.events.length = 0;
  const unknown = registrar.handleRegister(
    register('SEP0000000000AA', ['Contact: <sip:x@127.0.0.1>', 'User-Agent: Cisco-CP8845/14.2.1']),
    udp,
    T0,
  );
  assert.equal(unknown.response.status, 401);
  const limited = registrar.handleRegister(
    register('SEP0000000000BB', ['Contact: <sip:y@127.0.0.1>', 'User-Agent: Cisco-CP8845/14.2.1']),
    udp,
    T0,
  );
  assert.deepEqual([limited.response.status, limited.response.reason], [503, 'Service Unavailable (rate)']);
  assert.deepEqual(directory.events, ['autoreg SEP0000000000AA 8845', 'autoreg SEP0000000000BB 8845']);
});
