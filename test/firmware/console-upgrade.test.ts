/**
 * The console's firmware commands against a real RAUC service (file slots, the real custom backend on an ESP
 * folder, the real slot hook mounting the new SquashFS root): `utils system upgrade` from a file and from an http
 * URL on loopback, `show version active|inactive`, `utils system switch-version`; a bundle signed by another key
 * changes nothing. The machine's restart is the one thing not done here: systemctl is a recording stand-in.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { CommandTable, type AdminIo } from '../../src/admin/command-table.js';
import { systemCommands } from '../../src/admin/commands/utils-system.js';
import { Systemd } from '../../src/admin/systemd.js';
import { makeImage, makeKeys, removeTempDirs, type RaucSystem, startRauc, tempDir, updateBundle } from './rauc-harness.js';

class Console implements AdminIo {
  lines: string[] = [];
  answers: boolean[] = [];
  questions: string[] = [];
  out(text: string): void {
    this.lines.push(text);
  }
  async confirm(q: string): Promise<boolean> {
    this.questions.push(q);
    return this.answers.shift() ?? false;
  }
  async secret(): Promise<string> {
    return '';
  }
}

describe('console firmware commands over real RAUC', () => {
  const keyDir = tempDir('fw-keys');
  const keys = makeKeys(keyDir);
  const otherKeyDir = tempDir('fw-other');
  makeKeys(otherKeyDir);
  const v1 = makeImage('1.0.0+one');
  const v2 = makeImage('1.0.1+two');
  const out = tempDir('fw-bundles');
  const good = join(out, 'two.raucb');
  const foreign = join(out, 'foreign.raucb');
  const back = join(out, 'one.raucb');
  let rauc: RaucSystem;
  let versionFile: string;
  let systemctlLog: string;
  let table: CommandTable;

  before(async () => {
    for (const [img, dir, file] of [
      [v2, keyDir, good],
      [v2, otherKeyDir, foreign],
      [v1, keyDir, back],
    ] as const) {
      const r = updateBundle(img.imageDir, dir, file, 'plain');
      assert.equal(r.status, 0, r.stderr);
    }
    rauc = await startRauc(keys.keyring);
    // The running root's version file, and a systemctl that records what it is asked to do.
    const etc = tempDir('fw-root');
    versionFile = join(etc, 'firmware-version');
    writeFileSync(versionFile, '1.0.0+one\n');
    systemctlLog = join(etc, 'systemctl.log');
    const systemctl = join(etc, 'systemctl');
    writeFileSync(systemctl, `#!/bin/sh\necho "$@" >> ${systemctlLog}\n`);
    chmodSync(systemctl, 0o755);
    const systemd = new Systemd({ canRaise: true, asRoot: (file, args) => ({ file, args: [...args] }) }, { systemctl, bootedMarker: etc });
    table = new CommandTable(systemCommands(systemd, { rauc: { env: rauc.env }, versionFile, firmwareDir: rauc.firmwareDir }));
  });
  after(() => {
    rauc?.stop();
    removeTempDirs();
  });

  async function run(line: string, answers: boolean[] = []): Promise<Console> {
    const io = new Console();
    io.answers = answers;
    const found = table.find(line.split(' '))!;
    table.checkArgs(found);
    await found.command.run(found.args, io);
    return io;
  }
  const entries = () => readdirSync(join(rauc.esp, 'loader/entries')).sort();
  const systemctlCalls = () => (existsSync(systemctlLog) ? readFileSync(systemctlLog, 'utf8').trim().split('\n') : []);

  it('show version: the running version in slot a; nothing known in b', async () => {
    assert.deepEqual((await run('show version active')).lines, ['Active version: 1.0.0+one (slot a, boots next)']);
    assert.deepEqual((await run('show version inactive')).lines, ['Inactive version: none installed (slot b)']);
  });

  it('a bundle signed by another key is refused with a clear message; slot b, the ESP and the boot order unchanged', async () => {
    const slotB = readFileSync(rauc.slots.b);
    const before = entries();
    await assert.rejects(run(`utils system upgrade ${foreign}`), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_FIRMWARE_INSTALL');
      assert.match(e.message, /^update refused: .*signature verification failed/);
      return true;
    });
    assert.ok(readFileSync(rauc.slots.b).equals(slotB));
    assert.deepEqual(entries(), before);
    assert.equal(existsSync(join(rauc.esp, 'sbd/b')), false);
    assert.deepEqual(systemctlCalls(), []);
  });

  it('utils system upgrade FILE: writes slot b, its kernel and initrd to the ESP, makes b boot next (counted); no restart when declined', async () => {
    const io = await run(`utils system upgrade ${good}`, [false]);
    assert.match(io.lines.join('\n'), /Installed 1\.0\.1\+two \(slot b, boots next\)\./);
    assert.deepEqual(io.questions, ['Restart now to run the new version?']);
    assert.deepEqual(systemctlCalls(), []);
    const image = readFileSync(join(v2.imageDir, 'x86_64/root.img'));
    assert.ok(readFileSync(rauc.slots.b).subarray(0, image.length).equals(image), 'slot b holds the new root image');
    assert.ok(readFileSync(join(rauc.esp, 'sbd/b/vmlinuz')).equals(v2.kernel));
    assert.ok(readFileSync(join(rauc.esp, 'sbd/b/initrd.img')).equals(v2.initrd));
    assert.deepEqual(entries(), ['sbd-a.conf', 'sbd-b+3.conf']);
    assert.deepEqual((await run('show version inactive')).lines, ['Inactive version: 1.0.1+two (slot b, boots next)']);
    assert.deepEqual((await run('show version active')).lines, ['Active version: 1.0.0+one (slot a)']);
  });

  it('after the restart into b: active is the new version, inactive the old; switch-version asks, marks a and restarts', async () => {
    await rauc.boot('b');
    writeFileSync(versionFile, '1.0.1+two\n'); // the root of slot b names its own version
    writeFileSync(join(rauc.firmwareDir, 'a'), '1.0.0+one\n'); // what slot a's boots recorded (sbd-store-upgrade)
    assert.deepEqual((await run('show version active')).lines, ['Active version: 1.0.1+two (slot b, boots next)']);
    assert.deepEqual((await run('show version inactive')).lines, ['Inactive version: 1.0.0+one (slot a)']);
    const no = await run('utils system switch-version', [false]);
    assert.deepEqual(no.lines, ['switch-version cancelled']);
    assert.deepEqual(entries(), ['sbd-a.conf', 'sbd-b+3.conf']);
    const yes = await run('utils system switch-version', [true]);
    assert.deepEqual(yes.questions, ['Switch from 1.0.1+two to 1.0.0+one and restart?']);
    assert.match(yes.lines.join('\n'), /Slot a \(1\.0\.0\+one\) boots next/);
    assert.deepEqual(entries(), ['sbd-a+3.conf', 'sbd-b+3.conf']);
    assert.deepEqual(systemctlCalls(), ['reboot']);
  });

  it('utils system upgrade URL: fetched over http from the host into the firmware folder, installed, the download removed', async () => {
    await rauc.boot('a');
    writeFileSync(versionFile, '1.0.0+one\n');
    const served = readFileSync(good);
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': served.length }).end(served);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const io = await run(`utils system upgrade http://127.0.0.1:${port}/sbd.raucb`, [true]);
      assert.equal(requests, 1);
      assert.match(io.lines.join('\n'), /Installed 1\.0\.1\+two \(slot b, boots next\)/);
      assert.deepEqual(systemctlCalls(), ['reboot', 'reboot']);
      assert.deepEqual(
        readdirSync(rauc.firmwareDir).filter((n) => n.includes('raucb')),
        [],
      );
    } finally {
      server.close();
    }
    await assert.rejects(run('utils system upgrade ftp://127.0.0.1/x.raucb'), /only http:\/\/ and https:\/\//);
    await assert.rejects(run('utils system upgrade /nonexistent/x.raucb'), /no bundle file/);
  });
});
