/**
 * test/security/row-11-spoofed-trunk.test.ts again with sbd-sipd's 5061 on the C TLS engine: a TLS trunk is
 * recognised by a certificate from its own CA only (the engine hands up verified certificates only).
 */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('SIP row 11 over the TLS engine', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'native';
  await import('../security/row-11-spoofed-trunk.test.js');
}
