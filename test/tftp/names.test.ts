import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFilename } from '../../src/tftp/core/filename.js';
import { fromNetascii, toNetascii } from '../../src/tftp/core/netascii.js';

test('names phones ask for are accepted', () => {
  for (const n of [
    'CTLFile.tlv',
    'ITLSEP001122334455.tlv',
    'SEP001122334455.cnf.xml.enc.sgn',
    'XMLDefault.cnf.xml',
    'locales/de_DE/tones.xml',
    'a b.txt',
  ]) {
    assert.equal(checkFilename(n), undefined, n);
  }
});

const refused: [string, string, number?][] = [
  ['', 'ERR_TFTP_NAME_EMPTY'],
  ['../etc/passwd', 'ERR_TFTP_NAME_PARENT'],
  ['a/../../b', 'ERR_TFTP_NAME_PARENT'],
  ['..', 'ERR_TFTP_NAME_PARENT'],
  ['/etc/passwd', 'ERR_TFTP_NAME_ABSOLUTE'],
  ['C:boot.ini', 'ERR_TFTP_NAME_ABSOLUTE'],
  ['a\\b', 'ERR_TFTP_NAME_BACKSLASH'],
  ['..\\..\\windows', 'ERR_TFTP_NAME_BACKSLASH'],
  ['a\0b', 'ERR_TFTP_NAME_NUL'],
  ['a\nb', 'ERR_TFTP_NAME_UNPRINTABLE'],
  ['a\x7fb', 'ERR_TFTP_NAME_UNPRINTABLE'],
  ['caf\xe9', 'ERR_TFTP_NAME_UNPRINTABLE'],
  ['a//b', 'ERR_TFTP_NAME_SEGMENT'],
  ['./a', 'ERR_TFTP_NAME_SEGMENT'],
  ['dir/', 'ERR_TFTP_NAME_SEGMENT'],
  ['x'.repeat(256), 'ERR_TFTP_NAME_TOO_LONG'],
];
for (const [name, code] of refused) {
  test(`name ${JSON.stringify(name.slice(0, 20))} → error 2 ${code}`, () => {
    const e = checkFilename(name);
    assert.ok(e, 'refused');
    assert.equal(e.code, code);
    assert.equal(e.tftpCode, 2);
    assert.ok(e.message.length > 5 && !e.message.includes('\0') && !e.message.includes('\n'), 'message is printable');
  });
}

test('maxFilenameLength is an option', () => {
  assert.equal(checkFilename('x'.repeat(10), 10), undefined);
  assert.equal(checkFilename('x'.repeat(11), 10)?.code, 'ERR_TFTP_NAME_TOO_LONG');
});

test('netascii: LF → CR LF, CR → CR NUL, and back', () => {
  const local = Buffer.from('a\nb\rc\r\n', 'latin1');
  const wire = toNetascii(local);
  assert.equal(wire.toString('latin1'), 'a\r\nb\r\0c\r\0\r\n');
  assert.deepEqual(fromNetascii(wire), local);
  const plain = Buffer.from('no line ends');
  assert.equal(toNetascii(plain), plain, 'no copy when nothing changes');
  assert.equal(fromNetascii(Buffer.from('x\r')).toString('latin1'), 'x\r', 'a lone trailing CR is kept');
  for (let i = 0; i < 200; i++) {
    const r = Buffer.from(Array.from({ length: i }, () => [10, 13, 0, 65][Math.floor(Math.random() * 4)]!));
    assert.deepEqual(fromNetascii(toNetascii(r)), r);
  }
});
