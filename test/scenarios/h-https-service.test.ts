/**
 * Scenario h — an HTTPS phone service trusted only through TVS, and what rollback does to it. The ITL holds no
 * APP-SERVER record, so a phone opening https://… on a real node:https server asks TVS (the `<TVS>` server of its
 * config, pinned to its ITL) about the server's certificate: the node's tomcat certificate and an imported
 * 'tomcat-trust' certificate are vouched for with role APP-SERVER, an unknown one is not. With Prepare Cluster
 * for Rollback the phones hold the empty ITL, which names no TVS certificate: they cannot ask TVS, the service
 * stops working — while registration with sbd-sipd (calls) goes on unaffected. False brings the service back.
 */
import { strict as assert } from 'node:assert';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { openState } from '../../src/store/state.js';
import { silentLogger } from '../../src/lib/log.js';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { SipDaemon } from '../../src/daemons/sipd.js';
import { Verdict } from '../../src/sim/decisions.js';
import { openPhoneService } from '../../src/sim/https-service.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { publisher } from '../../src/trust/cluster-lists.js';
import { about, bootAll, fleet, phoneNames, redirect, sbd, startCluster, story, tempDir } from './harness.js';
import { sipRegister } from './sip-register.js';
import { after } from 'node:test';

async function serve(cert: string, key: string, body: string): Promise<string> {
  const server = https.createServer({ cert, key }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(body.replace('$PATH', req.url ?? ''));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('HTTPS phone service trusted through TVS; during rollback it stops, registration does not', async () => {
  const cluster = await startCluster();
  const names = phoneNames(0x002200000100, 3);
  // The default security profile requires digest: each phone's digest user is its name, with the password given here.
  for (const [i, name] of names.entries())
    await cluster.admin('device', 'add', name, '--model', '8845', '--dn', String(4001 + i), '--digest-password', `pw-${name}`);
  const phones = fleet();
  for (const r of await bootAll(phones, cluster, names)) assert.equal(about(r, 'ITL').verdict, Verdict.trusted, story(r));

  const store = cluster.state.store;
  const tomcat = store.currentCertificate('tomcat', publisher(store).name)!;
  const directory = await serve(tomcat.pem, privateKeyOf(tomcat), '<CiscoIPPhoneDirectory><Title>$PATH</Title></CiscoIPPhoneDirectory>');
  // Another appliance's tomcat certificate: unknown here until imported as tomcat-trust.
  const otherDir = tempDir('sbd-other-');
  assert.equal((await sbd(['init', '--state', otherDir, '--hostname', 'apps.example', '--ip', '127.0.0.9'])).code, 0);
  const other = openState(otherDir);
  const appsCert = other.store.currentCertificate('tomcat', publisher(other.store).name)!;
  const apps = await serve(appsCert.pem, privateKeyOf(appsCert), '<CiscoIPPhoneText><Text>apps</Text></CiscoIPPhoneText>');
  other.store.close();

  const sip = new SipDaemon({ store, layout: cluster.state.layout, host: '127.0.0.1', port: 0, tlsPort: null, logger: silentLogger });
  const { udp } = await sip.listen();
  after(() => sip.close());
  const register = (name: string) =>
    sipRegister({ host: '127.0.0.1', port: udp, user: name, model: '8845', credentials: { username: name, password: `pw-${name}` } });

  const tvs = configTvsHook({ redirect, timeoutMs: 20_000 });
  const open = (name: string, url: string) =>
    openPhoneService({ stateDir: phones.dir, deviceName: name, url, verifyUnknownSigner: tvs, views: phones.views });

  for (const name of names) {
    const r = await open(name, `${directory}/directory?name=a`);
    assert.equal(r.decision.verdict, Verdict.accepted, r.decision.text);
    assert.match(
      r.decision.text,
      /^HTTPS server certificate sbd\.example vouched for by TVS \(roles APP-SERVER\); GET \/directory → 200 \(\d+ bytes\)$/,
    );
    assert.equal(r.body!.toString(), '<CiscoIPPhoneDirectory><Title>/directory?name=a</Title></CiscoIPPhoneDirectory>');
    const unknown = await open(name, `${apps}/text`);
    assert.equal(unknown.status, undefined, 'no request is sent to a server the phone does not trust');
    assert.equal(
      unknown.decision.text,
      'rejected HTTPS server: certificate apps.example is not in the installed trust lists, and TVS does not vouch for it',
    );
    const reg = await register(name);
    assert.equal(reg.status, 200, `${reg.status} ${reg.reason}`);
  }

  // The administrator imports the other server's certificate as tomcat-trust (the store call of the import
  // page; no `sbd` command for it yet): TVS now vouches for it.
  store.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: appsCert.pem });
  const imported = await open(names[0]!, `${apps}/text`);
  assert.match(imported.decision.text, /^HTTPS server certificate apps\.example vouched for by TVS \(roles APP-SERVER\); GET \/text → 200/);

  await cluster.admin('param', 'set', 'PrepareClusterForRollback', 'true');
  for (const r of await bootAll(phones, cluster, names)) assert.match(about(r, 'ITL').text, /empty \(rollback\) ITL/, story(r));
  for (const name of names) {
    const r = await open(name, `${directory}/directory`);
    assert.equal(r.decision.verdict, Verdict.rejected, r.decision.text);
    assert.equal(
      r.decision.text,
      'rejected HTTPS server: certificate sbd.example is not in the installed trust lists, and TVS could not be asked: the installed trust lists name no TVS certificate',
    );
    const reg = await register(name);
    assert.equal(reg.status, 200, `calls are not affected: ${reg.status} ${reg.reason}`);
  }

  await cluster.admin('param', 'set', 'PrepareClusterForRollback', 'false');
  for (const r of await bootAll(phones, cluster, names)) assert.match(about(r, 'config').text, /^config signature valid/, story(r));
  for (const name of names) {
    const r = await open(name, `${directory}/directory`);
    assert.equal(r.status, 200, r.decision.text);
  }
});
