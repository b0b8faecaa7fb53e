/**
 * One TFTP behaviour (issue 17 build item 1): the shared vectors of ./vectors.ts — request bytes → the first packet
 * answered — give the same bytes from the TypeScript core (core/request.ts firstReply, which server.ts onRequest
 * runs) and from the C engine's functions (sbd_tftp_first_reply over tftp_judge_request and tftp_negotiate, which
 * request_datagram runs), each under the limits table's defaults plus the vector's own limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstReply } from '../../src/tftp/core/request.js';
import { defaultNegotiationLimits } from '../../src/tftp/core/options.js';
import { engineConfigPairs } from '../../src/tftp/limits.js';
import { tftpServerDefaults } from '../../src/tftp/server.js';
import { NativeTftpServer, nativeFirstReply } from '../../src/tftp/native-server.js';
import { tftpVectors, type TftpVector } from './vectors.js';

const show = (r: Buffer | 'data' | undefined) => (r === undefined ? 'none' : r === 'data' ? 'data' : r.toString('hex'));
const limitsOf = (v: TftpVector) => ({ ...defaultNegotiationLimits, ...tftpServerDefaults, ...v.limits });

test('the vectors cover every kind of answer', () => {
  const kinds = new Set(tftpVectors.map((v) => (v.reply.startsWith('0005') ? 'error' : v.reply.startsWith('0006') ? 'oack' : v.reply)));
  assert.deepEqual([...kinds].sort(), ['data', 'error', 'none', 'oack']);
});

test('TypeScript core: every vector', () => {
  for (const v of tftpVectors) assert.equal(show(firstReply(v.request, v.fileSize, limitsOf(v))), v.reply, v.name);
});

test('C engine (koffi): every vector', { skip: !NativeTftpServer.available() && 'libsbdtftp.so not built' }, () => {
  for (const v of tftpVectors) {
    const config = engineConfigPairs(limitsOf(v))
      .map(([k, n]) => `${k}=${n}\n`)
      .join('');
    assert.equal(show(nativeFirstReply(config, v.request, v.fileSize)), v.reply, v.name);
  }
});
