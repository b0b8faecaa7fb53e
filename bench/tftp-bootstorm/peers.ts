/**
 * The TFTP servers the boot-storm bench compares, each started as a child process on loopback and stopped by the
 * bench: sbd-tftpd (./server-child.ts), dnsmasq (event loop; its TFTP port is fixed at 69), atftpd (threads) and
 * tftpd-hpa's in.tftpd (a fork per request). CPU time is read from /proc/PID/stat, children included, so forking
 * servers are charged for their workers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Peer {
  name: string;
  port: number;
  /** RFC 7440 windowsize is understood. */
  windowsize: boolean;
  /** Note on how it was configured. */
  note: string;
  /** CPU seconds used so far (user + system, reaped children included). */
  cpuSeconds(): number;
  /** The server process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

const repo = join(import.meta.dirname, '../..');
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export function cpuOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of stat(5) (utime, stime, cutime, cstime) are 12-15 after the ")".
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
  } catch {
    return NaN;
  }
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

async function freePort(address: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

async function portFree(address: string, port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, address, () => s.close(() => resolve(true)));
  });
}

/** Resolves once a UDP port answers a TFTP RRQ (any reply, even an error). */
async function waitForTftp(address: string, port: number, child: ChildProcess): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  try {
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      const got = new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 100);
        s.once('message', () => {
          clearTimeout(t);
          resolve(true);
        });
      });
      s.send(Buffer.from('\x00\x01bench-probe\x00octet\x00', 'latin1'), port, address);
      if (await got) return;
    }
    throw new Error('no answer on its port');
  } finally {
    s.close();
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** engine 'native': sbd-tftpd as it ships (the C data plane); 'node': the TypeScript server, for comparison. */
export async function startSbd(
  root: string,
  address: string,
  engine: 'native' | 'node' = 'native',
  appliance?: { state: string },
): Promise<Peer & { counters: () => Promise<Record<string, unknown>> }> {
  // SBD_BENCH_CPU_PROF=DIR writes a V8 CPU profile of the server process there (for finding hot spots).
  const prof = process.env.SBD_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SBD_BENCH_CPU_PROF}`] : [];
  const child = spawn(
    process.execPath,
    [
      ...prof,
      '--import',
      'tsx',
      join(import.meta.dirname, 'server-child.ts'),
      ...(appliance ? ['--state', appliance.state] : []),
      root,
      address,
    ],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SBD_BENCH_SBD_ENGINE: engine },
    },
  );
  let out = '';
  const waiters: ((line: string) => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      waiters.shift()?.(line);
    }
  });
  const next = () => new Promise<string>((r) => waiters.push(r));
  const ready = await next();
  const port = Number(/^READY (\d+)$/.exec(ready)?.[1]);
  const stop = stopper(child);
  return {
    name: appliance ? 'sbd-appl' : engine === 'native' ? 'sbd-tftpd' : 'sbd-node',
    port,
    windowsize: true,
    note: `${appliance ? 'native data plane serving the appliance store (sbd daemon tftp --state: files built, signed and handed to the engine at start)' : engine === 'native' ? 'native data plane, folder source (sbd daemon tftp --root)' : 'the TypeScript server (src/tftp/server.ts), folder source'}, defaults (16,384 transfers, 16 per client address, 1 s timeout, 5 retries)`,
    cpuSeconds: () => cpuOfPid(child.pid!),
    alive: () => child.exitCode === null && child.signalCode === null,
    counters: async () => {
      const line = next();
      child.kill('SIGUSR2');
      return JSON.parse((await line).slice('COUNTERS '.length)) as Record<string, unknown>;
    },
    stop,
  };
}

export async function startDnsmasq(root: string, address: string, maxTransfers: number): Promise<Peer | string> {
  const bin = which('dnsmasq');
  if (!bin) return 'dnsmasq not installed (deps/apt/tftp.txt: dnsmasq-base)';
  if (!(await portFree(address, 69))) return `${address}:69 is in use`;
  const child = spawn(
    bin,
    [
      '--keep-in-foreground',
      '--port=0',
      '--enable-tftp',
      `--tftp-root=${root}`,
      `--listen-address=${address}`,
      '--bind-interfaces',
      '--conf-file=/dev/null',
      '--pid-file=',
      '--user=root',
      `--tftp-max=${maxTransfers}`,
      '--log-facility=/dev/null',
    ],
    { stdio: 'ignore' },
  );
  try {
    await waitForTftp(address, 69, child);
  } catch (err) {
    child.kill('SIGKILL');
    return `dnsmasq did not start: ${(err as Error).message}`;
  }
  return {
    name: 'dnsmasq',
    port: 69,
    windowsize: false,
    note: `--tftp-max=${maxTransfers} (default 50)`,
    cpuSeconds: () => cpuOfPid(child.pid!),
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: stopper(child),
  };
}

/** atftpd conflicts with tftpd-hpa as a Debian package; its binary is unpacked from the .deb instead. */
function atftpdBinary(): string | undefined {
  const installed = which('atftpd');
  if (installed) return installed;
  const dir = join(repo, 'build/peers/atftpd');
  const bin = join(dir, 'usr/sbin/atftpd');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const dl = spawnSync('apt-get', ['download', 'atftpd'], { cwd: dir, encoding: 'utf8' });
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (dl.status !== 0 || !deb) return undefined;
  spawnSync('dpkg-deb', ['-x', join(dir, deb), dir]);
  return existsSync(bin) ? bin : undefined;
}

export async function startAtftpd(root: string, address: string, maxThreads: number): Promise<Peer | string> {
  const bin = atftpdBinary();
  if (!bin) return 'atftpd not available (apt-get download atftpd failed)';
  const port = await freePort(address);
  const child = spawn(
    bin,
    [
      '--daemon',
      '--no-fork',
      '--port',
      String(port),
      '--bind-address',
      address,
      '--user',
      'root',
      '--group',
      'root',
      '--logfile',
      '/dev/null',
      '--maxthread',
      String(maxThreads),
      root,
    ],
    { stdio: 'ignore' },
  );
  try {
    await waitForTftp(address, port, child);
  } catch (err) {
    child.kill('SIGKILL');
    return `atftpd did not start: ${(err as Error).message}`;
  }
  return {
    name: 'atftpd',
    port,
    windowsize: true,
    note: `--maxthread ${maxThreads} (default 100)`,
    cpuSeconds: () => cpuOfPid(child.pid!),
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: stopper(child),
  };
}

export async function startTftpdHpa(root: string, address: string): Promise<Peer | string> {
  const bin = which('in.tftpd');
  if (!bin) return 'tftpd-hpa not installed';
  const port = await freePort(address);
  const child = spawn(bin, ['--listen', '--foreground', '--address', `${address}:${port}`, '--user', 'root', '--secure', root], {
    stdio: 'ignore',
  });
  try {
    await waitForTftp(address, port, child);
  } catch (err) {
    child.kill('SIGKILL');
    return `in.tftpd did not start: ${(err as Error).message}`;
  }
  return {
    name: 'tftpd-hpa',
    port,
    windowsize: false,
    note: 'defaults (fork per request)',
    cpuSeconds: () => cpuOfPid(child.pid!),
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: stopper(child),
  };
}
