/**
 * The stage for the seeds' procedures run from the console (issue 18, "Must show"): an appliance made by `sbd init`
 * with its TVS and CAPF on loopback (harness.ts), sbd-tftpd and sbd-sipd as real processes over the same state
 * folder, simulated phones booted once over TFTP (power-on) and registered over TCP with digest (each REGISTER
 * followed by the phone's DeviceTLInfo report of the lists it holds). From then on the
 * test only types console lines (the console's own command table, src/admin/commands.ts, questions answered as
 * scripted): every later boot is the phone's own, when sbd's reset NOTIFY reaches it (`refetchOnReset`), and
 * what it decided is kept per phone in `boots`.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { adminTable } from '../../src/admin/commands.js';
import type { CommandTable } from '../../src/admin/command-table.js';
import { bootSimPhone, refetchOnReset, type PhoneBootReport, type SimPhoneOptions } from '../../src/sim/phone.js';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { heldInPhoneFolder } from '../../src/sim/sip-ua/device-tl-info.js';
import { TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { runConsoleLine } from '../admin/console-run.js';
import { fleet, phoneNames, redirect, startCluster, story, type Cluster, type Fleet } from './harness.js';

const repoRoot = new URL('../../', import.meta.url).pathname;

export interface Daemon {
  /** The daemon's JSON log lines so far. */
  lines: Record<string, unknown>[];
  listening: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Resolves once 127.0.0.1:`port` takes a TCP connection (polling: no timing assertion). */
async function tcpUp(port: number, isGone: () => boolean): Promise<void> {
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up || isGone()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `sbd daemon NAME ARGS` as its own process; resolves once it prints its "listening" line, or (`tcpPort`, for
 * daemons that print none, such as sbd-tvsd) once that loopback port takes a connection.
 */
export function startDaemon(args: string[], o: { tcpPort?: number } = {}): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'daemon', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  after(stop);
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let ev: Record<string, unknown>;
        try {
          ev = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(ev);
        if (ev.event === 'listening' && o.tcpPort === undefined) resolve({ lines, listening: ev, stop });
      }
    });
    void exited.then((code) => reject(new Error(`sbd daemon ${args[0]} exited with ${code}: ${stderr}`)));
    if (o.tcpPort !== undefined) void tcpUp(o.tcpPort, () => child.exitCode !== null).then(() => resolve({ lines, listening: {}, stop }));
  });
}

/** An answer to a console question: yes/no, or a function run before answering (e.g. a daemon reloading). */
export type Answer = boolean | (() => boolean);

export interface ConsoleResult {
  out: string;
  questions: string[];
}

export interface StagePhone {
  name: string;
  dn: string;
  sip: SipPhone;
  /** Every boot the phone made on its own (not the power-on boot), in order. */
  boots: PhoneBootReport[];
}

export interface Stage {
  cluster: Cluster;
  fleet: Fleet;
  phones: StagePhone[];
  tftpd: Daemon;
  table: CommandTable;
  /** One console line with scripted answers; fails on a question not scripted or an answer left over. */
  console(line: string, answers?: Answer[]): Promise<ConsoleResult>;
  /** Stop sbd-tftpd and start it again on the same port (what `utils service restart sbd-tftpd` does). */
  restartTftp(): Promise<void>;
  /**
   * The last boot of every phone, once each has finished its `count`th reset (registered again and reported its
   * trust lists), asserting each booted exactly `count` times by itself so far.
   */
  bootsAfter(count: number): Promise<PhoneBootReport[]>;
}

/** Appliance, daemons and `count` registered phones (model 8845, TCP, digest). */
export async function startStage(base: number, count: number): Promise<Stage> {
  const cluster = await startCluster();
  const names = phoneNames(base, count);
  const phones: StagePhone[] = [];
  for (const [i, name] of names.entries()) {
    const dn = String(7400 + i);
    await cluster.admin('device', 'add', name, '--model', '8845', '--dn', dn, '--digest-user', `u${dn}`, '--digest-password', `pw-${dn}-x`);
  }
  const tftpArgs = (port: number) => ['tftp', '--state', cluster.dir, '--bind', '127.0.0.1', '--port', String(port)];
  let tftpd = await startDaemon(tftpArgs(0));
  const tftpPort = (tftpd.listening.addresses as Array<{ port: number }>)[0]!.port;
  const sipd = await startDaemon(['sip', '--state', cluster.dir, '--bind', '127.0.0.1', '--port', '0', '--tls-port', '0']);
  const f = fleet();
  const fetcher = new TftpFetcher({ host: '127.0.0.1', port: tftpPort }, f.pool, { timeoutMs: 3000, retries: 8 });
  const tvs = configTvsHook({ redirect, timeoutMs: 30_000 });
  for (const [i, name] of names.entries()) {
    const dn = String(7400 + i);
    const opts: SimPhoneOptions = { stateDir: f.dir, deviceName: name, model: '8845', fetcher, views: f.views, verifyUnknownSigner: tvs };
    const first = await bootSimPhone(opts); // power-on
    assert.ok(first.configTrusted, story(first));
    const boots: PhoneBootReport[] = [];
    const sip = await SipPhone.connect({
      flow: { transport: 'tcp', host: '127.0.0.1', port: sipd.listening.tcp as number },
      line: dn,
      credentials: { username: `u${dn}`, password: `pw-${dn}-x` },
      refetch: refetchOnReset(opts, (r) => boots.push(r)),
      // After each REGISTER the phone reports the ITL/CTL it holds (DeviceTLInfo), as Cisco phones do.
      trustLists: heldInPhoneFolder(f.dir, name, '127.0.0.1'),
    });
    await sip.register();
    after(() => sip.close());
    phones.push({ name, dn, sip, boots });
  }
  const privilege = { canRaise: false, asRoot: (file: string, args: readonly string[]) => ({ file, args: [...args] }) };
  const table = adminTable({ privilege, stateDir: cluster.dir, systemd: { unitDir: join(cluster.dir, 'no-units') } });
  const stage: Stage = {
    cluster,
    fleet: f,
    phones,
    get tftpd() {
      return tftpd;
    },
    table,
    async console(line, answers = []) {
      const { out, questions } = await runConsoleLine(table, line, answers);
      return { out, questions };
    },
    async restartTftp() {
      await tftpd.stop();
      tftpd = await startDaemon(tftpArgs(tftpPort));
    },
    async bootsAfter(count) {
      // The wave counts a phone once it registers; the phone finishes its reset after its DeviceTLInfo report.
      for (const end = Date.now() + 60_000; phones.some((p) => p.sip.control.resets + p.sip.control.restarts < count); ) {
        if (Date.now() > end) break; // the assertions below say which phone
        await new Promise((r) => setTimeout(r, 20));
      }
      return phones.map((p) => {
        assert.equal(p.boots.length, count, `${p.name} booted ${p.boots.length} times by itself, expected ${count}`);
        assert.equal(p.sip.control.refetchFailures, 0, `${p.name} could not re-fetch its files`);
        return p.boots.at(-1)!;
      });
    },
  };
  return stage;
}

/** The reset wave's summary line, asserting every phone acknowledged and registered again. */
export function assertWaveDone(out: string, count: number): void {
  assert.match(
    out,
    new RegExp(`summary: ${count} phones told to reset: ${count} acknowledged, ${count} re-registered, 0 failed; 0 not registered`),
    out,
  );
}
