/**
 * Issue 21 item 4 with three nodes in one store, each node's `sbd daemon tftp --node NAME` on its own address:
 * - each serves its own ITL: its CallManager certificate as CCM+TFTP and SAST (no other node's), ITLRecovery as
 *   SAST, every TVS of the cluster, the publisher's CAPF; the independent checker verifies each, the publisher's
 *   signed by ITLRecovery, a subscriber's by its own CallManager key; three different files;
 * - a phone in a call-manager group set by `sbd cm-group` boots from a subscriber: its config is signed by that
 *   node and names the group's call managers and TVS servers in order; it registers there (`sbd daemon sip
 *   --node`) and its ITL File Status is Match against that server's hash, which is not the publisher's;
 * - in mixed mode the CTL lists every node (CCM+TFTP per node); a subscriber without the publisher's key serves
 *   the CTL the publisher's TFTP served.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchFile } from '../../src/tftp/client.js';
import { parseTrustFile } from '../../src/trust/codec.js';
import { allRecordFields, headerFields } from '../../src/trust/fields.js';
import { Role, roleName } from '../../src/trust/tags.js';
import { withState } from '../../src/store/state.js';
import { bootSimPhone } from '../../src/sim/phone.js';
import { phoneConfigServices } from '../../src/sim/phone-config.js';
import { poolOptionsFor, TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { heldInPhoneFolder } from '../../src/sim/sip-ua/device-tl-info.js';
import { TftpClientPool } from '../../src/tftp/client.js';
import { itlStatusRows } from '../../src/reports/itl-status.js';
import { tlvCheck } from '../trust/helpers.js';
import { addPhone, clusterState, Redirects, sbd, startNode, tempDir, type NodeSpec } from './node-harness.js';

const nodes: NodeSpec[] = [
  { name: 'pub', ipv4: '127.0.0.1' },
  { name: 'sub1', ipv4: '127.0.0.2' },
  { name: 'sub2', ipv4: '127.0.0.3' },
];

const derOf = (dir: string, name: string, node: string | null) =>
  withState(dir, (s) => s.store.currentCertificate(name, node)!, { readonly: true });

test('each TFTP node serves its own ITL with every TVS; a phone booted from a subscriber is Match; the CTL lists every node', {
  timeout: 240_000,
}, async () => {
  const dir = await clusterState(nodes);
  const redirects = new Redirects();
  const daemons = await Promise.all(nodes.map((n) => startNode(dir, n, redirects, { tvs: n.name !== 'pub', sip: n.name === 'sub1' })));
  const files = tempDir('sbd-node-itl-');
  const itlRecovery = derOf(dir, 'ITLRecovery', null);
  const tvs = nodes.map((n) => derOf(dir, 'TVS', n.name).der.toString('hex')).sort();
  const capf = derOf(dir, 'CAPF', 'pub').der.toString('hex');

  const itls = new Map<string, Buffer>();
  for (const [i, n] of nodes.entries()) {
    const { data } = await fetchFile({ server: n.ipv4, port: daemons[i]!.tftpPort, name: 'ITLFile.tlv', retries: 5 });
    itls.set(n.name, data);
    const cm = derOf(dir, 'CallManager', n.name);
    const path = join(files, `${n.name}-ITLFile.tlv`);
    const pem = join(files, `${n.name}-cm.pem`);
    writeFileSync(path, data);
    writeFileSync(pem, cm.pem);
    const check = tlvCheck(path, pem);
    assert.equal(check.status, 0, `${n.name}: ${check.out}`);
    const file = parseTrustFile(data);
    const header = headerFields(file);
    const signer = n.name === 'pub' ? itlRecovery : cm;
    assert.equal(header.signerSerial.toString('hex'), signer.serialHex, `${n.name}: signed by ${signer.name}`);
    const records = allRecordFields(file).map((r) => ({ role: roleName(r.role), der: r.certificate!.toString('hex') }));
    const withRole = (role: number) =>
      records
        .filter((r) => r.role === roleName(role))
        .map((r) => r.der)
        .sort();
    assert.deepEqual(withRole(Role.CCM_TFTP), [cm.der.toString('hex')], `${n.name}: its own CallManager as CCM+TFTP, no other node's`);
    assert.deepEqual(withRole(Role.SAST), [cm.der.toString('hex'), itlRecovery.der.toString('hex')].sort(), `${n.name}: SAST records`);
    assert.deepEqual(withRole(Role.TVS), tvs, `${n.name}: every TVS of the cluster`);
    assert.deepEqual(withRole(Role.CAPF), [capf], `${n.name}: the publisher's CAPF`);
    assert.equal(records.length, 7, `${n.name}: ITLRecovery, CallManager twice, three TVS, CAPF`);
  }
  assert.equal(new Set([...itls.values()].map((b) => b.toString('hex'))).size, 3, 'three different ITLs');
  const recorded = withState(dir, (s) => s.store.listServerItlHashes().filter((r) => r.file === 'ITLFile.tlv'), { readonly: true });
  assert.deepEqual(
    Object.fromEntries(recorded.map((r) => [r.server, r.sha256Hex])),
    Object.fromEntries([...itls].map(([n, b]) => [n, createHash('sha256').update(b).digest('hex')])),
    'each node recorded the hash of the ITL it serves under its own name',
  );

  // A phone in group G2 (sub1 primary, sub2 secondary) boots from sub1 and registers there.
  const name = 'SEP00AABBCC7201';
  await addPhone(dir, name, '7201');
  await sbd('cm-group', 'add', 'G2', '--node', 'sub1', '--node', 'sub2', '--state', dir);
  await sbd('cm-group', 'device', name, 'G2', '--state', dir);
  const phones = tempDir('sbd-node-phones-');
  const pool = new TftpClientPool(poolOptionsFor({ host: '127.0.0.2', port: 69 }, 1));
  try {
    const boot = await bootSimPhone({
      stateDir: phones,
      deviceName: name,
      fetcher: new TftpFetcher({ host: '127.0.0.2', port: daemons[1]!.tftpPort }, pool, { timeoutMs: 2000 }),
      verifyUnknownSigner: configTvsHook({ redirect: redirects.redirect }),
    });
    assert.ok(boot.configTrusted, boot.decisions.map((d) => d.text).join('\n'));
    assert.equal(boot.configFile, `${name}.cnf.xml.sgn`);
    assert.equal(
      boot.itlSha256,
      withState(dir, (s) => s.store.listServedTrustFiles('ITLFile.tlv').find((r) => r.server === 'sub1')?.sha256Hex),
    );
    const services = phoneConfigServices(readFileSync(join(phones, name, 'config.xml')));
    assert.deepEqual(
      services.callManagers.map((m) => m.host),
      ['127.0.0.2', '127.0.0.3'],
      'the config names the group: sub1 primary, sub2 secondary',
    );
    assert.deepEqual(
      services.tvs.map((t) => t.host),
      ['127.0.0.2', '127.0.0.3'],
      "the config's TVS servers are the group's",
    );

    const phone = await SipPhone.connect({
      flow: { transport: 'tcp', host: '127.0.0.2', port: redirects.redirect('sip', { host: '127.0.0.2', port: 5060 }).port },
      line: '7201',
      credentials: { username: 'u7201', password: 'pw-7201-secret' },
      trustLists: heldInPhoneFolder(phones, name, '127.0.0.2'),
    });
    try {
      await phone.register();
      assert.equal(phone.lastTrustReport?.status, 202);
    } finally {
      phone.close();
    }
    const row = withState(dir, (s) => itlStatusRows(s.store).find((r) => r.device === name), { readonly: true });
    assert.deepEqual([row?.status, row?.tftpServer], ['Match', '127.0.0.2'], 'Match against the subscriber that served it');
    const pubHash = withState(dir, (s) => s.store.listServedTrustFiles('ITLFile.tlv').find((r) => r.server === 'pub')?.sha256Hex);
    assert.ok(pubHash && pubHash !== boot.itlSha256, "the publisher's ITL is another file: Match is against any server");
  } finally {
    pool.close();
  }

  // Mixed mode: the CTL (signed by the publisher's CallManager) lists every node. The publisher's TFTP builds it; a
  // subscriber without the publisher's key (hidden here, as on a real subscriber) serves the publisher's bytes.
  withState(dir, (s) => s.store.setParam('ClusterSecurityMode', 'mixed'));
  const { data: ctl } = await fetchFile({ server: '127.0.0.1', port: daemons[0]!.tftpPort, name: 'CTLFile.tlv', retries: 5 });
  const ctlPath = join(files, 'CTLFile.tlv');
  writeFileSync(ctlPath, ctl);
  assert.equal(tlvCheck(ctlPath).status, 0, tlvCheck(ctlPath).out);
  const ccmTftp = allRecordFields(parseTrustFile(ctl))
    .filter((r) => r.role === Role.CCM_TFTP)
    .map((r) => r.certificate!.toString('hex'))
    .sort();
  assert.deepEqual(ccmTftp, nodes.map((n) => derOf(dir, 'CallManager', n.name).der.toString('hex')).sort(), 'CCM+TFTP for every node');
  const pubKey = derOf(dir, 'CallManager', 'pub').keyFile!;
  renameSync(pubKey, `${pubKey}.elsewhere`);
  try {
    const { data: fromSub } = await fetchFile({ server: '127.0.0.3', port: daemons[2]!.tftpPort, name: 'CTLFile.tlv', retries: 5 });
    assert.ok(fromSub.equals(ctl), "sub2 serves the publisher's CTL");
  } finally {
    renameSync(`${pubKey}.elsewhere`, pubKey);
  }
});
