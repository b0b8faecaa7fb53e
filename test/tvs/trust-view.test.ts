/**
 * TVS needs nothing from the store but `TvsTrustView` (src/tvs/trust-view.ts, issue 17 item 4): the TVS server
 * runs here over a tiny in-memory view (no SQLite, no state folder but its key file) and answers a TVS client
 * on loopback; a row added with a new generation is vouched for on the next request.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateIdentity, type Identity } from '../../src/pki/profiles.js';
import type { CertRow, NodeRow } from '../../src/store/index.js';
import { parseCertificatePem } from '../../src/store/certificates.js';
import { Role } from '../../src/trust/tags.js';
import { queryTvs } from '../../src/tvs/client.js';
import { TvsServer } from '../../src/tvs/server.js';
import type { TvsTrustView } from '../../src/tvs/trust-view.js';
import { tempDir } from './helpers.js';

const now = new Date();
const node: NodeRow = {
  id: 1,
  name: 'pub',
  hostname: 'pub',
  ipv4: '127.0.0.1',
  ipv6: null,
  isPublisher: true,
  services: ['tftp', 'tvs', 'sip'],
  createdAt: now.toISOString(),
};

function row(id: number, identity: Identity, keyFile: string | null = null): CertRow {
  const at = now.toISOString();
  return {
    ...parseCertificatePem(identity.certPem),
    id,
    name: identity.name,
    node: 'pub',
    kind: 'identity',
    keyFile,
    current: true,
    createdAt: at,
    replacedAt: null,
    purpose: null,
  };
}

/** The whole "store": one node, a few rows, two TLS parameters and a generation moved by hand. */
class MemoryTrustView implements TvsTrustView {
  gen = 1;
  readonly rows: CertRow[] = [];
  generation(): number {
    return this.gen;
  }
  snapshot<T>(read: () => T): T {
    return read();
  }
  listNodes(): NodeRow[] {
    return [node];
  }
  listCertificates(): CertRow[] {
    return [...this.rows];
  }
  currentCertificate(name: 'TVS', nodeName: string): CertRow | undefined {
    return this.rows.find((r) => r.name === name && r.node === nodeName && r.current);
  }
  getParam(name: string): string {
    if (name === 'TLSCiphers') return 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384';
    if (name === 'TLSMinVersion') return '1.2';
    throw new Error(`TVS asked for parameter ${name}`);
  }
}

test('the TVS server over an in-memory TvsTrustView: its identity, valid/invalid answers, a new row seen by generation', async (t) => {
  const dir = tempDir(t);
  const tvs = generateIdentity({ name: 'TVS', hostname: 'pub', now });
  const keyFile = join(dir, 'tvs.key');
  writeFileSync(keyFile, tvs.privateKeyPem);
  chmodSync(keyFile, 0o600);
  const cm = generateIdentity({ name: 'CallManager', hostname: 'pub', now });
  const tomcat = generateIdentity({ name: 'tomcat', hostname: 'pub', ipv4: '127.0.0.1', now });
  const view = new MemoryTrustView();
  view.rows.push(row(1, tvs, keyFile), row(2, cm));

  const server = new TvsServer({ store: view, host: '127.0.0.1', port: 0, reloadIntervalMs: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  assert.equal(server.certificateSha256, view.rows[0]!.sha256Hex, "TVS presents the view's TVS certificate");
  const ask = (certDer: Buffer) =>
    queryTvs({ host: '127.0.0.1', port, deviceName: 'CP-8845-SEP001122334455', certDer, trustedServerCerts: [tvs.certDer] });

  const a = await ask(cm.certDer);
  assert.deepEqual({ status: a.status, roles: a.roles }, { status: 'valid', roles: [Role.CCM_TFTP, Role.SAST] });
  assert.equal((await ask(tomcat.certDer)).status, 'invalid', 'not in the view: not vouched for');

  view.rows.push(row(3, tomcat));
  view.gen++;
  const b = await ask(tomcat.certDer);
  assert.deepEqual({ status: b.status, roles: b.roles }, { status: 'valid', roles: [Role.APP_SERVER] });
  assert.deepEqual({ valid: server.stats.valid, invalid: server.stats.invalid }, { valid: 2, invalid: 1 });
});
