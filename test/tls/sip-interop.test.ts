/**
 * The SIP tests that reach sbd-sipd's 5061 with real peers (baresip, sipp through stunnel, sipsak, the simulated
 * phones and `sbd phone`) again, with the TLS listener on the C TLS engine (test/sip/interop/harness.ts reads
 * SBD_TLS_ENGINE).
 */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('SIP interop over the TLS engine', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'native';
  await import('../sip/interop/baresip.test.js');
  await import('../sip/interop/sipp.test.js');
  await import('../sip/interop/sipsak.test.js');
  await import('../sip/sim-ua.test.js');
  await import('../sip/phone-cli.test.js');
}
