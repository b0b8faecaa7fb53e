/**
 * test/security/row-11-spoofed-trunk.test.ts again with sbd-sipd's 5061 on the other TLS path: a TLS trunk is
 * recognised by a certificate from its own CA only (the engine hands up verified certificates only).
 * Since the engine became the default (issue 20), the file itself runs on the engine and this copy runs it on
 * node:tls, the reference: both paths pass the same tests. Skipped where the engine is not built (then the
 * default is node:tls already).
 */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('SIP row 11 on node:tls (the engine is the default)', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'node';
  await import('../security/row-11-spoofed-trunk.test.js');
}
