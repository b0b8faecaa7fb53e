import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResetWave, resetPacingDefaults, type WaveTarget } from '../../../src/sip/phone-control/wave.js';

function targets(n: number, reliable = true): WaveTarget[] {
  return Array.from({ length: n }, (_, i) => ({
    device: `SEP${String(i).padStart(12, '0')}`,
    line: String(1000 + i),
    contact: `sip:${1000 + i}@127.0.0.1:${6000 + i}`,
    registerCallId: `c${i}`,
    reliable,
    method: 'service-control',
  }));
}

describe('reset wave (pacing core)', () => {
  it('sends at most phonesPerSecond a second, one every 1/rate; a late shell gets a burst of two, not the lost time', () => {
    const w = new ResetWave('reset', targets(10), [], 0, { phonesPerSecond: 4 });
    assert.equal(w.due(0).length, 1);
    assert.equal(w.due(249).length, 0);
    assert.equal(w.due(250).length, 1);
    assert.equal(w.due(1000).length, 2); // slots 500 and 750 missed: two now, not three
    assert.equal(w.progress().sent, 4);
    assert.equal(w.nextAt(1000), 1250);
    assert.equal(w.due(1250).length, 1);
    // Over any stretch: at most rate × seconds + 2.
    const v = new ResetWave('reset', targets(1000), [], 0, { phonesPerSecond: 100 });
    let sent = 0;
    for (let t = 0; t <= 5000; t += 7) sent += v.due(t).length;
    assert.ok(sent <= 100 * 5 + 2, `${sent} sent in 5 s at 100/s`);
    assert.ok(sent >= 100 * 5 - 2, `${sent} sent in 5 s at 100/s`);
  });

  it('counts answers and re-registrations; done when every phone is back', () => {
    const w = new ResetWave('restart', targets(3), ['SEPAAAAAAAAAAAA'], 0, { phonesPerSecond: 1000 });
    const sent = [...w.due(10), ...w.due(11)];
    assert.equal(sent.length, 3);
    w.answered('1000', 200);
    w.answered('1001', 481);
    w.registered('1000');
    w.registered('1002'); // re-registered before answering: acknowledged too
    assert.deepEqual(w.progress(), { total: 3, sent: 3, acknowledged: 3, reregistered: 2, failed: 0 });
    assert.equal(w.done, false);
    w.registered('1001');
    assert.equal(w.nextAt(20), undefined);
    assert.equal(w.done, true);
    const s = w.summary(20);
    assert.deepEqual(s.unregistered, ['SEPAAAAAAAAAAAA']);
    assert.equal(s.reregistered, 3);
  });

  it('a phone that never answers fails after ackTimeoutMs; one that never comes back is listed', () => {
    const w = new ResetWave('reset', targets(2), [], 0, { phonesPerSecond: 1000, ackTimeoutMs: 100, reregisterTimeoutMs: 500 });
    w.due(1);
    w.answered('1001', 200);
    w.due(101);
    assert.equal(w.stateOf('1000'), 'failed');
    assert.equal(w.nextAt(101), 501);
    w.due(501);
    assert.equal(w.done, true);
    const s = w.summary(501);
    assert.deepEqual(
      s.failures.map((f) => f.device),
      ['SEP000000000000'],
    );
    assert.deepEqual(s.notReregistered, ['SEP000000000001']);
  });

  it('over UDP resends on Timer E (T1 doubling to T2) until answered; over TCP never', () => {
    const w = new ResetWave('reset', targets(1, false), [], 0, { phonesPerSecond: 1000, t1: 500, t2: 4000 });
    assert.equal(w.due(0).length, 1);
    const resends = [500, 1500, 3500, 7500, 11500].map((t) => w.due(t).length);
    assert.deepEqual(resends, [1, 1, 1, 1, 1]);
    w.answered('1000', 200);
    assert.equal(w.due(20000).length, 0);
    const tcp = new ResetWave('reset', targets(1, true), [], 0, { phonesPerSecond: 1000 });
    tcp.due(0);
    assert.equal(tcp.due(5000).length, 0);
  });

  it('an empty selection is done at once; the default pace is the documented one', () => {
    const w = new ResetWave('reset', [], ['SEP000000000001'], 0);
    assert.equal(w.done, true);
    assert.equal(resetPacingDefaults.phonesPerSecond, 100);
  });
});
