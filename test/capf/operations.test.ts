/**
 * CAPF needs nothing from the appliance but `CapfOperations` (src/capf/operations.ts, issue 17 item 4): the CAPF
 * server runs here over a tiny in-memory implementation (a device map, an audit list, pki/lsc.ts for issuing; no
 * SQLite) and a phone enrolls over TLS on loopback: the LSC issued through the interface, the operation and its
 * status updated through it, a wrong authentication counted in its transaction and audited.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { enrollWithCapf } from '../../src/capf/client.js';
import { MAX_CAPF_STATUS_CHARS, pendingStatus } from '../../src/capf/operation-status.js';
import type { CapfDevicePatch, CapfOperations, LscRequest } from '../../src/capf/operations.js';
import { CapfServer } from '../../src/capf/server.js';
import { issueLsc } from '../../src/pki/lsc.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { DEVICE_LIMITS, type AuditInput, type CertRow, type DeviceRow, type NodeRow } from '../../src/store/index.js';
import { parseCertificatePem } from '../../src/store/certificates.js';
import { tempDir } from '../tvs/helpers.js';

const now = new Date();
const DEVICE = 'SEP001122334455';
const node: NodeRow = {
  id: 1,
  name: 'pub',
  hostname: 'pub',
  ipv4: '127.0.0.1',
  ipv6: null,
  isPublisher: true,
  services: ['capf'],
  createdAt: now.toISOString(),
};

class MemoryCapf implements CapfOperations {
  readonly devices = new Map<string, DeviceRow>();
  readonly audit: AuditInput[] = [];
  readonly issued: string[] = [];
  transactions = 0;
  readonly capf: CertRow;
  constructor(capf: CertRow) {
    this.capf = capf;
  }
  generation(): number {
    return 1;
  }
  listNodes(): NodeRow[] {
    return [node];
  }
  currentCertificate(): CertRow | undefined {
    return this.capf;
  }
  getParam(name: string): string {
    if (name === 'TLSCiphers') return 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384';
    if (name === 'TLSMinVersion') return '1.2';
    throw new Error(`CAPF asked for parameter ${name}`);
  }
  listCertificates(): CertRow[] {
    return [this.capf];
  }
  getDevice(name: string): DeviceRow | undefined {
    return this.devices.get(name);
  }
  updateDevice(name: string, patch: CapfDevicePatch): DeviceRow {
    const d = { ...this.devices.get(name)!, ...patch };
    this.devices.set(name, d);
    return d;
  }
  transaction<T>(fn: () => T): T {
    this.transactions++;
    return fn();
  }
  appendAudit(entry: AuditInput): void {
    this.audit.push(entry);
  }
  issueLsc(r: LscRequest): { der: Buffer; pem: string } {
    this.issued.push(r.deviceName);
    return issueLsc({ ...r, serial: Buffer.from([0x42, this.issued.length]) });
  }
}

function pending(password: string): DeviceRow {
  const at = now.toISOString();
  return {
    id: 1,
    name: DEVICE,
    model: '8845',
    description: '',
    securityProfile: 'Standard',
    lscPem: null,
    symmetricKeyHex: null,
    digestUser: null,
    directoryNumber: null,
    capfOperation: 'install',
    capfAuthMode: 'password',
    capfAuthString: password,
    capfStatus: pendingStatus('install', { type: 'ec', curve: 'P-256' }),
    capfAuthFailures: 0,
    createdAt: at,
    updatedAt: at,
  };
}

test('the CAPF server over an in-memory CapfOperations: install through the interface, a wrong string counted and audited', async (t) => {
  const dir = tempDir(t, 'sbd-capf-ops-');
  const capf = generateIdentity({ name: 'CAPF', hostname: 'pub', now });
  const keyFile = join(dir, 'capf.key');
  writeFileSync(keyFile, capf.privateKeyPem);
  chmodSync(keyFile, 0o600);
  const ops = new MemoryCapf({
    ...parseCertificatePem(capf.certPem),
    id: 1,
    name: 'CAPF',
    node: 'pub',
    kind: 'identity',
    keyFile,
    current: true,
    createdAt: now.toISOString(),
    replacedAt: null,
    purpose: null,
  });
  ops.devices.set(DEVICE, pending('47114711'));
  const server = new CapfServer({ store: ops, host: '127.0.0.1', port: 0, reloadIntervalMs: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const enroll = (password: string) =>
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'password', password },
      trustedServerCerts: [capf.certDer],
    });

  const r = await enroll('47114711');
  assert.equal(r.operation, 'install');
  assert.deepEqual(ops.issued, [DEVICE], 'the LSC came from the interface');
  const d = ops.devices.get(DEVICE)!;
  assert.equal(d.capfOperation, 'none');
  assert.equal(d.capfAuthString, null, 'the string is spent');
  assert.match(d.capfStatus!, /^Upgrade Success .*: LSC serial 4201$/);
  assert.equal(d.lscPem, r.operation === 'install' ? r.lscPem.trim() + '\n' : null);

  ops.devices.set(DEVICE, pending('12121212'));
  const wrong = await enroll('99999999').catch((e: unknown) => e);
  assert.ok(wrong instanceof Error, 'a wrong string is refused');
  const after = ops.devices.get(DEVICE)!;
  assert.deepEqual(
    { op: after.capfOperation, failures: after.capfAuthFailures, transactions: ops.transactions },
    { op: 'install', failures: 1, transactions: 1 },
  );
  assert.deepEqual(
    ops.audit.map((a) => [a.action, a.result]),
    [['capf-auth-failure', 'failure']],
  );
  assert.deepEqual(ops.issued, [DEVICE], 'nothing issued for a refused phone');
});

test("CAPF's status bound is the store's", () => {
  assert.equal(MAX_CAPF_STATUS_CHARS, DEVICE_LIMITS.maxCapfStatusChars);
});
