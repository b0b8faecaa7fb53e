import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptOack, defaultNegotiationLimits, negotiate, requestOptions } from '../../src/tftp/core/options.js';
import { TftpError } from '../../src/tftp/core/errors.js';

const limits = defaultNegotiationLimits;
const refused = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof TftpError && e.tftpCode === 8 && e.code === 'ERR_TFTP_OPTION' && re.test(e.message));

test('no options → no OACK, RFC 1350 defaults', () => {
  assert.deepEqual(negotiate([], 10, limits), { params: { blksize: 512, windowsize: 1, timeoutS: undefined }, oack: [] });
});

test('blksize, tsize, timeout, windowsize granted in request order; tsize answers the size', () => {
  const r = negotiate(
    [
      ['tsize', '0'],
      ['blksize', '1428'],
      ['windowsize', '8'],
      ['timeout', '3'],
    ],
    7000,
    limits,
  );
  assert.deepEqual(r.oack, [
    ['tsize', '7000'],
    ['blksize', '1428'],
    ['windowsize', '8'],
    ['timeout', '3'],
  ]);
  assert.deepEqual(r.params, { blksize: 1428, windowsize: 8, timeoutS: 3 });
});

test('RFC edges: blksize 8 and 65464 accepted; 7 and 65465 refused with error 8', () => {
  assert.equal(negotiate([['blksize', '8']], 0, limits).params.blksize, 8);
  assert.equal(negotiate([['blksize', '65464']], 0, limits).params.blksize, 65464);
  refused(() => negotiate([['blksize', '7']], 0, limits), /blksize=7 is outside 8..65464/);
  refused(() => negotiate([['blksize', '65465']], 0, limits), /outside/);
});

test('above our limits: blksize and windowsize lowered, timeout left out of the OACK', () => {
  const l = { ...limits, maxBlksize: 1024, maxWindowsize: 4, maxTimeoutS: 10 };
  const r = negotiate(
    [
      ['blksize', '4096'],
      ['windowsize', '16'],
      ['timeout', '30'],
    ],
    0,
    l,
  );
  assert.deepEqual(r.oack, [
    ['blksize', '1024'],
    ['windowsize', '4'],
  ]);
  assert.deepEqual(r.params, { blksize: 1024, windowsize: 4, timeoutS: undefined });
});

test('invalid values and duplicates are refused with error 8', () => {
  refused(() => negotiate([['blksize', 'abc']], 0, limits), /not a decimal number/);
  refused(() => negotiate([['blksize', '-1']], 0, limits), /not a decimal number/);
  refused(() => negotiate([['blksize', '1e3']], 0, limits), /not a decimal number/);
  refused(() => negotiate([['blksize', '']], 0, limits), /not a decimal number/);
  refused(() => negotiate([['timeout', '0']], 0, limits), /timeout=0/);
  refused(() => negotiate([['timeout', '256']], 0, limits), /timeout=256/);
  refused(() => negotiate([['windowsize', '0']], 0, limits), /windowsize=0/);
  refused(() => negotiate([['windowsize', '65536']], 0, limits), /windowsize=65536/);
  refused(
    () =>
      negotiate(
        [
          ['blksize', '512'],
          ['blksize', '1024'],
        ],
        0,
        limits,
      ),
    /appears twice/,
  );
});

test('tsize of an empty file is not offered (curl rejects "tsize 0" in an OACK)', () => {
  assert.deepEqual(
    negotiate(
      [
        ['tsize', '0'],
        ['blksize', '1428'],
      ],
      0,
      limits,
    ).oack,
    [['blksize', '1428']],
  );
});

test('unknown options are ignored (RFC 2347 §2); disabled options are not offered', () => {
  assert.deepEqual(
    negotiate(
      [
        ['multicast', ''],
        ['utimeout', '5000'],
      ],
      0,
      limits,
    ).oack,
    [],
  );
  assert.deepEqual(
    negotiate(
      [
        ['blksize', '1428'],
        ['tsize', '0'],
      ],
      5,
      { ...limits, blksize: false, tsize: false },
    ).oack,
    [],
  );
});

test('client: requestOptions and acceptOack', () => {
  const req = { blksize: 1428, tsize: true, windowsize: 8, timeoutS: 2 };
  assert.deepEqual(requestOptions(req), [
    ['blksize', '1428'],
    ['tsize', '0'],
    ['timeout', '2'],
    ['windowsize', '8'],
  ]);
  assert.deepEqual(
    acceptOack(req, [
      ['blksize', '1024'],
      ['tsize', '99'],
      ['windowsize', '4'],
      ['timeout', '2'],
    ]),
    {
      params: { blksize: 1024, windowsize: 4, timeoutS: 2 },
      tsize: 99,
    },
  );
  assert.deepEqual(acceptOack(req, []), { params: { blksize: 512, windowsize: 1, timeoutS: undefined }, tsize: undefined });
  refused(() => acceptOack(req, [['blksize', '2000']]), /outside 8..1428/);
  refused(() => acceptOack(req, [['windowsize', '9']]), /outside 1..8/);
  refused(() => acceptOack(req, [['timeout', '3']]), /outside 2..2/);
  refused(() => acceptOack({}, [['blksize', '512']]), /not requested/);
  refused(
    () =>
      acceptOack({ blksize: 512 }, [
        ['blksize', '512'],
        ['blksize', '512'],
      ]),
    /twice/,
  );
  refused(() => acceptOack({}, [['x', '1']]), /not requested/);
});
