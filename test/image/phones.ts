/**
 * Simulated phones on the host against a booted x86_64 guest, over the runner's tap network (no port
 * forwarding): TFTP (port 69: per-transfer ports), TVS (2445), CAPF (3804) and the music on hold sbd-mediad streams
 * as SRTP to a listener on the host (16384 → host), driven the way an
 * administrator would: devices and the CAPF operation added as the daemons' user on the debug shell, certificate
 * regeneration and the cluster security mode on the serial console. Called by x86_64-boot.test.ts inside its one
 * boot (boots are the expensive part under TCG); kept here so that file stays about the machine.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Guest, repo } from './guest.js';
import { parseWav } from '../../src/media/streaming/index.js';
import { SrtpContext } from '../../src/media/srtp/index.js';
import { acceptCryptoAnswer, createCryptoOffer, formatCryptoAttribute, parseCryptoAttribute } from '../../src/sdp/index.js';

const STATE = '/var/lib/sbd/state';
const PHONE_TIMEOUT_MS = 5 * 60_000;

/** The sbd CLI on the host (tsx, as every test spawns it); resolves with the exit status and output. */
export function hostSbd(args: string[], timeoutMs = PHONE_TIMEOUT_MS): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${repo}/src/cli/main.ts`, ...args], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
  });
}

/** `sbd …` in the guest as the daemons' user (files in the store stay theirs), through the debug shell. */
async function guestSbd(g: Guest, args: string): Promise<string> {
  const [status, out] = await g.root(`runuser -u sbd -- /usr/bin/sbd ${args} --state ${STATE} 2>&1`);
  assert.equal(status, 0, `sbd ${args}:\n${out}`);
  return out;
}

/**
 * Answers a console command's (yes/no) question with yes; returns what followed, up to the next prompt. The
 * "Reset all phones now?" that follows the seeds' reset-the-phones steps (issue 18 item 2) is answered no: these
 * phones are not registered to the guest's sbd-sipd, they boot again on their own below.
 */
async function adminYes(g: Guest, command: string, timeoutMs = 300_000): Promise<string> {
  g.type(`${command}\r`);
  await g.waitFor(/\(yes\/no\) $/m, 120_000, `${command}: question`);
  g.type('yes\r');
  const m = await g.waitFor(/([\s\S]*?)(Reset all phones now\? \(yes\/no\) |\nadmin: )$/, timeoutMs, `${command}: after yes`);
  if (!m[2]!.startsWith('Reset')) return m[1]!;
  return m[1]! + (await g.admin('no', timeoutMs));
}

export async function phoneChecks(t: TestContext, g: Guest): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-image-phones-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = `${g.guestIp}:69`;
  const phone = (mac: string, state: string) => ['phone', 'boot', '--server', server, '--mac', mac, '--state', state, '--tvs', g.guestIp];
  const first = { mac: '00AA11BB22CC', state: join(dir, 'phones') };

  await t.test('a phone on the host boots from the guest: ITL trusted on first use, signed config valid', async () => {
    await guestSbd(g, 'device add SEP00AA11BB22CC --model 8845');
    const r = await hostSbd(phone(first.mac, first.state));
    console.log(`# phone boot against ${server}:\n${r.out.trimEnd()}`);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /ITL trusted \(first use\): signer ITLRECOVERY_sbd/);
    assert.match(r.out, /config signature valid \(signed by /);
  });

  await t.test("CAPF: the phone enrolls its LSC with the guest's sbd-capfd (authentication string)", async () => {
    await guestSbd(g, 'capf install SEP00AA11BB22CC --auth password --password 24681357 --key ec-P-256');
    const itl = join(first.state, `SEP${first.mac}`, 'ITLFile.tlv');
    const r = await hostSbd([
      'capf',
      'enroll',
      `${g.guestIp}:3804`,
      '--mac',
      first.mac,
      '--state',
      join(dir, 'capf'),
      '--password',
      '24681357',
      '--itl',
      itl,
    ]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /installed LSC \(ec-P-256\) serial [0-9a-f]+/);
    assert.match(await guestSbd(g, 'capf show SEP00AA11BB22CC'), /status: Upgrade Success /);
  });

  await t.test('console: set cert regen ITLRecovery; the phone takes the new ITL because the guest TVS vouches', async () => {
    const out = await adminYes(g, 'set cert regen ITLRecovery');
    assert.match(out, /^Regenerated ITLRecovery: serial /m);
    assert.match(out, /^BACKUP: A new backup is required now/m);
    const r = await hostSbd(phone(first.mac, first.state));
    console.log(`# phone boot after ITLRecovery regeneration:\n${r.out.trimEnd()}`);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /ITL accepted: signer ITLRECOVERY_sbd.* vouched for by TVS/);
    assert.match(r.out, /config signature valid/);
  });

  await t.test('console: utils ctl set-cluster mixed-mode; show ctl; a new phone trusts the CTL, then the ITL through it', async () => {
    const set = await adminYes(g, 'utils ctl set-cluster mixed-mode');
    assert.match(set, /^ClusterSecurityMode = mixed$/m);
    assert.match(set, /^CTL file built: \d+ bytes, \d+ records/m);
    const ctl = await g.admin('show ctl');
    assert.match(ctl, /^File: CTLFile\.tlv$/m);
    assert.match(ctl, /^signature: valid /m);
    await guestSbd(g, 'device add SEP00AA11BB22CD --model 8845');
    const r = await hostSbd(phone('00AA11BB22CD', join(dir, 'phones-mixed')));
    console.log(`# phone boot in mixed mode:\n${r.out.trimEnd()}`);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /CTL trusted \(first use\)/);
    assert.match(r.out, /ITL accepted: signed by known SAST/);
    assert.match(r.out, /config signature valid/);
  });

  await t.test('console: show audit names the administrator who logged in on the serial console', async () => {
    const out = await g.admin('show audit 3 csv');
    assert.match(out, /^\S+Z,admin,param-set,ClusterSecurityMode=mixed,success$/m);
    assert.match(out, /^\S+Z,admin,cert-regen,ITLRecovery,success$/m);
  });

  await t.test('music on hold: sbd-mediad streams the built-in tone as SRTP to a listener on the host', async () => {
    // The samples the image should be playing: the same generator, run here, through the same WAV parser.
    spawnSync(process.execPath, [`${repo}/image/moh-tone.mjs`, join(dir, 'tone.wav'), '4'], { stdio: 'inherit' });
    const samples = parseWav(readFileSync(join(dir, 'tone.wav'))).samples;
    const socket = createSocket('udp4');
    const packets: Buffer[] = [];
    let enough: () => void = () => {};
    const got = new Promise<void>((resolve) => (enough = resolve));
    socket.on('message', (m) => packets.push(m) >= 10 && enough());
    socket.bind(0, g.hostIp);
    await once(socket, 'listening');
    try {
      const offer = createCryptoOffer(['AES_CM_128_HMAC_SHA1_80'], 'media-streaming');
      const add = { op: 'add', source: 'moh', address: g.hostIp, port: socket.address().port, crypto: offer.map(formatCryptoAttribute) };
      // The control port listens on the guest's loopback only: the request goes in through the debug shell.
      const control = (req: object) =>
        g.root(
          `node -e "const s=require('net').connect(16385,'127.0.0.1',()=>s.write(Buffer.from('${Buffer.from(JSON.stringify(req) + '\n').toString('base64')}','base64')));s.on('data',d=>{process.stdout.write(d);s.end()})"`,
        );
      const [status, line] = await control(add);
      assert.equal(status, 0, line);
      const answer = JSON.parse(line) as { ok: boolean; id: number; mode: string; crypto: string };
      assert.equal(answer.ok, true, line);
      assert.equal(answer.mode, 'srtp');
      const keys = acceptCryptoAnswer(offer, parseCryptoAttribute(answer.crypto));
      assert.ok(keys, answer.crypto);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        got,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${packets.length} packets in 120 s`)), 120_000))),
      ]).finally(() => clearTimeout(timer));
      const rx = new SrtpContext(keys.rxPolicy);
      const rtp = packets.slice(0, 10).map((p) => rx.unprotect(p));
      // The source advances one 160-sample frame a tick from position 0 and the 4 s loop is exactly 200 frames, so
      // every payload is one of those frames; a tick that fell too far behind skips frames (never sequence numbers).
      const frames = new Set<string>();
      for (let at = 0; at < samples.length; at += 160) frames.add(samples.subarray(at, at + 160).toString('hex'));
      rtp.forEach((p, i) => {
        assert.equal(p.length, 12 + 160, 'G.711, 20 ms');
        assert.equal(p[1]! & 0x7f, 0, 'payload type 0 (PCMU)');
        assert.equal(p.readUInt16BE(2), (rtp[0]!.readUInt16BE(2) + i) & 0xffff, 'sequence numbers follow');
        assert.ok(frames.has(p.subarray(12).toString('hex')), `frame ${i} is a frame of the built-in tone`);
      });
      console.log(
        `# sbd-mediad → host: ${packets.length} SRTP packets (AES_CM_128_HMAC_SHA1_80), authenticated and decrypted to the tone's samples`,
      );
      const [, removed] = await control({ op: 'remove', id: answer.id });
      assert.match(removed, /"ok":true/);
    } finally {
      socket.close();
    }
  });
}
