/** The DeviceTLInfo codec: the spec's example byte for byte, round trip, every prefix and hostile bodies refused with typed errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCiscoAlarm, alarmLimitDefaults } from '../../../src/sip/alarm/cisco-alarm.js';
import { formatDeviceTlInfo, parseAlarmBody, signatureHex, type DeviceTlInfo } from '../../../src/sip/alarm/device-tl-info.js';
import { AlarmError } from '../../../src/sip/alarm/errors.js';
import { SPEC_BODY, SPEC_ITL_SHA1 } from './spec-example.js';

function refused(body: string | Buffer, code: string): AlarmError {
  const r = parseAlarmBody(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  assert.equal(r.ok, false, `expected ${code}`);
  const e = (r as { ok: false; error: AlarmError }).error;
  assert.ok(e instanceof AlarmError);
  assert.equal(e.code, code, e.message);
  return e;
}

function wrap(params: string): string {
  return `<?xml version="1.0"?>\n<x-cisco-alarm><Alarm Name="DeviceTLInfo"><ParameterList>${params}</ParameterList></Alarm></x-cisco-alarm>`;
}

const ITL = '<String name="ITL_Signature">3E 91 A3 5D A3 D6 BD B7 0F 09 21 98 18 3F 64 D3 B2 8E 80 15 </String>';
const DEV = '<String name="DeviceName">SEPC4B9CD808647</String>';

test("the spec's example body: device, SHA-1 of the ITL, its TFTP server, CTL not installed", () => {
  const r = parseAlarmBody(Buffer.from(SPEC_BODY, 'utf8'));
  assert.ok(r.ok);
  assert.deepEqual(r.value, {
    deviceName: 'SEPC4B9CD808647',
    ipv4Address: '192.168.15.20',
    ipv6Address: null,
    itl: { state: 'installed', algorithm: 'sha1', hashHex: SPEC_ITL_SHA1, tftpServer: 'pub.example.local' },
    ctl: { state: 'not-installed', tftpServer: null },
  });
});

test('the encoder writes the spec layout: the example re-encoded is the example, byte for byte', () => {
  const r = parseAlarmBody(Buffer.from(SPEC_BODY, 'utf8'));
  assert.ok(r.ok && r.value);
  assert.equal(formatDeviceTlInfo(r.value).toString('utf8'), SPEC_BODY);
});

test('MD5 signatures (older firmware), unknown parameters ignored, other alarm names answered and ignored', () => {
  const md5 = '00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF';
  const r = parseAlarmBody(
    Buffer.from(wrap(`${DEV}<String name="Firmware">sip88xx.14-2</String><String name="ITL_Signature">${md5}</String>`)),
  );
  assert.ok(r.ok && r.value);
  assert.deepEqual(r.value.itl, { state: 'installed', algorithm: 'md5', hashHex: '00112233445566778899aabbccddeeff', tftpServer: null });
  assert.equal(r.value.ctl, null, 'no CTL_Signature: unknown, not "not installed"');
  const other = parseAlarmBody(
    Buffer.from(
      '<x-cisco-alarm><Alarm Name="LastOutOfServiceInformation"><ParameterList><String name="x">y</String></ParameterList></Alarm></x-cisco-alarm>',
    ),
  );
  assert.deepEqual(other, { ok: true, value: null });
  assert.equal(signatureHex('3e91a35da3d6bdb70f092198183f64d3b28e8015'), SPEC_ITL_SHA1);
  assert.equal(signatureHex('3E 91'), undefined);
  assert.equal(signatureHex('ZZ'.repeat(20)), undefined);
});

test('entities: the five predefined and character references decode; anything else is refused', () => {
  const r = parseCiscoAlarm(Buffer.from(wrap(`${DEV}<String name="Note">a&amp;b&lt;&#x41;&#66;&quot;&apos;&gt;</String>`)));
  assert.ok(r.ok);
  assert.equal(r.value.parameters.get('Note'), 'a&b<AB"\'>');
  refused(wrap(`${DEV}${ITL}<String name="x">&xxe;</String>`), 'ERR_ALARM_ENTITY');
  refused(wrap(`${DEV}${ITL}<String name="x">&#0;</String>`), 'ERR_ALARM_ENTITY');
  refused(wrap(`${DEV}${ITL}<String name="x">&#xD800;</String>`), 'ERR_ALARM_ENTITY');
  refused(wrap(`${DEV}${ITL}<String name="x">AT&T</String>`), 'ERR_ALARM_ENTITY');
  refused(wrap(`${DEV}${ITL}<String name="x">&constructor;</String>`), 'ERR_ALARM_ENTITY');
  // Billion laughs and external entities never get as far as a declaration.
  refused(
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' +
      wrap(`${DEV}<String name="ITL_Signature">&lol2;</String>`).slice(22),
    'ERR_ALARM_DOCTYPE',
  );
  refused('<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x-cisco-alarm/>', 'ERR_ALARM_DOCTYPE');
  refused(wrap(`${DEV}<String name="ITL_Signature"><![CDATA[Not Installed]]></String>`), 'ERR_ALARM_SYNTAX');
});

test('bounds: size, depth, element count, parameters, value length, attributes — each a typed error', () => {
  const big = wrap(`${DEV}${ITL}<String name="pad">${'x'.repeat(alarmLimitDefaults.maxBodyBytes)}</String>`);
  const e = refused(big, 'ERR_ALARM_TOO_LARGE');
  assert.equal(e.statusHint, 413);
  const deep = `<x-cisco-alarm>${'<a>'.repeat(50)}${'</a>'.repeat(50)}</x-cisco-alarm>`;
  refused(deep, 'ERR_ALARM_DEPTH');
  refused(`<x-cisco-alarm>${'<a/>'.repeat(300)}</x-cisco-alarm>`, 'ERR_ALARM_TOO_MANY');
  const many = Array.from({ length: 65 }, (_, i) => `<String name="p${i}">v</String>`).join('');
  refused(wrap(many), 'ERR_ALARM_TOO_MANY');
  refused(wrap(`${DEV}<String name="x">${'y'.repeat(1025)}</String>`), 'ERR_ALARM_TOO_MANY');
  refused(
    `<x-cisco-alarm><Alarm Name="DeviceTLInfo" ${Array.from({ length: 9 }, (_, i) => `a${i}="1"`).join(' ')}/></x-cisco-alarm>`,
    'ERR_ALARM_TOO_MANY',
  );
  refused(`<x-cisco-alarm><${'n'.repeat(65)}/></x-cisco-alarm>`, 'ERR_ALARM_TOO_MANY');
});

test('structure: duplicates, wrong root, unclosed, mismatched, nested String, bad UTF-8, bad fields', () => {
  refused(wrap(`${DEV}${ITL}${ITL}`), 'ERR_ALARM_DUPLICATE');
  refused('<x-cisco-alarm><Alarm Name="A"/><Alarm Name="B"/></x-cisco-alarm>', 'ERR_ALARM_DUPLICATE');
  refused('<html><body/></html>', 'ERR_ALARM_NOT_ALARM');
  refused('<x-cisco-alarm><ParameterList/></x-cisco-alarm>', 'ERR_ALARM_NOT_ALARM');
  refused('<x-cisco-alarm><Alarm Name="DeviceTLInfo">', 'ERR_ALARM_SYNTAX');
  refused('<x-cisco-alarm></Alarm></x-cisco-alarm>', 'ERR_ALARM_SYNTAX');
  refused(wrap(`${DEV}<String name="ITL_Signature"><b>x</b></String>`), 'ERR_ALARM_SYNTAX');
  refused('<x-cisco-alarm/><x-cisco-alarm/>', 'ERR_ALARM_SYNTAX');
  refused('junk<x-cisco-alarm/>', 'ERR_ALARM_SYNTAX');
  refused(
    Buffer.concat([Buffer.from(wrap(DEV).slice(0, 40)), Buffer.from([0xc3, 0x28]), Buffer.from(wrap(DEV).slice(40))]),
    'ERR_ALARM_ENCODING',
  );
  refused(wrap(ITL), 'ERR_ALARM_FIELD');
  refused(wrap(`<String name="DeviceName">SEP12</String>${ITL}`), 'ERR_ALARM_FIELD');
  refused(wrap(DEV), 'ERR_ALARM_FIELD');
  refused(wrap(`${DEV}<String name="ITL_Signature">3E 91</String>`), 'ERR_ALARM_FIELD');
  refused(wrap(`${DEV}${ITL}<String name="ITL_TFTP_Server">a&#10;b</String>`), 'ERR_ALARM_FIELD');
});

test('every prefix of the example is refused with a typed error (a body cut anywhere), never a crash', () => {
  const bytes = Buffer.from(SPEC_BODY, 'utf8');
  const full = SPEC_BODY.lastIndexOf('</x-cisco-alarm>') + '</x-cisco-alarm>'.length;
  for (let n = 0; n < full; n++) {
    const r = parseAlarmBody(bytes.subarray(0, n));
    assert.equal(r.ok, false, `prefix of ${n} bytes accepted`);
    assert.match((r as { ok: false; error: AlarmError }).error.code, /^ERR_ALARM_/);
  }
});

test('random bytes and random edits of the example: a typed result every time (fast-check)', () => {
  const base = Buffer.from(SPEC_BODY, 'utf8');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(base.length), fc.nat(base.length), (junk, at, cut) => {
      const mutated = Buffer.concat([base.subarray(0, at), Buffer.from(junk), base.subarray(Math.max(at, cut))]);
      for (const b of [mutated, Buffer.from(junk)]) {
        const r = parseAlarmBody(b);
        if (!r.ok) assert.ok(r.error instanceof AlarmError);
        const work = { scanned: 0 };
        parseCiscoAlarm(b, {}, work);
        assert.ok(work.scanned <= 4 * b.length + 64, `${work.scanned} characters looked at for ${b.length} bytes`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('round trip: whatever the encoder writes, the parser reads back the same report', () => {
  const hex = fc.stringMatching(/^[0-9a-f]{40}$/);
  const server = fc.stringMatching(/^[a-z0-9.&<>"-]{1,40}$/).filter((s) => s.toUpperCase() !== 'N/A');
  fc.assert(
    fc.property(hex, server, fc.boolean(), (h, s, ctl) => {
      const info: DeviceTlInfo = {
        deviceName: 'SEP0011223344AB',
        ipv4Address: '10.0.0.1',
        ipv6Address: null,
        itl: { state: 'installed', algorithm: 'sha1', hashHex: h, tftpServer: s },
        ctl: ctl ? { state: 'installed', algorithm: 'sha1', hashHex: h, tftpServer: s } : { state: 'not-installed', tftpServer: null },
      };
      const r = parseAlarmBody(formatDeviceTlInfo(info));
      assert.deepEqual(r, { ok: true, value: info });
    }),
    { numRuns: 300 },
  );
});

test('linear work on hostile bodies: characters looked at stay within a small multiple of the body size', () => {
  const n = 15_000;
  const shapes: Record<string, string> = {
    'the spec example': SPEC_BODY,
    'many unclosed tags': '<x-cisco-alarm>' + '<a '.repeat(n / 3),
    'many ampersands in a value': wrap(`${DEV}<String name="x">${'&'.repeat(900)}</String>`),
    'lone ampersand far from a semicolon': wrap(`${DEV}<String name="x">&${'a'.repeat(900)};</String>`),
    'unterminated attribute quotes': '<x-cisco-alarm><Alarm Name="' + 'x'.repeat(n),
    'unterminated comment': '<x-cisco-alarm><!--' + '-'.repeat(n),
    'many comments': '<x-cisco-alarm>' + '<!---->'.repeat(n / 7),
    'spaces between attributes': '<x-cisco-alarm><Alarm' + ' '.repeat(n) + 'Name="a"/></x-cisco-alarm>',
    'long text outside a parameter': '<x-cisco-alarm><Alarm Name="a">' + 'x'.repeat(n) + '</Alarm></x-cisco-alarm>',
    'many less-than signs': '<'.repeat(n),
  };
  for (const [what, body] of Object.entries(shapes)) {
    const bytes = Buffer.from(body, 'utf8');
    const work = { scanned: 0 };
    parseCiscoAlarm(bytes, {}, work);
    assert.ok(work.scanned <= 4 * bytes.length + 64, `${what}: ${work.scanned} characters looked at for ${bytes.length} bytes`);
  }
});
