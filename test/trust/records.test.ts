import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseTrustFile, encodeTrustFile } from '../../src/trust/codec.js';
import { allRecordFields, headerFields } from '../../src/trust/fields.js';
import { recordFromCertificate, signerIdentityOf } from '../../src/trust/record.js';
import type { Role } from '../../src/trust/tags.js';

const cucm = readFileSync(new URL('../../../shared/vectors/cucm10-CTLFile.tlv', import.meta.url));

test('every CUCM CTL record is rebuilt byte for byte from its certificate, role, DNS name and IP', () => {
  const file = parseTrustFile(cucm);
  for (const [i, r] of allRecordFields(file).entries()) {
    const rebuilt = recordFromCertificate({ der: r.certificate!, role: r.role as Role, dnsName: r.dnsName, ipv4: r.ipAddress });
    const bytes = encodeTrustFile({
      header: file.header,
      records: [{ offset: 0, length: 0, elements: rebuilt }],
      body: Buffer.alloc(0),
    }).bytes.subarray(file.headerLength);
    assert.ok(bytes.equals(cucm.subarray(r.offset, r.offset + r.length)), `record ${i} differs`);
  }
});

test('the header signer identity equals what the signer certificate gives', () => {
  const file = parseTrustFile(cucm);
  const h = headerFields(file);
  const id = signerIdentityOf(allRecordFields(file)[0]!.certificate!);
  assert.equal(id.subjectName, h.signerName);
  assert.equal(id.issuerName, h.signerIssuer);
  assert.ok(id.serial.equals(h.signerSerial));
});
