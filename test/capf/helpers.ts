/** CAPF test helpers: a running CAPF server on a temporary appliance, and a MIC CA made by the openssl CLI. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { capfOperations } from '../../src/daemons/adapters/capf-store.js';
import { CapfServer, type CapfServerOptions } from '../../src/capf/server.js';
import { captureLogger, tempDir, tempState } from '../tvs/helpers.js';

type T = { after: (fn: () => Promise<void> | void) => void };

export async function startCapf(t: T, extra: Partial<CapfServerOptions> = {}) {
  const state = tempState(t);
  const { logger, lines } = captureLogger('capfd');
  // test/tls/capf-*.test.ts run the CAPF tests again with SBD_TLS_ENGINE=node (node:tls; the default is the C engine).
  const e = process.env.SBD_TLS_ENGINE;
  const tlsEngine = e === 'native' || e === 'node' ? e : undefined;
  const server = new CapfServer({
    store: capfOperations(state.store),
    host: '127.0.0.1',
    port: 0,
    logger,
    reloadIntervalMs: 0,
    tlsEngine,
    ...extra,
  });
  const { port } = await server.listen();
  t.after(() => server.close());
  const capfCert = state.store.currentCertificate('CAPF', 'cucm-pub')!;
  return { state, server, port, lines, capfCert, store: state.store };
}

/** A manufacturer CA and MICs for phones, made by openssl (RSA, as Cisco MICs are). */
export function micFactory(t: T, caName = 'Cisco Manufacturing CA SHA2') {
  const dir = tempDir(t, 'sbd-mic-');
  const ca = { key: path.join(dir, 'ca.key'), pem: path.join(dir, 'ca.pem') };
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      ca.key,
      '-out',
      ca.pem,
      '-days',
      '3650',
      '-subj',
      `/O=Cisco/CN=${caName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    { stdio: 'pipe' },
  );
  let n = 0;
  return {
    caPem: fs.readFileSync(ca.pem, 'utf8'),
    /** A MIC for `CP-<model>-SEP<MAC>`: { certPem, keyPem }. */
    mic(mac: string, model = '8845'): { certPem: string; keyPem: string } {
      n++;
      const key = path.join(dir, `mic${n}.key`);
      const csr = path.join(dir, `mic${n}.csr`);
      const pem = path.join(dir, `mic${n}.pem`);
      execFileSync(
        'openssl',
        [
          'req',
          '-new',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          csr,
          '-subj',
          `/O=Cisco Systems Inc./CN=CP-${model}-SEP${mac}`,
        ],
        { stdio: 'pipe' },
      );
      execFileSync(
        'openssl',
        ['x509', '-req', '-in', csr, '-CA', ca.pem, '-CAkey', ca.key, '-days', '3650', '-set_serial', String(1000 + n), '-out', pem],
        { stdio: 'pipe' },
      );
      return { certPem: fs.readFileSync(pem, 'utf8'), keyPem: fs.readFileSync(key, 'utf8') };
    },
  };
}
