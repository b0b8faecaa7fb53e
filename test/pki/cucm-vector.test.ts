/**
 * The ITL/CTL record fields that sbd derives from a certificate, checked byte for byte against a real CUCM 10
 * CTL: for each record, tags 3 (subject string), 5 (issuer string), 6 (serial), 7 (public key) and 8 (signature)
 * must equal what the PKI helpers compute from tag 9 (the certificate).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { certificateSignatureValue, cuCmDnString, publicKeyPkcs1Der, serialBytes } from '../../src/pki/dn.js';

// `../shared` beside the checkout, as CI lays it out.
const ctlFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/cucm10-CTLFile.tlv');

/** A tiny TLV walk: tag u8, length u16 BE; records start at the header length (u16 at offset 8). */
function records(file: Buffer): Map<number, Buffer>[] {
  assert.equal(file[7], 2, 'header tag 2 (HeaderLength) at offset 7');
  const out: Map<number, Buffer>[] = [];
  let offset = file.readUInt16BE(8);
  while (offset < file.length) {
    assert.equal(file[offset], 1, `record at ${offset} starts with RECORDLENGTH`);
    const end = offset + file.readUInt16BE(offset + 3);
    const tags = new Map<number, Buffer>();
    for (let p = offset; p < end; ) {
      const len = file.readUInt16BE(p + 1);
      tags.set(file[p]!, file.subarray(p + 3, p + 3 + len));
      p += 3 + len;
    }
    out.push(tags);
    offset = end;
  }
  return out;
}

/** Record strings are NUL-terminated and the NUL is counted (spec §1.1). */
function cString(value: Buffer): string {
  assert.equal(value[value.length - 1], 0, 'string ends with NUL');
  return value.subarray(0, -1).toString('utf8');
}

const file = fs.readFileSync(ctlFile);
const recs = records(file);

test('the CUCM 10 CTL has six certificate records', () => {
  assert.equal(crypto.createHash('sha256').update(file).digest('hex'), '1e8d2ea5b034b1f1367b0d50f8a16cf70964c21ef06872308a42606cc2450813');
  assert.equal(recs.length, 6);
});

for (const [i, rec] of recs.entries()) {
  test(`record ${i}: tags 3, 5, 6, 7, 8 equal what the PKI derives from tag 9`, () => {
    const der = rec.get(9)!;
    const x509 = new crypto.X509Certificate(der);
    assert.equal(cuCmDnString(der), cString(rec.get(3)!));
    assert.equal(cuCmDnString(x509, 'issuer'), cString(rec.get(5)!));
    // The byte form the ITL builder writes: UTF-8 string plus NUL.
    assert.deepEqual(Buffer.concat([Buffer.from(cuCmDnString(der), 'utf8'), Buffer.of(0)]), rec.get(3));
    assert.deepEqual(serialBytes(der), rec.get(6));
    assert.deepEqual(publicKeyPkcs1Der(x509), rec.get(7));
    assert.deepEqual(certificateSignatureValue(x509.toString()), rec.get(8));
  });
}

test('the CAPF and ITLRecovery certificates store C, O, OU, CN, ST, L yet their strings run CN→C', () => {
  const capf = recs[3]!.get(9)!;
  assert.equal(
    new crypto.X509Certificate(capf).subject
      .split('\n')
      .map((l) => l.split('=')[0])
      .join(','),
    'C,O,OU,CN,ST,L',
  );
  assert.equal(cuCmDnString(capf), 'CN=CAPF-2076a1a2;OU=VTG;O=Alpha;L=SJ;ST=CA;C=US');
});
