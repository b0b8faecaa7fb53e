import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodePacket,
  encodeRequest,
  Opcode,
} from '../../src/tftp/core/packet.js';
import { TftpError } from '../../src/tftp/core/errors.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RRQ with options encodes to the RFC 2347 bytes and back', () => {
  const bytes = encodeRequest(Opcode.RRQ, 'ITLFile.tlv', 'octet', [
    ['blksize', '1428'],
    ['tsize', '0'],
  ]);
  // 00 01 "ITLFile.tlv" 00 "octet" 00 "blksize" 00 "1428" 00 "tsize" 00 "0" 00
  assert.equal(bytes.toString('hex'), '0001' + Buffer.from('ITLFile.tlv\0octet\0blksize\x001428\0tsize\x000\0', 'latin1').toString('hex'));
  assert.deepEqual(decodePacket(bytes), {
    opcode: 1,
    filename: 'ITLFile.tlv',
    mode: 'octet',
    options: [
      ['blksize', '1428'],
      ['tsize', '0'],
    ],
  });
});

test('mode and option names are case-insensitive (lower-cased), values and file names are kept', () => {
  const p = decodePacket(Buffer.from('\x00\x01SEP001122334455.cnf.xml\0OCTET\0BlkSize\x00512\0', 'latin1'));
  assert.deepEqual(p, { opcode: 1, filename: 'SEP001122334455.cnf.xml', mode: 'octet', options: [['blksize', '512']] });
});

test('WRQ, DATA, ACK, ERROR, OACK fixtures', () => {
  assert.deepEqual(decodePacket(hex('0002 6100 6f6374657400')), { opcode: 2, filename: 'a', mode: 'octet', options: [] });
  const d = decodePacket(hex('0003 ffff 010203'));
  assert.equal(d.opcode, Opcode.DATA);
  assert.deepEqual(d.opcode === Opcode.DATA && [d.block, [...d.data]], [65535, [1, 2, 3]]);
  assert.deepEqual(decodePacket(hex('0003 0001')), { opcode: 3, block: 1, data: Buffer.alloc(0) });
  assert.deepEqual(decodePacket(hex('0004 0000')), { opcode: 4, block: 0 });
  assert.deepEqual(decodePacket(hex('0005 0001 6e6f00')), { opcode: 5, errorCode: 1, message: 'no' });
  assert.deepEqual(decodePacket(hex('0005 0002 6e6f')), { opcode: 5, errorCode: 2, message: 'no' }, 'missing NUL tolerated');
  assert.deepEqual(decodePacket(hex('0006 7473697a6500 313000')), { opcode: 6, options: [['tsize', '10']] });
  assert.deepEqual(decodePacket(hex('0006')), { opcode: 6, options: [] });
});

test('encoders produce exact bytes', () => {
  assert.equal(encodeData(65536 + 7, Buffer.from([9])).toString('hex'), '0003000709', 'block numbers wrap to 16 bits');
  assert.equal(encodeAck(0x1234).toString('hex'), '00041234');
  assert.equal(encodeError(5, 'unknown transfer ID').toString('hex'), '00050005' + Buffer.from('unknown transfer ID\0').toString('hex'));
  assert.equal(encodeOack([['blksize', '1428']]).toString('hex'), '0006' + Buffer.from('blksize\x001428\0').toString('hex'));
});

test('trailing NUL padding after options is tolerated', () => {
  assert.deepEqual(decodePacket(Buffer.from('\x00\x01f\0octet\0\0\0\0', 'latin1')), {
    opcode: 1,
    filename: 'f',
    mode: 'octet',
    options: [],
  });
});

const malformed: [string, string][] = [
  ['', 'shorter than an opcode'],
  ['00', 'shorter than an opcode'],
  ['0000', 'unknown opcode 0'],
  ['0007', 'unknown opcode 7'],
  ['ffff 00', 'unknown opcode 65535'],
  ['0001', 'file name is not NUL-terminated'],
  ['0001 6162', 'file name is not NUL-terminated'],
  ['0001 6100 6f63', 'mode is not NUL-terminated'],
  ['0001 6100 00', 'empty mode'],
  ['0002 6100', 'WRQ mode is not NUL-terminated'],
  ['0001 6100 6f00 626c6b', 'option name is not NUL-terminated'],
  ['0001 6100 6f00 626c6b00 3531', 'has no NUL-terminated value'],
  ['0001 6100 6f00 00 7800', 'empty option name'],
  ['0003 00', 'DATA packet of 3 bytes has no block number'],
  ['0004 01', 'ACK packet of 3 bytes has no block number'],
  ['0005 00', 'ERROR packet of 3 bytes has no error code'],
  ['0006 7800', 'has no NUL-terminated value'],
];
for (const [bytes, message] of malformed) {
  test(`malformed ${bytes || '(empty)'} → error 4: ${message}`, () => {
    assert.throws(
      () => decodePacket(hex(bytes)),
      (err: unknown) => {
        assert.ok(err instanceof TftpError);
        assert.equal(err.code, 'ERR_TFTP_MALFORMED');
        assert.equal(err.tftpCode, 4);
        assert.match(err.message, new RegExp(message));
        return true;
      },
    );
  });
}

test('encode(decode(x)) round-trips every packet kind, decoding at every length never throws anything but TftpError', () => {
  const packets = [
    encodeRequest(Opcode.RRQ, 'x/y.bin', 'netascii', [['windowsize', '8']]),
    encodeData(3, Buffer.from('hello')),
    encodeAck(9),
    encodeError(8, 'option refused'),
    encodeOack([
      ['tsize', '123'],
      ['blksize', '8'],
    ]),
  ];
  for (const p of packets) {
    assert.deepEqual(encodePacket(decodePacket(p)), p);
    for (let cut = 0; cut <= p.length; cut++) {
      try {
        decodePacket(p.subarray(0, cut));
      } catch (err) {
        assert.ok(err instanceof TftpError, `cut at ${cut}: ${String(err)}`);
      }
    }
  }
});
