/**
 * The image's bundled app (scripts/bundle.ts) on the host, without QEMU: built from dist/ (tsc) into a folder under
 * build/ (koffi and better-sqlite3 resolve from the repo's node_modules, as from /usr/lib/sbd/node_modules in the
 * image). The whole-CLI bundle prints the same help as dist/ and makes a store with `sbd init`; the TFTP daemon's
 * own bundle serves that store's ITL to tftp-hpa with the records the unbundled daemon serves (signatures valid); the bundles import
 * nothing but Node's built-ins and the two native addons, and find package.json (the version) through the
 * unbundled layout their import.meta.url is mapped to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { bundle } from '../../scripts/bundle.js';
import { verifyTrustFile } from '../../src/trust/verify.js';
import { repo } from './guest.js';

const dist = join(repo, 'dist/src/cli/main.js');

function sbd(file: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Starts `sbd daemon tftp` from FILE on a free loopback port; resolves with the process and the port. */
async function tftpd(file: string, state: string): Promise<{ proc: ChildProcess; port: number; engine: string }> {
  const proc = spawn(process.execPath, [file, 'daemon', 'tftp', '--state', state, '--bind', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const [port, engine] = await new Promise<[number, string]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line from ${file}: ${text}`)), 60_000);
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = /"event":"listening".*?"port":(\d+).*?"engine":"(\w+)"/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve([Number(m[1]), m[2]!]);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${file} exited ${code}: ${text}`)));
  });
  return { proc, port, engine };
}

/** tftp-hpa's client, binary mode. */
function tftpGet(port: number, name: string, to: string): Buffer {
  const r = spawnSync('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', name, to], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `tftp get ${name}: ${r.stdout}${r.stderr}`);
  return readFileSync(to);
}

test('the bundled CLI and TFTP daemon behave as dist/', async (t) => {
  const work = mkdtempSync(join(repo, 'build', 'bundle-test-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const out = join(work, 'app');
  const files = await bundle({ out, app: '../../..', dist: join(repo, 'dist') });
  const names = files.map((f) => f.file.slice(out.length + 1)).sort();
  assert.ok(names.includes('sbd.mjs') && names.includes('sbd-daemon-tftp.mjs') && names.includes('sbd-admin.mjs'), names.join(' '));

  await t.test('imports: only built-ins, koffi and better-sqlite3', () => {
    for (const f of files) {
      const foreign = f.external.filter((s) => !isBuiltin(s) && s !== 'koffi' && s !== 'better-sqlite3');
      assert.deepEqual(foreign, [], `${f.file} imports ${foreign.join(', ')}`);
      assert.ok(f.external.length > 0, 'the metafile lists the imports');
    }
  });

  await t.test('help and version as dist/ prints them', () => {
    const bundled = sbd(join(out, 'sbd.mjs'), ['help']);
    assert.equal(bundled.status, 0, bundled.out);
    assert.equal(bundled.out, sbd(dist, ['help']).out);
    const version = sbd(join(out, 'sbd.mjs'), ['version']).out;
    const pkg = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    assert.match(version, new RegExp(`^sbd ${pkg.replaceAll('.', '\\.')} `));
    // A daemon's own bundle holds its command only.
    const own = sbd(join(out, 'sbd-daemon-tftp.mjs'), ['help']);
    assert.match(own.out, /sbd daemon tftp/);
    assert.doesNotMatch(own.out, /sbd init|sbd daemon sip/);
  });

  await t.test('sbd init from the bundle, then its TFTP daemon serves the ITL as the unbundled one does', async () => {
    const state = join(work, 'state');
    const init = sbd(join(out, 'sbd.mjs'), ['init', '--state', state, '--hostname', 'bundle-test', '--ip', '127.0.0.1']);
    assert.equal(init.status, 0, init.out);
    assert.match(init.out, /TFTP activated: ITLFile\.tlv/);
    const served: Buffer[] = [];
    const engines: string[] = [];
    for (const file of [join(out, 'sbd-daemon-tftp.mjs'), dist]) {
      const { proc, port, engine } = await tftpd(file, state);
      engines.push(engine);
      try {
        served.push(tftpGet(port, 'ITLFile.tlv', join(work, `itl-${served.length}`)));
      } finally {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
    }
    // The native data plane (native/build/libsbdtftp.so, found through the mapped import.meta.url) when dist/ has it.
    assert.equal(engines[0], engines[1]);
    // Each start signs its own ITL (the signing time differs): the same records, each signature valid.
    const [bundled, unbundled] = served.map((b) => verifyTrustFile(b));
    assert.ok(bundled!.valid && unbundled!.valid, 'both ITLs signed by their SAST record');
    assert.ok(bundled!.file.records.length >= 5, 'the appliance records');
    assert.deepEqual(bundled!.file.records, unbundled!.file.records);
  });
});
