import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLine, LineSplitter, parseRequest } from '../../../src/sip/phone-control/control-protocol.js';
import { ControlServer, controlSocketPath, requestReset } from '../../../src/sip/phone-control/control-socket.js';
import type { ControlEvent } from '../../../src/sip/phone-control/control-protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'sbd-ctl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('control protocol (JSON lines)', () => {
  it('accepts the four selections and the default pace', () => {
    assert.deepEqual(parseRequest('{"op":"reset","kind":"restart","select":{"all":true}}'), {
      op: 'reset',
      kind: 'restart',
      select: { all: true },
      phonesPerSecond: 100,
    });
    assert.deepEqual(parseRequest('{"op":"reset","kind":"reset","select":{"device":"sepc4b9cd808647"},"phonesPerSecond":5}').select, {
      device: 'SEPC4B9CD808647',
    });
    assert.deepEqual(parseRequest('{"op":"reset","kind":"reset","select":{"model":"8845"}}').select, { model: '8845' });
    assert.deepEqual(parseRequest('{"op":"reset","kind":"reset","select":{"partition":"Internal_PT"}}').select, {
      partition: 'Internal_PT',
    });
  });

  it('refuses what is not a valid request, each with ERR_PHONE_CONTROL_REQUEST', () => {
    for (const bad of [
      'nope',
      '[]',
      '{"op":"drop"}',
      '{"op":"reset","kind":"reboot","select":{"all":true}}',
      '{"op":"reset","kind":"reset","select":{"all":true,"model":"x"}}',
      '{"op":"reset","kind":"reset","select":{"device":"1001"}}',
      '{"op":"reset","kind":"reset","select":{"model":"a\\nb"}}',
      '{"op":"reset","kind":"reset","select":{"all":true},"phonesPerSecond":0}',
      '{"op":"reset","kind":"reset","select":{"all":true},"phonesPerSecond":1e9}',
      '{"op":"reset","kind":"reset","select":{"all":false}}',
    ]) {
      assert.throws(() => parseRequest(bad), { code: 'ERR_PHONE_CONTROL_REQUEST' }, bad);
    }
  });

  it('splits lines at every byte boundary and bounds a line', () => {
    const bytes = Buffer.concat([
      encodeLine({ op: 'reset', kind: 'reset', select: { all: true }, phonesPerSecond: 1 }),
      Buffer.from('{"x":1}\n'),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const s = new LineSplitter();
      const lines = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      assert.equal(lines.length, 2);
      assert.equal(parseRequest(lines[0]!).kind, 'reset');
    }
    assert.throws(() => new LineSplitter(16).push(Buffer.alloc(17, 0x41)), { code: 'ERR_PHONE_CONTROL_LINE' });
  });

  it('a Unix socket round trip: mode 0660, events in order, errors typed; a missing daemon is a clear error', async () => {
    const path = controlSocketPath(dir);
    const seen: unknown[] = [];
    const server = new ControlServer({ path }, (req, emit) => {
      seen.push(req);
      emit({ event: 'started', total: 1, unregistered: ['SEP000000000002'], phonesPerSecond: req.phonesPerSecond });
      emit({ event: 'progress', total: 1, sent: 1, acknowledged: 1, reregistered: 1, failed: 0 });
      emit({
        event: 'done',
        kind: req.kind,
        total: 1,
        sent: 1,
        acknowledged: 1,
        reregistered: 1,
        failed: 0,
        unregistered: ['SEP000000000002'],
        failures: [],
        notReregistered: [],
        durationMs: 3,
      });
    });
    await server.listen();
    try {
      assert.equal(statSync(path).mode & 0o777, 0o660);
      const events: ControlEvent[] = [];
      const last = await requestReset(path, { op: 'reset', kind: 'restart', select: { model: '8845' }, phonesPerSecond: 7 }, (e) =>
        events.push(e),
      );
      assert.deepEqual(
        events.map((e) => e.event),
        ['started', 'progress', 'done'],
      );
      assert.equal(last.event, 'done');
      assert.deepEqual(seen, [{ op: 'reset', kind: 'restart', select: { model: '8845' }, phonesPerSecond: 7 }]);
      // A malformed request gets one error line and the connection ends.
      const reply = await new Promise<string>((resolve) => {
        const s = createConnection(path);
        let text = '';
        s.on('connect', () => s.write('{"op":"reset","kind":"x"}\n'));
        s.on('data', (d) => {
          text += d.toString();
        });
        s.on('close', () => resolve(text));
      });
      assert.match(reply, /^\{"event":"error","code":"ERR_PHONE_CONTROL_REQUEST"/);
    } finally {
      await server.close();
    }
    await assert.rejects(
      requestReset(path, { op: 'reset', kind: 'reset', select: { all: true }, phonesPerSecond: 1 }, () => {}),
      { code: 'ERR_PHONE_CONTROL_CONNECT', message: /sbd-sipd is not running/ },
    );
  });
});
