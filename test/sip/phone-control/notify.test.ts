import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildResetNotify, resetMethodFor, serviceControlBody, ResetMethod } from '../../../src/sip/phone-control/notify.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipRequest } from '../../../src/sip/core/messages/message.js';

const base = {
  contact: 'sip:1001@192.168.15.20:50867;transport=tcp',
  line: '1001',
  domain: '10.0.0.5',
  registerCallId: '00112233-44556677@192.168.15.20',
  via: { transport: 'tcp', host: '10.0.0.5', port: 5060, branch: 'z9hG4bKsbdreset1' },
  callId: 'a1b2c3@sbd',
  fromTag: 'ft1',
  cseq: 1,
} as const;

describe('reset NOTIFY builder (spec cisco-sip-phone.md §2)', () => {
  it('service-control restart: exact bytes, RegisterCallId with its braces, CRLF body', () => {
    const bytes = buildResetNotify({ ...base, kind: 'restart', method: ResetMethod.serviceControl });
    const body =
      'action=restart\r\nRegisterCallId={00112233-44556677@192.168.15.20}\r\nConfigVersionStamp={0000000000000000}\r\n' +
      'DialplanVersionStamp={0000000000000000}\r\nSoftkeyVersionStamp={0000000000000000}\r\n';
    assert.equal(
      bytes.toString('utf8'),
      [
        'NOTIFY sip:1001@192.168.15.20:50867;transport=tcp SIP/2.0',
        'Via: SIP/2.0/TCP 10.0.0.5:5060;branch=z9hG4bKsbdreset1',
        'Max-Forwards: 70',
        'From: <sip:10.0.0.5>;tag=ft1',
        'To: <sip:1001@10.0.0.5>',
        'Call-ID: a1b2c3@sbd',
        'CSeq: 1 NOTIFY',
        'Event: service-control',
        'Subscription-State: active',
        'Content-Type: text/plain',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
  });

  it('service-control reset names action=reset; the result parses back as one NOTIFY', () => {
    const bytes = buildResetNotify({ ...base, kind: 'reset', method: ResetMethod.serviceControl });
    const m = parseMessage(bytes) as SipRequest;
    assert.equal(m.method, 'NOTIFY');
    assert.equal(m.get('Event'), 'service-control');
    assert.match(m.body.toString(), /^action=reset\r\nRegisterCallId=\{00112233-44556677@192\.168\.15\.20\}\r\n/);
  });

  it('check-sync (and check-sync;reboot=true) carry no body and no Content-Type', () => {
    for (const [method, event] of [
      [ResetMethod.checkSync, 'check-sync'],
      [ResetMethod.checkSyncReboot, 'check-sync;reboot=true'],
    ] as const) {
      const text = buildResetNotify({ ...base, kind: 'reset', method }).toString();
      assert.match(text, new RegExp(`\\r\\nEvent: ${event.replace(/[;=]/g, '\\$&')}\\r\\n`));
      assert.ok(!/Content-Type/.test(text));
      assert.ok(text.endsWith('Content-Length: 0\r\n\r\n'));
    }
  });

  it('a Call-ID that would break the body is refused, not sent', () => {
    assert.throws(() => serviceControlBody('reset', 'x}\r\naction=reset'), { code: 'ERR_PHONE_CONTROL_CALL_ID' });
  });

  it('the method by User-Agent, overridden per model', () => {
    assert.equal(resetMethodFor('Cisco-CP8845/14.2.1'), 'service-control');
    assert.equal(resetMethodFor('Cisco-CP-7821/11.5.1'), 'service-control');
    assert.equal(resetMethodFor('Cisco-CP7960G/8.0'), 'check-sync');
    assert.equal(resetMethodFor('Yealink SIP-T46S 66.86.0.15'), 'check-sync');
    assert.equal(resetMethodFor(undefined), 'check-sync');
    assert.equal(resetMethodFor('Cisco-CP8845/14.2.1', 'check-sync-reboot'), 'check-sync-reboot');
    assert.equal(resetMethodFor('baresip v2.0', 'service-control'), 'service-control');
  });
});
