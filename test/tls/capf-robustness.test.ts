/**
 * test/capf/robustness.test.ts again, with CAPF on the other TLS path (SBD_TLS_ENGINE=node).
 * Since the engine became the default (issue 20), the file itself runs on the engine and this copy runs it on
 * node:tls, the reference: both paths pass the same tests. Skipped where the engine is not built (then the
 * default is node:tls already).
 */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('CAPF robustness tests on node:tls (the engine is the default)', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'node';
  await import('../capf/robustness.test.js');
}
