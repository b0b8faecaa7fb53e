/**
 * Issue 16 row 1: with the shipped defaults nobody registers, refreshes or unregisters a number without its
 * credentials (incl. `Contact: *` with Expires: 0), not through a profile that turns digest off, not through the
 * phone's device name; the ITL report counts only on an authenticated REGISTER, and a repeated report writes
 * nothing to the store (a write renews every cache). On the old code a device whose profile had digest off
 * (then the default) and a known device registering under its name bound the attacker's Contact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ITL_REPORT_HEADER } from '../../src/sip/registrar/registrar.js';
import { DEFAULT_SECURITY_PROFILE } from '../../src/store/index.js';
import { assertStatus, register, registerWithAuth, registrarSetup, T0, udp } from './row-sip-helpers.js';

const attacker = udp('127.0.0.66', 5999);
const evil = 'Contact: <sip:evil@127.0.0.66:5999>';

test('row 1: no credentials, wrong credentials, Contact: * and a forged ITL report change nothing', () => {
  const r = registrarSetup();
  try {
    assertStatus(r.registrar.handleRegister(register('1000', [evil]), attacker, T0).response, 401, 'no credentials');
    assertStatus(registerWithAuth(r, '1000', 'ph1000', 'guess-1234', [evil], T0, attacker), 401, 'wrong password');
    assert.equal(r.registrar.bindings.lookup('1000', T0).length, 0, 'nothing bound');

    // The phone registers with its credentials; the attacker tries to remove and to query its binding.
    assertStatus(registerWithAuth(r, '1000', 'ph1000', 'pw-ph1000', ['Contact: <sip:1000@127.0.0.1:5062>'], T0), 200, 'the phone');
    assertStatus(
      r.registrar.handleRegister(register('1000', ['Contact: *', 'Expires: 0'], 'attack@x'), attacker, T0 + 1000).response,
      401,
      'Contact: * without credentials',
    );
    const query = r.registrar.handleRegister(register('1000', [], 'attack@x'), attacker, T0 + 1000).response;
    assertStatus(query, 401, 'a query without credentials');
    assert.equal(query.getAll('Contact').length, 0, 'bindings are not listed to a stranger');
    assert.deepEqual(
      r.registrar.bindings.lookup('1000', T0 + 1000).map((b) => b.contact),
      ['sip:1000@127.0.0.1:5062'],
    );

    // A forged ITL report without credentials is not recorded.
    r.registrar.handleRegister(register('1000', [evil, `${ITL_REPORT_HEADER}: ${'ab'.repeat(32)}`]), attacker, T0 + 2000);
    assert.equal(r.store.getDeviceItlHash('SEP001122334455'), undefined);
  } finally {
    r.done();
  }
});

test('row 1: a profile with digest off does not open the door (only LSC over TLS may replace digest)', () => {
  const r = registrarSetup();
  try {
    const p = r.store.getSecurityProfile(DEFAULT_SECURITY_PROFILE)!;
    r.store.putSecurityProfile({ ...p, name: 'No Digest', digestAuth: false });
    r.store.updateDevice('SEP001122334455', { securityProfile: 'No Digest' });
    assertStatus(r.registrar.handleRegister(register('1000', [evil]), attacker, T0).response, 401, 'digest-off profile, no credentials');
    assert.equal(r.registrar.bindings.lookup('1000', T0).length, 0);
    assertStatus(
      registerWithAuth(r, '1000', 'ph1000', 'pw-ph1000', ['Contact: <sip:1000@127.0.0.1:5062>'], T0),
      200,
      'the phone with its credentials',
    );
  } finally {
    r.done();
  }
});

test('row 1: a known phone registering under its device name authenticates too (autoregistration stays off)', () => {
  const r = registrarSetup();
  try {
    assert.equal(r.store.getBoolParam('AutoRegistration'), false, 'off by default');
    const res = r.registrar.handleRegister(register('SEP001122334455', [evil, 'User-Agent: Cisco-CP8841/14.2.1']), attacker, T0).response;
    assertStatus(res, 401, 'device name without credentials');
    assert.equal(r.registrar.bindings.lookup('1000', T0).length, 0);
    const ok = registerWithAuth(
      r,
      'SEP001122334455',
      'ph1000',
      'pw-ph1000',
      ['Contact: <sip:1000@127.0.0.1:5062>', 'User-Agent: Cisco-CP8841/14.2.1'],
      T0,
    );
    assertStatus(ok, 200, 'device name with credentials');
    assert.equal(ok.get('P-Associated-URI'), '<sip:1000@sbd.test>');
  } finally {
    r.done();
  }
});

test('row 1: the same ITL hash reported again costs no store write, also hours later', () => {
  const r = registrarSetup();
  try {
    const hash = 'cd'.repeat(32);
    const report = ['Contact: <sip:1000@127.0.0.1:5062>', `${ITL_REPORT_HEADER}: ${hash}`];
    assertStatus(registerWithAuth(r, '1000', 'ph1000', 'pw-ph1000', report, T0), 200, 'first report');
    assert.equal(r.store.getDeviceItlHash('SEP001122334455')!.sha256Hex, hash);
    const generation = r.store.generation();
    for (const later of [60_000, 2 * 3600_000, 5 * 3600_000]) {
      assertStatus(registerWithAuth(r, '1000', 'ph1000', 'pw-ph1000', report, T0 + later), 200, 'refresh');
    }
    assert.equal(r.store.generation(), generation, 'no write for an unchanged report');
  } finally {
    r.done();
  }
});
