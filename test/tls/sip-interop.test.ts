/**
 * The SIP tests that reach sbd-sipd's 5061 with real peers (baresip, sipp through stunnel, sipsak, the simulated
 * phones and `sbd phone`) again, with the TLS listener on the other TLS path (test/sip/interop/harness.ts reads
 * SBD_TLS_ENGINE).
 * Since the engine became the default (issue 20), the file itself runs on the engine and this copy runs it on
 * node:tls, the reference: both paths pass the same tests. Skipped where the engine is not built (then the
 * default is node:tls already).
 */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('SIP interop on node:tls (the engine is the default)', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'node';
  await import('../sip/interop/baresip.test.js');
  await import('../sip/interop/sipp.test.js');
  await import('../sip/interop/sipsak.test.js');
  await import('../sip/sim-ua.test.js');
  await import('../sip/phone-cli.test.js');
}
