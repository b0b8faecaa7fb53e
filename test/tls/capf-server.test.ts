/** test/capf/server.test.ts again, with CAPF on the C TLS engine (src/tls/engine-service.ts) instead of node:tls. */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('CAPF server tests over the TLS engine', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'native';
  await import('../capf/server.test.js');
}
