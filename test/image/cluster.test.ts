/**
 * A cluster of two firmware images (issue 21 must-show): two x86_64 QEMU guests, publisher and subscriber, on one
 * bridge this test makes (a network namespace with br0; the host's end of a veth holds .1 of a free 198.18.N.0/24,
 * the publisher is .2, the subscriber .3). Both boot the same image and run first boot as any appliance does; then,
 * on their serial consoles (systemd's root debug shell, where the admin shell has no cluster words yet):
 *  - publisher: `sbd cluster migrate`, `sbd cluster env`, its PostgreSQL handed to sbd-postgresql.service,
 *    sbd-clusterd enabled, `sbd cluster add-node sub1 --ip <subscriber>`;
 *  - subscriber: its daemons stopped, `sbd cluster join --set-aside-store` (its first boot's store kept aside),
 *    `sbd cluster env`, sbd-clusterd enabled; then a reboot: sbd-postgresql starts the hot standby and sbd-tftpd,
 *    sbd-tvsd and sbd-sipd read it (--store-url from the env file);
 *  - a phone added on the publisher; a simulated phone on the host boots from the subscriber's TFTP (its ITL signed
 *    by the subscriber's CallManager key, both TVS in it, as in the publisher's ITL); `show cluster` on both admin
 *    consoles: both nodes, the standby streaming over TLS.
 * Holds both QEMU slots (`/work/bin/qemu-slot --both`); SBD_IMAGE_DIR names the image to boot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseRunNet, parseIpAddr } from '../../image/run-net.js';
import { fetchFile } from '../../src/tftp/client.js';
import { parseTrustFile } from '../../src/trust/codec.js';
import { allRecordFields } from '../../src/trust/fields.js';
import { Role } from '../../src/trust/tags.js';
import { buildImage, elapsed, Guest, until } from './guest.js';
import { hostSbd } from './phones.js';

const BOOT_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_PASSWORD = 'sbd-admin';
const NEW_PASSWORD = 'Sbd-Cluster-Test-2026';
const STATE = '/var/lib/sbd/state';
const PG_DIR = '/var/lib/postgresql/sbd';
const CLUSTER_PASSWORD = 'cluster-image-test-password';
const MAC = '00AA11BB22CE';
const DAEMONS = ['sbd-tftpd', 'sbd-tvsd', 'sbd-sipd'];

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: 'inherit' });
}

/** A network namespace with a bridge, the host on it through a veth; a 198.18.N.0/24 this host does not use. */
function makeBridge(t: { after: (fn: () => void) => void }): { ns: string; prefix: string } {
  const addrs = parseIpAddr(execFileSync('ip', ['-j', 'addr'], { encoding: 'utf8' }));
  let net: ReturnType<typeof chooseRunNet> | undefined;
  for (let i = 0; i < 50 && !net; i++) {
    try {
      net = chooseRunNet(String(1 + Math.floor(Math.random() * 250)), addrs);
    } catch {
      /* taken: another */
    }
  }
  assert.ok(net, 'a free 198.18.N.0/24');
  const ns = `sbd-cl-${process.pid}`;
  const host = `sbdc${process.pid}`;
  ip(['netns', 'add', ns]);
  t.after(() => {
    execFileSync('ip', ['link', 'del', host], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });
  ip(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
  ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', ns]);
  ip(['-n', ns, 'link', 'set', 'veth0', 'master', 'br0']);
  for (const l of ['lo', 'br0', 'veth0']) ip(['-n', ns, 'link', 'set', l, 'up']);
  ip(['addr', 'add', `${net.hostIp}/24`, 'dev', host]);
  ip(['link', 'set', host, 'up']);
  return { ns, prefix: net.hostIp.replace(/\.1$/, '') };
}

/** A root command on the guest's debug shell that must succeed; its output. */
async function rootOk(g: Guest, command: string, timeoutMs = 300_000): Promise<string> {
  const [status, out] = await g.root(command, timeoutMs);
  assert.equal(status, 0, `${command}:\n${out}`);
  return out;
}

/** The DER (hex) of the TVS records of the ITL a node's TFTP serves, and its CCM+TFTP record. */
async function itlOf(server: string): Promise<{ tvs: string[]; ccmTftp: string[] }> {
  const { data } = await fetchFile({ server, port: 69, name: 'ITLFile.tlv', retries: 5 });
  const records = allRecordFields(parseTrustFile(data));
  const of = (role: number) =>
    records
      .filter((r) => r.role === role)
      .map((r) => r.certificate!.toString('hex'))
      .sort();
  return { tvs: of(Role.TVS), ccmTftp: of(Role.CCM_TFTP) };
}

test('two x86_64 guests: publisher and subscriber joined on their consoles; a host phone boots from the subscriber', {
  timeout: 90 * 60_000,
}, async (t) => {
  const env = process.env;
  buildImage('x86_64', env);
  const { ns, prefix } = makeBridge(t);
  const pubIp = `${prefix}.2`;
  const subIp = `${prefix}.3`;
  const work = mkdtempSync(join(tmpdir(), 'sbd-cluster-image-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const subDisk = join(work, 'sub.qcow2');

  const pub = new Guest({ arch: 'x86_64', net: `join:${ns}:${pubIp}:${prefix}.1`, debugShell: true, env });
  t.after(() => pub.dispose());
  let sub = new Guest({ arch: 'x86_64', net: `join:${ns}:${subIp}:${prefix}.1`, debugShell: true, overlay: subDisk, env });
  t.after(() => sub.dispose());
  t.after(() =>
    console.log(
      `# publisher console (tail):\n${pub.console.text.slice(-3000)}\n# subscriber console (tail):\n${sub.console.text.slice(-3000)}`,
    ),
  );

  // Both first boots side by side; each logs in (forced password change) and finishes sbd init.
  await Promise.all(
    [pub, sub].map(async (g) => {
      await g.login('admin', DEFAULT_PASSWORD, NEW_PASSWORD, BOOT_TIMEOUT_MS);
      await until(g, 'systemctl is-active sbd-firstboot', (o) => o === 'active', BOOT_TIMEOUT_MS, `${g.guestIp}: first boot done`);
      for (const d of DAEMONS)
        await until(g, `systemctl show -p SubState --value ${d}`, (o) => o === 'running', BOOT_TIMEOUT_MS, `${g.guestIp}: ${d}`);
    }),
  );
  const pw = `SBD_CLUSTER_PASSWORD='${CLUSTER_PASSWORD}'`;

  await t.test('publisher: migrate, its PostgreSQL under sbd-postgresql.service, sbd-clusterd, add-node', async () => {
    const t0 = Date.now();
    console.log(await rootOk(pub, `${pw} sbd cluster migrate --state ${STATE} --pg-dir ${PG_DIR} --listen ${pubIp}:5432 2>&1`));
    await rootOk(pub, `sbd cluster env --state ${STATE} --out /etc/sbd/cluster.env`);
    // The command started the server with pg_ctl; the unit takes it over (and starts it at every boot).
    await rootOk(pub, `runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D ${PG_DIR}/data -m fast -w stop`);
    await rootOk(pub, 'systemctl start sbd-postgresql && systemctl enable --now sbd-clusterd');
    assert.equal((await pub.root('systemctl is-active sbd-postgresql sbd-clusterd'))[1], 'active\nactive');
    console.log(await rootOk(pub, `sbd cluster add-node sub1 --ip ${subIp} --state ${STATE} 2>&1`));
    console.log(`# publisher ready: ${elapsed(t0)}`);
  });

  await t.test('subscriber: join (its first-boot store set aside), env file, reboot into the hot standby', async () => {
    const t0 = Date.now();
    await rootOk(sub, 'systemctl stop sbd-tftpd sbd-tvsd sbd-sipd sbd-capfd sbd-mediad');
    const joined = await rootOk(
      sub,
      `${pw} sbd cluster join --publisher ${pubIp}:5432 --name sub1 --state ${STATE} --pg-dir ${PG_DIR} --listen ${subIp}:5432 --ip ${subIp} --wait 600 --set-aside-store 2>&1`,
      15 * 60_000,
    );
    console.log(`# join (${elapsed(t0)}):\n${joined}`);
    await rootOk(sub, `sbd cluster env --state ${STATE} --out /etc/sbd/cluster.env`);
    // A subscriber's sbd-clusterd follows the publisher's phone and trunk keys (docs/cluster.md).
    await rootOk(sub, 'systemctl enable sbd-clusterd');
    assert.match(await rootOk(sub, 'ls /var/lib/sbd/state'), /pre-join-/);
    await sub.rootStart('systemctl reboot');
    await sub.exit(5 * 60_000);
    await sub.dispose();
    sub = new Guest({ arch: 'x86_64', net: `join:${ns}:${subIp}:${prefix}.1`, debugShell: true, overlay: subDisk, env });
    await sub.login('admin', NEW_PASSWORD, NEW_PASSWORD, BOOT_TIMEOUT_MS);
    await until(sub, 'systemctl is-active sbd-postgresql', (o) => o === 'active', BOOT_TIMEOUT_MS, 'subscriber: sbd-postgresql');
    for (const d of DAEMONS) {
      await until(sub, `systemctl show -p SubState --value ${d}`, (o) => o === 'running', BOOT_TIMEOUT_MS, `subscriber: ${d}`);
      const cmd = await rootOk(sub, `tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value ${d})/cmdline`);
      assert.match(cmd, /--store-url postgres:\/\/sbd_reader@127\.0\.0\.1:5432\/postgres --node sub1/, `${d}: ${cmd}`);
      assert.equal((await sub.root(`systemctl show -p User --value ${d}`))[1], d, `${d} keeps its own user`);
    }
    assert.equal((await sub.root('systemctl is-active sbd-capfd'))[1], 'inactive', 'CAPF stays on the publisher');
    await until(sub, 'systemctl is-active sbd-clusterd', (o) => o === 'active', 5 * 60_000, 'subscriber: sbd-clusterd');
    console.log(`# subscriber joined and rebooted: ${elapsed(t0)}`);
  });

  await t.test("a phone added on the publisher boots from the subscriber's TFTP; its ITL lists both TVS", async () => {
    await rootOk(pub, `runuser -u sbd -- sbd device add SEP${MAC} --model 8845 --state ${STATE}`);
    const phones = join(work, 'phones');
    const t0 = Date.now();
    let r = { status: null as number | null, out: '' };
    while (Date.now() - t0 < 5 * 60_000) {
      r = await hostSbd(['phone', 'boot', '--server', `${subIp}:69`, '--mac', MAC, '--state', phones, '--tvs', subIp]);
      if (r.status === 0) break;
      await new Promise((res) => setTimeout(res, 5000));
    }
    console.log(`# phone boot from the subscriber (${elapsed(t0)} after the device was added):\n${r.out.trimEnd()}`);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /ITL trusted \(first use\)/);
    assert.match(r.out, /config signature valid/);
    const fromSub = await itlOf(subIp);
    const fromPub = await itlOf(pubIp);
    assert.equal(fromSub.tvs.length, 2, "the subscriber's ITL: both nodes' TVS");
    assert.deepEqual(fromSub.tvs, fromPub.tvs, 'the same TVS records as the publisher serves');
    assert.notDeepEqual(fromSub.ccmTftp, fromPub.ccmTftp, 'each TFTP lists its own CallManager as CCM+TFTP');
  });

  await t.test('show cluster on both consoles: two nodes, the standby streaming over TLS', async () => {
    const onPub = await pub.admin('show cluster');
    console.log(`# publisher: show cluster\n${onPub}`);
    assert.match(onPub, /^this node: sbd \(publisher, primary\)/m);
    assert.match(onPub, new RegExp(`^sub1 +subscriber +${subIp.replace(/\./g, '\\.')} +streaming \\(TLS\\)`, 'm'));
    const onSub = await sub.admin('show cluster');
    console.log(`# subscriber: show cluster\n${onSub}`);
    assert.match(onSub, /^this node: sub1 \(subscriber, hot standby\)/m);
    assert.match(onSub, /^sub1 \* +subscriber +\S+ +streaming/m);
    assert.match(onSub, /^sbd +publisher /m);
  });
});
