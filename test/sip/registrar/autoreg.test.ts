/**
 * Autoregistration through the registrar (real store): an unknown phone registering under its device name gets a
 * device and the next free number of AutoRegistrationDnRange (src/cluster/autoreg.ts), is bound under that
 * number, told it in P-Associated-URI, and then registers on the number; off, full range and no model refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DigestServer } from '../../../src/sip/core/digest.js';
import { parseMessage } from '../../../src/sip/core/parser.js';
import type { SipRequest } from '../../../src/sip/core/message.js';
import { Registrar, modelFromUserAgent } from '../../../src/sip/registrar/registrar.js';
import { StoreDirectory } from '../../../src/sip/registrar/directory.js';
import { openStore } from '../../../src/store/index.js';
import { DEFAULT_SECURITY_PROFILE } from '../../../src/store/index.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const src = (port: number): MessageSource => ({ transport: 'udp', address: '127.0.0.1', port });

let cseq = 1;
function register(aor: string, port: number, ua?: string): SipRequest {
  return parseMessage(Buffer.from([`REGISTER sip:sbd.test SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${cseq}x`,
    `From: <sip:${aor}@sbd.test>;tag=f${port}`, `To: <sip:${aor}@sbd.test>`, `Call-ID: ar-${port}@test`, `CSeq: ${cseq++} REGISTER`, 'Max-Forwards: 70',
    `Contact: <sip:${aor}@127.0.0.1:${port}>`, ...(ua ? [`User-Agent: ${ua}`] : []), 'Content-Length: 0', '', ''].join('\r\n'))) as SipRequest;
}

test('User-Agent model extraction', () => {
  assert.equal(modelFromUserAgent('Cisco-CP8845/14.2.1'), '8845');
  assert.equal(modelFromUserAgent('Cisco-CP-7975G/9.4'), '7975G');
  assert.equal(modelFromUserAgent('baresip v3'), undefined);
  assert.equal(modelFromUserAgent(undefined), undefined);
});

test('REGISTER from an unknown SEP device: autoregistered when the parameter is on, then registers on its number', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-autoreg-sip-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  try {
    const directory = new StoreDirectory(store, { now: () => T0, refreshMs: 0 });
    const registrar = new Registrar({ digest: new DigestServer({ realm: store.getParam('SipStationRealm'), secret: Buffer.alloc(32, 3) }), directory });
    // Off (the default): an unknown AOR like any other, challenged and nothing added.
    const off = registrar.handleRegister(register('SEP00AABBCC0001', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0).response;
    assert.equal(off.status, 401);
    assert.equal(store.getDevice('SEP00AABBCC0001'), undefined);

    store.setParam('AutoRegistration', 'true');
    const ok = registrar.handleRegister(register('SEP00AABBCC0001', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0).response;
    assert.equal(ok.status, 200, ok.reason);
    assert.equal(ok.get('P-Associated-URI'), '<sip:1000@sbd.test>');
    const d = store.getDevice('SEP00AABBCC0001')!;
    assert.equal(d.directoryNumber, '1000');
    assert.equal(d.description, 'Auto 1000');
    assert.equal(d.model, '8845');
    assert.equal(d.securityProfile, DEFAULT_SECURITY_PROFILE);
    assert.equal(registrar.bindings.lookup('1000', T0)[0]!.device, 'SEP00AABBCC0001');

    // After its config download the phone registers on the number itself.
    const onDn = registrar.handleRegister(register('1000', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0 + 1000).response;
    assert.equal(onDn.status, 200);
    // The same phone again under its name: known now, no second device, same number.
    const again = registrar.handleRegister(register('sep00aabbcc0001', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0 + 2000).response;
    assert.equal(again.status, 200, again.reason);
    assert.equal(again.get('P-Associated-URI'), '<sip:1000@sbd.test>');
    assert.equal(store.listDevices().length, 1);

    // A second phone gets the next number; no model in User-Agent → not added.
    assert.equal(registrar.handleRegister(register('SEP00AABBCC0002', 5101, 'Cisco-CP7841/12.0'), src(5101), T0).response.get('P-Associated-URI'), '<sip:1001@sbd.test>');
    assert.equal(registrar.handleRegister(register('SEP00AABBCC0003', 5102, 'softphone/1.0'), src(5102), T0).response.status, 401);
    assert.equal(store.getDevice('SEP00AABBCC0003'), undefined);

    // Range full → 503 with the reason.
    store.setParam('AutoRegistrationDnRange', '1000-1001');
    const full = registrar.handleRegister(register('SEP00AABBCC0004', 5103, 'Cisco-CP8845/14.2.1'), src(5103), T0).response;
    assert.equal(full.status, 503);
    assert.match(full.reason, /taken/);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
