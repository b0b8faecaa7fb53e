/**
 * rootfs/usr/lib/sbd/bin/rauc-bootloader, RAUC's custom backend, run as RAUC runs it against an ESP folder tree:
 * primary = the entry systemd-boot 252 would pick for `default sbd-*` (0 tries left sort last, then sort-key, then
 * id newest first), set-primary = lowest sort-key + a fresh "+3" counter, good = no counter, bad = "+0".
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const BACKEND = join(import.meta.dirname, '../../rootfs/usr/lib/sbd/bin/rauc-bootloader');

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function esp(loaderDefault = 'sbd-*'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-esp-'));
  made.push(dir);
  mkdirSync(join(dir, 'loader/entries'), { recursive: true });
  writeFileSync(join(dir, 'loader/loader.conf'), `default ${loaderDefault}\ntimeout 0\neditor no\n`);
  for (const s of ['a', 'b']) {
    writeFileSync(
      join(dir, `loader/entries/sbd-${s}.conf`),
      `title sbd ${s}\nlinux /sbd/${s}/vmlinuz\noptions root=PARTLABEL=sbd-root-${s} ro sbd.slot=${s}\n`,
    );
  }
  return dir;
}

function run(dir: string, ...args: string[]): string {
  return execFileSync(BACKEND, args, { env: { ...process.env, SBD_ESP: dir }, encoding: 'utf8' }).trim();
}

const entries = (dir: string) => readdirSync(join(dir, 'loader/entries')).sort();

describe('rauc-bootloader (custom backend over systemd-boot entries)', () => {
  it('set-primary gives the slot a fresh +3 counter and the lowest sort-key; the other entry keeps its name', () => {
    const dir = esp();
    assert.equal(run(dir, 'get-primary'), 'b', 'without sort-keys systemd-boot picks the highest id');
    run(dir, 'set-primary', 'a');
    assert.deepEqual(entries(dir), ['sbd-a+3.conf', 'sbd-b.conf']);
    assert.equal(run(dir, 'get-primary'), 'a');
    assert.match(readFileSync(join(dir, 'loader/entries/sbd-a+3.conf'), 'utf8'), /^sort-key sbd-0$/m);
    assert.match(readFileSync(join(dir, 'loader/entries/sbd-b.conf'), 'utf8'), /^sort-key sbd-1$/m);
    // The rest of the entry is untouched.
    assert.match(readFileSync(join(dir, 'loader/entries/sbd-a+3.conf'), 'utf8'), /^options root=PARTLABEL=sbd-root-a ro sbd\.slot=a$/m);
  });

  it('an update: the target is marked bad (+0), then made primary; three failed tries fall back to the other slot', () => {
    const dir = esp();
    run(dir, 'set-primary', 'a');
    run(dir, 'set-state', 'a', 'good'); // booted a, blessed
    run(dir, 'set-state', 'b', 'bad'); // RAUC before writing slot b
    assert.deepEqual(entries(dir), ['sbd-a.conf', 'sbd-b+0.conf']);
    assert.equal(run(dir, 'get-state', 'b'), 'bad');
    assert.equal(run(dir, 'get-primary'), 'a', 'a half-written slot never boots');
    run(dir, 'set-primary', 'b'); // RAUC after the slot and its hook succeeded
    assert.deepEqual(entries(dir), ['sbd-a.conf', 'sbd-b+3.conf']);
    assert.equal(run(dir, 'get-primary'), 'b');
    // systemd-boot counts each try down by renaming (sbd-b+2-1.conf ...); with no try left the entry sorts last.
    const e = join(dir, 'loader/entries');
    renameSync(join(e, 'sbd-b+3.conf'), join(e, 'sbd-b+2-1.conf'));
    assert.equal(run(dir, 'get-primary'), 'b');
    assert.equal(run(dir, 'get-state', 'b'), 'good', 'tries left: still bootable');
    renameSync(join(e, 'sbd-b+2-1.conf'), join(e, 'sbd-b+0-3.conf'));
    assert.equal(run(dir, 'get-primary'), 'a');
    assert.equal(run(dir, 'get-state', 'b'), 'bad');
    // A good boot of b instead: systemd-bless-boot (or set-state good) drops the counter.
    renameSync(join(e, 'sbd-b+0-3.conf'), join(e, 'sbd-b+1-2.conf'));
    run(dir, 'set-state', 'b', 'good');
    assert.deepEqual(entries(dir), ['sbd-a.conf', 'sbd-b.conf']);
    assert.equal(run(dir, 'get-primary'), 'b');
  });

  it('switching back (mark-active other) counts the old slot again', () => {
    const dir = esp();
    run(dir, 'set-primary', 'b');
    run(dir, 'set-state', 'b', 'good');
    run(dir, 'set-primary', 'a');
    assert.deepEqual(entries(dir), ['sbd-a+3.conf', 'sbd-b.conf']);
    assert.equal(run(dir, 'get-primary'), 'a');
  });

  it('set-primary puts a fixed default back to the pattern (a fixed name would boot a bad entry)', () => {
    const dir = esp('sbd-a.conf');
    run(dir, 'set-primary', 'b');
    assert.match(readFileSync(join(dir, 'loader/loader.conf'), 'utf8'), /^default sbd-\*$/m);
    assert.doesNotMatch(readFileSync(join(dir, 'loader/loader.conf'), 'utf8'), /sbd-a\.conf/);
  });

  it('refuses unknown slots, bad names and states, and a missing ESP', () => {
    const dir = esp();
    for (const args of [['set-primary', 'c'], ['get-state', '../a'], ['set-state', 'a', 'maybe'], ['frobnicate']]) {
      const r = spawnSync(BACKEND, args, { env: { ...process.env, SBD_ESP: dir }, encoding: 'utf8' });
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, /rauc-bootloader: /);
    }
    assert.deepEqual(entries(dir), ['sbd-a.conf', 'sbd-b.conf'], 'nothing renamed');
    const r = spawnSync(BACKEND, ['get-primary'], { env: { ...process.env, SBD_ESP: join(dir, 'nope') }, encoding: 'utf8' });
    assert.equal(r.status, 2);
  });
});
