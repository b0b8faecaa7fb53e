/** test/security/row-08-connection-exhaustion.test.ts again, its SIP TLS listeners on the C TLS engine. */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('SIP row 8 over the TLS engine', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'native';
  await import('../security/row-08-connection-exhaustion.test.js');
}
