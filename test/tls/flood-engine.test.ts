/** test/security/flood-tvs-capf.test.ts again with sbd-tvsd and sbd-capfd on the C TLS engine (--tls-engine native). */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('TVS/CAPF flood over the TLS engine', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'native';
  await import('../security/flood-tvs-capf.test.js');
}
