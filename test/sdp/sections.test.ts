/**
 * src/sdp/sections.ts: an SDP body split into session lines and media sections and joined again gives the same
 * lines; the bounds drop what is past them; port 0 and non-audio/video streams are not active.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isActiveMedia, joinSdp, splitSdp } from '../../src/sdp/sections.js';

const body = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 4000 RTP/SAVP 0',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VtYW',
  'm=video 0 RTP/AVP 96',
  'm=application 5000 UDP/BFCP *',
].join('\r\n');

test('split and join keep every line in order, with CRLF line ends', () => {
  const { session, media } = splitSdp(body);
  assert.deepEqual(session, ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0']);
  assert.deepEqual(
    media.map((m) => [m.mline, m.lines.length]),
    [
      ['m=audio 4000 RTP/SAVP 0', 1],
      ['m=video 0 RTP/AVP 96', 0],
      ['m=application 5000 UDP/BFCP *', 0],
    ],
  );
  assert.equal(joinSdp(session, media), `${body}\r\n`);
  // LF alone and empty lines are read too; the output is CRLF.
  const lf = splitSdp(body.replaceAll('\r\n', '\n\n'));
  assert.equal(joinSdp(lf.session, lf.media), `${body}\r\n`);
});

test('active streams: audio or video with a port other than 0', () => {
  assert.deepEqual(splitSdp(body).media.map(isActiveMedia), [true, false, false]);
});

test('bounds: lines and media sections past them are dropped', () => {
  const many = ['v=0', ...Array.from({ length: 40 }, (_, i) => `m=audio ${4000 + i} RTP/AVP 0`)].join('\r\n');
  assert.equal(splitSdp(many, { maxMediaSections: 3 }).media.length, 3);
  assert.equal(splitSdp(many, { maxLines: 11 }).media.length, 10);
  assert.equal(splitSdp(many).media.length, 16, 'default maxMediaSections');
});
