/**
 * sbd-sipd as systemd starts it (`sbd daemon sip`, under tsx from the sources): milliseconds from spawn to the
 * "listening" line, and the modules the process loaded (ours under src/ and native/, and all). Median of N runs.
 *   node --import tsx test/architecture/sipd-startup.ts [TREE] [N]
 * TREE: a checkout to measure (default this one; e.g. `git archive REV | tar -x -C DIR` with node_modules and
 * native/build linked in). Loopback only; each run gets a fresh state folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const tree = process.argv[2] ?? fileURLToPath(new URL('../../', import.meta.url));
const runs = Number(process.argv[3] ?? 5);
const hook = fileURLToPath(new URL('./load-log.mjs', import.meta.url));

function once(state: string, log: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        hook,
        'src/cli/main.ts',
        'daemon',
        'sip',
        '--state',
        state,
        '--bind',
        '127.0.0.1',
        '--port',
        '0',
        '--tls-port',
        '0',
      ],
      { cwd: tree, env: { ...process.env, SBD_LOAD_LOG: log }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"event":"listening"')) {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        child.kill('SIGTERM');
        child.on('exit', () => resolve(ms));
      }
    });
    child.on('exit', (code) => {
      if (!out.includes('listening')) reject(new Error(`sipd exited ${code}`));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const times: number[] = [];
let ours = 0;
let all = 0;
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-startup-'));
  const state = join(dir, 'state');
  const init = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'init', '--state', state, '--hostname', 'sbd1', '--ip', '127.0.0.1', '--key-bits', '2048'],
    { cwd: tree },
  );
  if (init.status !== 0) throw new Error(`sbd init failed: ${init.stderr}`);
  const log = join(dir, 'loads.txt');
  times.push(await once(state, log));
  const urls = [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
  all = urls.length;
  ours = urls.filter((u) => u.startsWith('file://') && !u.includes('/node_modules/') && /\/(src|native)\//.test(u)).length;
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  JSON.stringify({
    tree,
    runs,
    startupMsMedian: Math.round(median(times)),
    startupMs: times.map(Math.round),
    modulesOurs: ours,
    modulesAll: all,
  }),
);
