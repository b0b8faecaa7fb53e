/**
 * A cluster of two firmware images (issue 21 must-show): two x86_64 QEMU guests, publisher and subscriber, on one
 * bridge this test makes (a network namespace with br0; the host's end of a veth holds .1 of a free 198.18.N.0/24,
 * the publisher is .2, the subscriber .3). Both boot the same image and run first boot as any appliance does; then
 * the whole procedure on their admin consoles (the `admin:` shell an administrator logs into, which runs the cluster
 * words as root through its one sudo entry, `sbd cluster appliance`):
 *  - publisher: `utils cluster migrate` (the cluster security password typed twice, no echo): its PostgreSQL under
 *    sbd-postgresql.service and sbd-clusterd enabled and running, by the command itself;
 *    `set network cluster subscriber details sub1 <subscriber>`;
 *  - subscriber: `utils cluster join <publisher> sub1` (its first boot's store set aside): at once the hot standby
 *    under sbd-postgresql, sbd-clusterd, and sbd-tftpd, sbd-tvsd and sbd-sipd reading the standby; the same after a
 *    reboot, with no other step;
 *  - a phone added on the publisher; a simulated phone on the host boots from the subscriber's TFTP (its ITL signed
 *    by the subscriber's CallManager key, both TVS in it, as in the publisher's ITL); `show cluster` on both admin
 *    consoles: both nodes, the standby streaming over TLS.
 * The root debug shell only looks (unit states, command lines) and adds the phone.
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

/**
 * One admin-console line that asks: each [prompt, answer] typed once its prompt shows (passwords are not echoed);
 * what the console printed up to the next prompt.
 */
async function adminAsk(g: Guest, command: string, answers: [RegExp, string][], timeoutMs: number): Promise<string> {
  g.type(`${command}\r`);
  let out = '';
  for (const [prompt, answer] of answers) {
    out += (await g.waitFor(new RegExp(`[\\s\\S]*?${prompt.source}`), 120_000, `${command}: ${prompt.source}`))[0];
    g.type(`${answer}\r`);
  }
  out += (await g.waitFor(/[\s\S]*?\nadmin: $/m, timeoutMs, `${command}: done`))[0];
  return out;
}

/** The daemons read the subscriber's standby, each under its own user; CAPF stays on the publisher. */
async function readsStandby(g: Guest): Promise<void> {
  for (const d of DAEMONS) {
    await until(g, `systemctl show -p SubState --value ${d}`, (o) => o === 'running', BOOT_TIMEOUT_MS, `subscriber: ${d}`);
    const cmd = await rootOk(g, `tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value ${d})/cmdline`);
    assert.match(cmd, /--store-url postgres:\/\/sbd_reader@127\.0\.0\.1:5432\/postgres --node sub1/, `${d}: ${cmd}`);
    assert.equal((await g.root(`systemctl show -p User --value ${d}`))[1], d, `${d} keeps its own user`);
  }
  assert.equal((await g.root('systemctl is-active sbd-capfd'))[1], 'inactive', 'CAPF stays on the publisher');
  assert.equal((await g.root('systemctl is-active sbd-postgresql sbd-clusterd'))[1], 'active\nactive');
  assert.equal((await g.root('systemctl is-enabled sbd-postgresql sbd-clusterd'))[1], 'enabled\nenabled');
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

  await t.test('publisher, on its admin console: utils cluster migrate, set network cluster subscriber details', async () => {
    const t0 = Date.now();
    const migrated = await adminAsk(
      pub,
      'utils cluster migrate',
      [
        [/\(yes\/no\) $/, 'yes'],
        [/Cluster security password: $/, CLUSTER_PASSWORD],
        [/Cluster security password \(again\): $/, CLUSTER_PASSWORD],
      ],
      10 * 60_000,
    );
    console.log(`# utils cluster migrate (${elapsed(t0)}):\n${migrated}`);
    assert.doesNotMatch(migrated, new RegExp(CLUSTER_PASSWORD), 'the password is not echoed');
    assert.match(migrated, /^sbd is the publisher/m);
    assert.match(migrated, /sbd-clusterd\.service enabled and running \(publishes the store\)/);
    // Left by the command itself: the server under its unit, sbd-clusterd enabled and running.
    assert.equal((await pub.root('systemctl is-active sbd-postgresql sbd-clusterd'))[1], 'active\nactive');
    assert.equal((await pub.root('systemctl is-enabled sbd-clusterd'))[1], 'enabled');
    const added = await pub.admin(`set network cluster subscriber details sub1 ${subIp}`, 5 * 60_000);
    console.log(`# set network cluster subscriber details:\n${added}`);
    assert.match(added, /^node sub1 added/m);
    const bad = await pub.admin(`set network cluster subscriber details "sub 2" ${prefix}.4`);
    assert.match(bad, /error: node name "sub 2"/);
    console.log(`# publisher ready: ${elapsed(t0)}`);
  });

  await t.test('subscriber, on its admin console: utils cluster join; its services at once and after a reboot', async () => {
    const t0 = Date.now();
    const wrong = await adminAsk(
      sub,
      `utils cluster join ${pubIp} sub1`,
      [
        [/\(yes\/no\) $/, 'yes'],
        [/Cluster security password: $/, 'not-the-cluster-password'],
      ],
      10 * 60_000,
    );
    console.log(`# join with a wrong password:\n${wrong}`);
    assert.match(wrong, /error: .*the cluster security password is not the one the publisher was migrated with/);
    for (const d of DAEMONS)
      await until(sub, `systemctl show -p SubState --value ${d}`, (o) => o === 'running', 5 * 60_000, `after the refusal: ${d}`);
    const onSub = await sub.admin(`set network cluster subscriber details sub2 ${prefix}.4`);
    assert.match(onSub, /error: .*(not in a cluster|runs on the publisher)/);
    const joined = await adminAsk(
      sub,
      `utils cluster join ${pubIp} sub1`,
      [
        [/\(yes\/no\) $/, 'yes'],
        [/Cluster security password: $/, CLUSTER_PASSWORD],
      ],
      20 * 60_000,
    );
    console.log(`# utils cluster join (${elapsed(t0)}):\n${joined}`);
    assert.doesNotMatch(joined, new RegExp(CLUSTER_PASSWORD), 'the password is not echoed');
    assert.match(joined, /^joined: publisher sbd, streaming over TLS/m);
    assert.match(await rootOk(sub, 'ls /var/lib/sbd/state'), /pre-join-/);
    await readsStandby(sub);
    console.log(`# subscriber serving from its standby without a reboot: ${elapsed(t0)}`);
    await sub.rootStart('systemctl reboot');
    await sub.exit(5 * 60_000);
    await sub.dispose();
    sub = new Guest({ arch: 'x86_64', net: `join:${ns}:${subIp}:${prefix}.1`, debugShell: true, overlay: subDisk, env });
    await sub.login('admin', NEW_PASSWORD, NEW_PASSWORD, BOOT_TIMEOUT_MS);
    await until(sub, 'systemctl is-active sbd-postgresql', (o) => o === 'active', BOOT_TIMEOUT_MS, 'subscriber: sbd-postgresql');
    await until(sub, 'systemctl is-active sbd-clusterd', (o) => o === 'active', 5 * 60_000, 'subscriber: sbd-clusterd');
    await readsStandby(sub);
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
