/**
 * Drives a booted sbd image for the image tests: starts image/run.sh (QEMU, serial console on stdio), waits for
 * text on the serial console with a timeout, logs in as admin, runs admin-shell commands, and — x86_64 only —
 * runs root commands on systemd's debug shell (second serial port on a Unix socket). Every wait prints how long
 * it took, so a CI log shows where boot time goes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repo = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');

/** CSI/OSC escape sequences and carriage returns, which readline and the kernel put on the console. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[()][0-9A-Za-z]/g, '')
    .replace(/\x1b[=>c]/g, '')
    .replace(/\r/g, '');
}

export function elapsed(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

/** A text stream with "wait until this appears" on top; `mark()` forgets what was already matched. */
class Transcript {
  text = '';
  #from = 0;
  #waiters: (() => void)[] = [];

  push(chunk: string): void {
    this.text += chunk;
    for (const w of this.#waiters.splice(0)) w();
  }

  async waitFor(pattern: RegExp, timeoutMs: number, what: string, closed: () => boolean): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Offsets are kept in the plain text: an escape sequence split across chunks only ever affects the tail.
      const seen = plain(this.text).slice(this.#from);
      const m = pattern.exec(seen);
      if (m) {
        this.#from += m.index + m[0].length;
        return m;
      }
      if (closed()) throw new Error(`${what}: console closed before ${pattern}; last output:\n${seen.slice(-1500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no ${pattern} within ${timeoutMs / 1000} s; last output:\n${seen.slice(-1500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export interface BootOptions {
  arch: 'x86_64' | 'arm64';
  /**
   * Network slot (image/run.sh --net); 'none' for no network; `join:NS:GUEST_IP:HOST_IP` for the bridge of a
   * namespace the test made (several guests on one network).
   */
  net: number | 'none' | `join:${string}`;
  debugShell?: boolean;
  memMb?: number;
  /**
   * How QEMU starts the guest (image/run.sh --boot): 'efi' — UEFI firmware boots the disk's own boot loader, as on
   * a machine; 'kernel' — QEMU's direct kernel boot. Default: $BOOT, else 'efi'.
   */
  boot?: 'efi' | 'kernel';
  /**
   * A qcow2 overlay that outlives this boot (image/run.sh --overlay): the machine's disk across boots and power
   * cuts. Created on the first boot, `diskSize` (qemu-img resize, e.g. '2G') making it bigger than the image.
   */
  overlay?: string;
  diskSize?: string;
  /** Environment for image/run.sh, e.g. SBD_IMAGE_DIR of the image to boot. */
  env?: NodeJS.ProcessEnv;
}

/** The boot path the image tests use unless a test names one. */
export const defaultBoot: 'efi' | 'kernel' = process.env.BOOT === 'kernel' ? 'kernel' : 'efi';

export class Guest {
  readonly options: BootOptions;
  readonly boot: 'efi' | 'kernel';
  readonly started = Date.now();
  /** When image/run.sh started QEMU itself (its setup done: "sbd-run: starting QEMU"); undefined until then. */
  qemuStarted: number | undefined;
  readonly console = new Transcript();
  readonly debug = new Transcript();
  #qemu: ChildProcess;
  #exited = false;
  #exit: Promise<number | null>;
  #dir: string;
  #debugSocket: Socket | undefined;

  constructor(options: BootOptions) {
    this.options = options;
    this.#dir = mkdtempSync(join(tmpdir(), 'sbd-guest-'));
    const boot = options.boot ?? defaultBoot;
    this.boot = boot;
    const args = [`${repo}/image/run.sh`, '--arch', options.arch, '--boot', boot, '--net', String(options.net), '--no-reboot'];
    if (options.memMb) args.push('--mem', String(options.memMb));
    if (options.debugShell) args.push('--debug-shell', join(this.#dir, 'debug.sock'));
    if (options.overlay) args.push('--overlay', options.overlay);
    if (options.diskSize) args.push('--disk-size', options.diskSize);
    args.push('--pidfile', join(this.#dir, 'qemu.pid'));
    this.#qemu = spawn('bash', args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: options.env ?? process.env });
    this.#qemu.stdout!.setEncoding('utf8').on('data', (d: string) => this.console.push(d));
    this.#qemu.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (this.qemuStarted === undefined && d.includes('sbd-run: starting QEMU')) this.qemuStarted = Date.now();
      this.console.push(d);
    });
    this.#exit = new Promise((resolve) =>
      this.#qemu.on('exit', (code) => {
        this.#exited = true;
        this.console.push('');
        resolve(code);
      }),
    );
  }

  get hostIp(): string {
    if (typeof this.options.net === 'string') return this.options.net.split(':')[3] ?? '';
    return this.options.net === 0 ? '192.0.2.1' : `198.18.${this.options.net}.1`;
  }

  get guestIp(): string {
    if (typeof this.options.net === 'string') return this.options.net.split(':')[2] ?? '';
    return this.options.net === 0 ? '192.0.2.2' : `198.18.${this.options.net}.2`;
  }

  get exited(): boolean {
    return this.#exited;
  }

  async waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    const m = await this.console.waitFor(pattern, timeoutMs, what, () => this.#exited);
    console.log(`# [${this.options.arch}] ${what}: ${elapsed(this.started)} after QEMU start`);
    return m;
  }

  type(text: string): void {
    this.#qemu.stdin!.write(text);
  }

  /** Logs in on the serial console; handles the forced change of the default password. Returns the password now set. */
  async login(user: string, password: string, newPassword: string, timeoutMs: number): Promise<string> {
    // A prompt is the console's last text, or followed only by kernel messages printed after it ("[  41.2] ...").
    await this.waitFor(/login: (?:$|(?=\s*\[\s*\d+\.\d+\]))/m, timeoutMs, 'login prompt');
    this.type(`${user}\r`);
    await this.waitFor(/Password: (?:$|(?=\s*\[\s*\d+\.\d+\]))/m, 60_000, 'password prompt');
    this.type(`${password}\r`);
    const m = await this.waitFor(/(admin: $|Current password: $|New password: $|Login incorrect)/m, 120_000, 'after password');
    if (m[1] === 'Login incorrect') throw new Error('login: password refused');
    if (m[1] === 'admin: ') return password;
    if (m[1] === 'Current password: ') {
      this.type(`${password}\r`);
      await this.waitFor(/New password: $/m, 60_000, 'new password prompt');
    }
    this.type(`${newPassword}\r`);
    await this.waitFor(/Retype new password: $/m, 60_000, 'retype prompt');
    this.type(`${newPassword}\r`);
    await this.waitFor(/admin: $/m, 120_000, 'admin prompt');
    return newPassword;
  }

  /** Runs one admin-shell command and returns its output (between the echoed command and the next prompt). */
  async admin(command: string, timeoutMs = 120_000): Promise<string> {
    this.type(`${command}\r`);
    const m = await this.console.waitFor(/([\s\S]*?)\nadmin: $/m, timeoutMs, `admin: ${command}`, () => this.#exited);
    const out = m[1]!;
    const at = out.indexOf(command);
    return (at >= 0 ? out.slice(at + command.length) : out).replace(/^\n/, '');
  }

  /** Runs a shell command as root on systemd's debug shell; returns [exit status, output]. */
  async root(command: string, timeoutMs = 120_000): Promise<[number, string]> {
    if (!this.#debugSocket) {
      const sock = connect(join(this.#dir, 'debug.sock'));
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
      sock.setEncoding('utf8').on('data', (d: string) => this.debug.push(d));
      this.#debugSocket = sock;
      // The debug shell's tty echoes; turn that off so the output holds only what the command printed.
      // (The marker is computed by the shell so that the echoed command line cannot match it.)
      sock.write('stty -echo 2>/dev/null; PS1=; export SYSTEMD_PAGER= SYSTEMD_COLORS=0; echo DEBUG-$((40+2))\r');
      await this.debug.waitFor(/DEBUG-42\n/, 180_000, 'debug shell', () => this.#exited);
    }
    const tag = `END${Math.random().toString(36).slice(2, 10)}`;
    this.#debugSocket.write(`${command}; echo "${tag} $?"\r`);
    const m = await this.debug.waitFor(new RegExp(`([\\s\\S]*?)${tag} (\\d+)\\n`), timeoutMs, `root: ${command}`, () => this.#exited);
    return [Number(m[2]), m[1]!.trim()];
  }

  /** Starts a root command on the debug shell and returns at once; what it prints arrives in `debug`. */
  async rootStart(command: string): Promise<void> {
    await this.root('true');
    this.#debugSocket!.write(`${command}\r`);
  }

  /** Waits for QEMU to exit (after a shutdown), or kills it after timeoutMs. */
  async exit(timeoutMs: number): Promise<number | null> {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    const code = await this.#exit;
    clearTimeout(timer);
    return code;
  }

  /**
   * Cuts the power: SIGKILL to QEMU itself (no guest shutdown, no flush of what the guest has not written yet);
   * image/run.sh then cleans up as after any exit. Resolves once it has.
   */
  async powerCut(): Promise<void> {
    const pid = Number(readFileSync(join(this.#dir, 'qemu.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    console.log(`# [${this.options.arch}] power cut (SIGKILL to QEMU ${pid}) ${elapsed(this.started)} after QEMU start`);
    await this.exit(60_000);
  }

  kill(): void {
    if (this.#exited) return;
    try {
      // run.sh removes the namespace and overlay on SIGTERM once QEMU is gone.
      process.kill(-this.#qemu.pid!, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }

  async dispose(): Promise<void> {
    this.#debugSocket?.destroy();
    this.kill();
    await this.exit(60_000);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Builds the image for `arch` unless it is up to date (image/build.sh --if-stale) or SBD_NO_BUILD is set; throws when the build fails. */
export function buildImage(arch: BootOptions['arch'], env: NodeJS.ProcessEnv = process.env): void {
  // SBD_NO_BUILD=1: boot the image in SBD_IMAGE_DIR as it is (built before; other work in the tree would make it stale).
  if (env.SBD_NO_BUILD || process.env.SBD_NO_BUILD) return;
  const t0 = Date.now();
  const r = spawnSync('bash', [`${repo}/image/build.sh`, arch, '--if-stale'], { stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`image/build.sh ${arch} failed (status ${r.status})`);
  console.log(`# image ${arch} ready in ${elapsed(t0)}`);
}

/** Polls a root command on the debug shell until `ok(output)` holds. */
export async function until(g: Guest, command: string, ok: (out: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    last = (await g.root(command))[1];
    if (ok(last)) {
      console.log(`# ${what}: ${elapsed(t0)}`);
      return last;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s; last output of "${command}":\n${last}`);
}
