/**
 * Issue 16 row 5: one REGISTER with thousands of Contact values costs no more registrar work than an ordinary one:
 * the count is checked against the binding limit before any contact is looked at, and contacts are compared in
 * linear time. Work is counted, not timed: every read of a parsed contact's URI and parameters goes through a
 * counting proxy. The old code compared each contact with every earlier one (re-parsing them) before the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../src/sip/core/messages/message.js';
import { assertStatus, authorization, register, registrarSetup, T0, udp } from './row-sip-helpers.js';

/** Replaces the request's parsed contacts with proxies that count every property read on them. */
function countContactReads(req: SipRequest): { reads: number } {
  const counter = { reads: 0 };
  const c = req.contacts();
  if (c.star) return counter;
  const spy = <T extends object>(o: T): T =>
    new Proxy(o, {
      get(target, key, receiver) {
        counter.reads++;
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'object' && v !== null && !(v instanceof Map) ? spy(v as object) : v;
      },
    });
  for (let i = 0; i < c.list.length; i++) c.list[i] = spy(c.list[i]!);
  return counter;
}

/** Contact header lines listing `n` short contacts, 400 a line (4,000 fit in a datagram-sized message: ~50 KB). */
function contacts(n: number): string[] {
  const all = Array.from({ length: n }, (_, i) => `<sip:${i}@a>`);
  const lines: string[] = [];
  for (let i = 0; i < n; i += 400) lines.push(`Contact: ${all.slice(i, i + 400).join(',')}`);
  return lines;
}

test('row 5: 4,000 contacts are refused by their count before any is read; 10 cost a bounded number of reads', () => {
  const r = registrarSetup();
  try {
    const authed = (extra: string[], now: number) => {
      const first = r.registrar.handleRegister(register('1000', extra), udp(), now).response;
      assertStatus(first, 401, 'challenge');
      const req = register('1000', [...extra, `Authorization: ${authorization(first.get('WWW-Authenticate')!, 'ph1000', 'pw-ph1000')}`]);
      const counter = countContactReads(req);
      return { res: r.registrar.handleRegister(req, udp(), now).response, reads: counter.reads };
    };
    const flood = authed(contacts(4000), T0);
    assertStatus(flood.res, 403, '4,000 contacts');
    assert.match(flood.res.reason, /more than 10 contacts/);
    assert.equal(flood.reads, 0, 'no contact was read');

    const ten = authed(contacts(10), T0 + 1000);
    assertStatus(ten.res, 200, '10 contacts');
    const again = authed(contacts(10), T0 + 2000);
    assertStatus(again.res, 200, '10 contacts refreshed');
    // Each contact is compared with at most the 10 stored ones: reads grow with 10 × 10, not with the input.
    assert.ok(again.reads < 10 * 10 * 40, `reads ${again.reads}`);

    // An unauthenticated flood is answered before contacts are read at all.
    const req = register('1000', contacts(4000));
    const counter = countContactReads(req);
    assertStatus(r.registrar.handleRegister(req, udp('127.0.0.66'), T0).response, 401, 'no credentials');
    assert.equal(counter.reads, 0);
  } finally {
    r.done();
  }
});
