/**
 * The two daemons of a subscriber as processes over a hot standby (issue 21 items 1 and 2): a PostgreSQL 15 primary
 * with the published store and a streaming standby, both started here; `sbd daemon tftp --store-url` and `sbd daemon
 * sip --store-url` read the standby and send their node-local writes to the primary (`--primary-url`; password in
 * PGPASSWORD). A simulated phone boots from that TFTP (ITL checked by the independent tlv-check.py, its signed config
 * accepted) and registers with digest through that SIP, reporting its ITL; the TFTP server's served ITL hash and the
 * phone's report arrive in the primary's node-local tables. Then a change made on the publisher (a new phone, a new
 * line user) is published to the primary and served by both daemons once replayed and polled: the times are printed
 * (docs/cluster.md states the bound), the test fails only past 30 s; so is a TVS certificate regenerated there: the
 * standby's TFTP (native data plane) serves a new ITL that holds it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { regenerateCertificate } from '../../../src/cluster/certs.js';
import { digestHa1 } from '../../../src/credentials/digest-ha1.js';
import { systemClock } from '../../../src/lib/clock.js';
import { bootSimPhone } from '../../../src/sim/phone.js';
import { SipPhone } from '../../../src/sim/sip-ua/user-agent.js';
import { TftpFetcher } from '../../../src/sim/tftp-fetcher.js';
import { publishToPg } from '../../../src/store/pg/publish.js';
import { stateLayout } from '../../../src/store/state.js';
import { fetchFile } from '../../../src/tftp/client.js';
import { clientPool, startDaemonProcess, tempDir, views } from '../../sim/helpers.js';
import { tlvCheck } from '../../trust/helpers.js';
import { PHONE, serviceStore } from './engines.js';
import { PASSWORD, pgMissing, startPostgres, startStandby } from './postgres.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Polls `probe` every 50 ms until it is true (at most 30 s); resolves with the time it took. */
async function until(probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < 600; i++) {
    if (await probe()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('not seen within 30 s');
}

test('a phone boots from sbd daemon tftp --store-url and registers through sbd daemon sip --store-url, both on a hot standby', {
  skip: pgMissing(),
}, async (t) => {
  const { store, dir } = serviceStore(t);
  const node = store.listNodes()[0]!.name;
  const primary = await startPostgres(t);
  const primarySql = primary.connect();
  await publishToPg(store, primarySql);
  const standby = await startStandby(t, primary);
  process.env.PGPASSWORD = PASSWORD;
  const pgArgs = ['--store-url', standby.url, '--primary-url', primary.url];

  // TFTP: the phone boots from it.
  const tftp = await startDaemonProcess(t, ['tftp', ...pgArgs, '--bind', '127.0.0.1', '--port', '0']);
  const tftpPort = (tftp.addresses as Array<{ port: number }>)[0]!.port;
  const fetcher = new TftpFetcher({ host: '127.0.0.1', port: tftpPort }, clientPool(), { timeoutMs: 2000 });
  const phones = tempDir('sbd-pg-phones-');
  const report = await bootSimPhone({ stateDir: phones, deviceName: PHONE, fetcher, views });
  assert.equal(report.configTrusted, true, JSON.stringify(report.decisions, null, 1));
  assert.equal(report.configFile, `${PHONE}.cnf.xml.sgn`);
  const itl = (await fetchFile({ server: '127.0.0.1', port: tftpPort, name: 'ITLFile.tlv' })).data;
  assert.equal(report.itlSha256, sha(itl));
  const itlFile = join(phones, 'ITLFile.tlv');
  writeFileSync(itlFile, itl);
  const recovery = join(phones, 'ITLRecovery.pem');
  writeFileSync(recovery, store.listCertificates({ name: 'ITLRecovery' })[0]!.pem);
  const check = tlvCheck(itlFile, recovery);
  assert.equal(check.status, 0, check.out);
  assert.match(check.out, /signature valid \(signer: given\)/);
  await until(
    async () => (await primarySql`SELECT sha256_hex FROM sbd.node_served_trust_files WHERE server = ${node}`)[0]?.sha256_hex === sha(itl),
  );

  // SIP: this node's own keys folder (no store in it), the store from the standby.
  const subscriberDir = tempDir('sbd-pg-subscriber-');
  mkdirSync(join(subscriberDir, 'keys'), { mode: 0o700 });
  const sip = await startDaemonProcess(t, ['sip', '--state', subscriberDir, ...pgArgs, '--bind', '127.0.0.1', '--port', '0', '--no-tls']);
  const register = async (line: string, username: string, password: string, itlSha256?: string) => {
    const phone = await SipPhone.connect({
      flow: { transport: 'udp', host: '127.0.0.1', port: sip.udp as number },
      line,
      credentials: { username, password },
      ...(itlSha256 ? { itlSha256 } : {}),
    });
    try {
      return (await phone.register(600)).status;
    } catch (err) {
      // A refusal is an error carrying the final status (sim/sip-ua).
      const status = (err as { status?: number }).status;
      if (status === undefined) throw err;
      return status;
    } finally {
      phone.close();
    }
  };
  assert.equal(await register('1001', 'phone1', 'pw-phone1', report.itlSha256), 200);
  assert.equal(await register('1001', 'phone1', 'wrong'), 401, 'digest is checked');
  await until(async () => {
    const [r] = await primarySql`SELECT node, sha256_hex FROM sbd.node_device_itl_hashes WHERE device = ${PHONE}`;
    return r?.node === node && r.sha256_hex === report.itlSha256;
  });

  // A change on the publisher: published to the primary, replayed by the standby, polled by each daemon.
  store.addDevice({ name: 'SEP0000000000FF', model: '8845', directoryNumber: '1003' });
  store.putUser({ userid: 'bob', credentialHash: 'x', algorithm: 'none', kind: 'end' });
  const realm = store.getParam('SipStationRealm');
  const h = digestHa1('bob', realm, 'pw-bob');
  store.putDigestCredential('bob', realm, h.ha1Md5, h.ha1Sha256);
  assert.equal(await register('bob', 'bob', 'pw-bob'), 401, 'unknown before the publish (answered as a wrong password)');
  const published = performance.now();
  await publishToPg(store, primarySql);
  const tftpMs = await until(() =>
    fetchFile({ server: '127.0.0.1', port: tftpPort, name: 'SEP0000000000FF.cnf.xml', retries: 0 }).then(
      () => true,
      () => false,
    ),
  );
  await until(async () => (await register('bob', 'bob', 'pw-bob')) === 200);
  const sipMs = performance.now() - published;
  // SIP was first asked once TFTP had the change: its time is an upper bound.
  t.diagnostic(
    `primary publish -> standby TFTP serves the new config: ${tftpMs.toFixed(0)} ms; SIP accepts the new user: <= ${sipMs.toFixed(0)} ms`,
  );

  // A TVS certificate regenerated on the publisher: the standby's TFTP (native data plane, which holds the prebuilt
  // ITL until the copy's generation file moves) serves a new ITL naming it.
  regenerateCertificate({ layout: stateLayout(dir), store }, 'TVS', systemClock);
  const tvs = store.currentCertificate('TVS', node)!;
  await publishToPg(store, primarySql);
  let next = itl;
  const itlMs = await until(async () => {
    next = (await fetchFile({ server: '127.0.0.1', port: tftpPort, name: 'ITLFile.tlv' })).data;
    return !next.equals(itl);
  });
  assert.ok(next.includes(tvs.der), 'the new ITL holds the regenerated TVS certificate');
  t.diagnostic(`primary publish of a regenerated TVS certificate -> standby TFTP serves the new ITL: ${itlMs.toFixed(0)} ms`);
});
