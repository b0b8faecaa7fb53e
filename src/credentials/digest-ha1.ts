/**
 * SIP digest credentials derived when a password is set: HA1 = H(username ":" realm ":" password), MD5 for
 * RFC 2617 §3.2.2.2 clients and SHA-256 for RFC 7616 §3.4.2 / RFC 8760 ones, lower-case hex. The registrar
 * checks responses against these, so the appliance never needs the clear password after it is set.
 */
import { createHash } from 'node:crypto';

export interface DigestHa1 {
  ha1Md5: string;
  ha1Sha256: string;
}

export function digestHa1(username: string, realm: string, password: string): DigestHa1 {
  // RFC 7616 §3.4.4: the username and password are UTF-8 strings; NFC keeps this consistent with the scrypt record.
  const a1 = Buffer.from(`${username}:${realm}:${password.normalize('NFC')}`, 'utf8');
  return { ha1Md5: createHash('md5').update(a1).digest('hex'), ha1Sha256: createHash('sha256').update(a1).digest('hex') };
}
