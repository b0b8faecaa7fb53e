/** test/sip/registrar/tls-reload.test.ts again, with the SIP TLS listener (5061) on the C TLS engine instead of node:tls. */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('SIP tls-reload over the TLS engine', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'native';
  await import('../sip/registrar/tls-reload.test.js');
}
