/**
 * The admin shell's view of systemd: unit state through `systemctl show`, restarts and power actions through
 * `systemctl`. Only sbd's own units can be named; the unit list comes from the unit directory, so a daemon that
 * is not in the image is not offered.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { AdminError, AdminErrorCode } from './errors.js';
import type { Privilege } from './privilege.js';

/** sbd units that run once per boot and are no daemon (no `show status` line, no `utils service restart`). */
const BOOT_STEPS = new Set(['sbd-firstboot', 'sbd-store-upgrade', 'sbd-boot-ok']);

export interface SystemdOptions {
  /** Where sbd's units are installed. Default /usr/lib/systemd/system. */
  unitDir?: string;
  /** systemctl binary (an absolute path: sudoers names it). Default /usr/bin/systemctl. */
  systemctl?: string;
  /** Longest wait for one systemctl call, ms. Default 120000 (a restart waits for READY=1). */
  timeoutMs?: number;
  /** The folder whose presence means systemd is init (sd_booted(3)). Default /run/systemd/system. */
  bootedMarker?: string;
}

export interface UnitState {
  unit: string;
  activeState: string;
  subState: string;
  mainPid: number;
  restarts: number;
  statusText: string;
}

export class Systemd {
  readonly #privilege: Privilege;
  readonly #unitDir: string;
  readonly #systemctl: string;
  readonly #timeoutMs: number;
  readonly #bootedMarker: string;

  constructor(privilege: Privilege, options: SystemdOptions = {}) {
    this.#privilege = privilege;
    this.#unitDir = options.unitDir ?? '/usr/lib/systemd/system';
    this.#systemctl = options.systemctl ?? '/usr/bin/systemctl';
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#bootedMarker = options.bootedMarker ?? '/run/systemd/system';
  }

  /** True when systemd is this machine's init (sd_booted(3): /run/systemd/system exists). */
  get booted(): boolean {
    return existsSync(this.#bootedMarker);
  }

  /** sbd's unit names (without .service), sorted. */
  units(): string[] {
    try {
      return readdirSync(this.#unitDir)
        .filter((f) => /^sbd-[a-z0-9-]+\.service$/.test(f))
        .map((f) => f.slice(0, -'.service'.length))
        .sort();
    } catch {
      return [];
    }
  }

  /** The daemons: every sbd unit but the boot steps (first boot, the store's upgrade step, the boot assessment). */
  daemons(): string[] {
    return this.units().filter((u) => !BOOT_STEPS.has(u));
  }

  /** `systemctl show -p …` of one unit, as its KEY=VALUE text. */
  show(unit: string, properties: readonly string[]): string {
    return this.#run(['show', `--property=${properties.join(',')}`, `${unit}.service`], false);
  }

  state(unit: string): UnitState {
    const text = this.#run(['show', '--property=ActiveState,SubState,MainPID,NRestarts,StatusText', `${unit}.service`], false);
    const p = Object.fromEntries(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    return {
      unit,
      activeState: p.ActiveState ?? 'unknown',
      subState: p.SubState ?? 'unknown',
      mainPid: Number(p.MainPID ?? 0),
      restarts: Number(p.NRestarts ?? 0),
      statusText: p.StatusText ?? '',
    };
  }

  restart(name: string): UnitState {
    const unit = this.resolve(name);
    this.#run(['restart', `${unit}.service`], true);
    return this.state(unit);
  }

  power(action: 'reboot' | 'poweroff'): void {
    this.#run([action], true);
  }

  /** Accepts `sbd-tftpd`, `sbd-tftpd.service` or `tftpd`; anything else is refused with the valid names. */
  resolve(name: string): string {
    const bare = name.replace(/\.service$/, '');
    const unit = bare.startsWith('sbd-') ? bare : `sbd-${bare}`;
    const known = this.daemons();
    if (!known.includes(unit)) {
      throw new AdminError(AdminErrorCode.args, `no service "${name}"; services: ${known.join(', ') || '(none in this image)'}`);
    }
    return unit;
  }

  #run(args: string[], asRoot: boolean): string {
    if (!this.booted) throw new AdminError(AdminErrorCode.system, 'systemd is not running on this machine (host mode)');
    try {
      const cmd = asRoot ? this.#privilege.asRoot(this.#systemctl, args) : { file: this.#systemctl, args };
      return execFileSync(cmd.file, cmd.args, { encoding: 'utf8', timeout: this.#timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      if (err instanceof AdminError) throw err;
      const stderr = String((err as { stderr?: unknown }).stderr ?? '')
        .trim()
        .split('\n')[0];
      throw new AdminError(AdminErrorCode.system, `systemctl ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`, { cause: err });
    }
  }
}
