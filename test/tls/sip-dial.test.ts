/**
 * The trunk dial-out tests again on node:tls (SBD_TLS_ENGINE=node): the files themselves dial on the TLS engine
 * (issue 20 item 3), this copy on the reference, so both paths pass the same tests (StreamTransport dials, the
 * TLS 1.0 gateway, sipd's trunks through stunnel). Skipped where the engine is not built (the files then run on
 * node:tls already).
 */
import { test } from 'node:test';
import { engineMissing } from './helpers.js';

if (engineMissing) test('trunk dial-out on node:tls (the engine is the default)', { skip: engineMissing }, () => {});
else {
  process.env.SBD_TLS_ENGINE = 'node';
  await import('../sip/interop/stream-dial.test.js');
  await import('../sip/interop/legacy-tls-dial.test.js');
  await import('../sip/interop/trunk-dial-out.test.js');
}
