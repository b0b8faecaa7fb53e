/**
 * The update use cases over RAUC's command line (RAUC 1.8, Debian 12): `rauc install`, `rauc status
 * --detailed --output-format=json`, `rauc status mark-active other`. The CLI talks to the RAUC service over D-Bus
 * (system bus on the appliance; DBUS_STARTER_BUS_TYPE=session and DBUS_SESSION_BUS_ADDRESS in `env` point it at a
 * private bus, as the host tests do). RAUC checks the bundle's signature against /etc/rauc/keyring.pem itself; this
 * file only turns its answers into typed results and its refusals into one clear line.
 */
import { execFile } from 'node:child_process';
import { FirmwareError, FirmwareErrorCode } from './errors.js';

export interface RaucOptions {
  /** The rauc binary. Default /usr/bin/rauc. */
  rauc?: string;
  /** Environment of every rauc call. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Longest wait for `rauc install`, ms. Default 1800000 (a root image written under emulation). */
  installTimeoutMs?: number;
  /** Longest wait for the other calls, ms. Default 60000. */
  timeoutMs?: number;
}

export const RAUC_DEFAULTS = { rauc: '/usr/bin/rauc', installTimeoutMs: 1_800_000, timeoutMs: 60_000 } as const;

export interface SlotInfo {
  /** RAUC's slot name, e.g. rootfs.0. */
  name: string;
  class: string;
  device: string;
  /** The boot loader's name of the slot (a, b). */
  bootname: string | undefined;
  /** booted, active (mounted) or inactive. */
  state: string;
  /** good or bad as the boot loader backend reports it. */
  bootStatus: string | undefined;
  /** The version of the bundle RAUC last installed into the slot, if it installed one. */
  bundleVersion: string | undefined;
  installedAt: string | undefined;
}

export interface RaucStatus {
  compatible: string;
  /** Bootname of the running slot. */
  booted: string | undefined;
  /** Slot name the next boot starts. */
  bootPrimary: string | undefined;
  slots: SlotInfo[];
}

interface RawSlot {
  class?: string;
  device?: string;
  bootname?: string | null;
  state?: string;
  boot_status?: string;
  slot_status?: { bundle?: { version?: string | null }; installed?: { timestamp?: string | null } };
}

/** Parses `rauc status --detailed --output-format=json` (RAUC 1.8: slots is a list of one-key objects). */
export function parseRaucStatus(text: string): RaucStatus {
  let raw: { compatible?: string; booted?: string | null; boot_primary?: string | null; slots?: Record<string, RawSlot>[] };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch (err) {
    throw new FirmwareError(FirmwareErrorCode.rauc, `rauc status answered no JSON: ${text.slice(0, 120)}`, { cause: err });
  }
  const slots: SlotInfo[] = [];
  for (const entry of raw.slots ?? []) {
    for (const [name, s] of Object.entries(entry)) {
      slots.push({
        name,
        class: s.class ?? '',
        device: s.device ?? '',
        bootname: s.bootname ?? undefined,
        state: s.state ?? 'unknown',
        bootStatus: s.boot_status ?? undefined,
        bundleVersion: s.slot_status?.bundle?.version ?? undefined,
        installedAt: s.slot_status?.installed?.timestamp ?? undefined,
      });
    }
  }
  slots.sort((a, b) => a.name.localeCompare(b.name));
  return { compatible: raw.compatible ?? '', booted: raw.booted ?? undefined, bootPrimary: raw.boot_primary ?? undefined, slots };
}

/** The most telling line of a failed rauc call: its LastError, else the last non-empty line. */
export function raucFailure(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = [...lines].reverse().find((l) => l.startsWith('LastError:'));
  if (last) return last.slice('LastError:'.length).trim();
  return lines.filter((l) => !/^\d+% /.test(l) && l !== 'idle' && l !== 'installing').at(-1) ?? 'no output';
}

/**
 * RAUC's reason for a refused install, made plain where RAUC's own words hide the cause: a verity bundle's image
 * that fails to read from the mounted bundle (EIO) is dm-verity refusing a block that is not what was signed.
 */
export function installRefusal(output: string): string {
  const reason = raucFailure(output);
  // RAUC copies the image with GIO's splice: the input (the bundle's image) fails as "Error reading from file",
  // a failing slot as "Error writing to file".
  if (/Failed splicing data: Error reading from file: Input\/output error/.test(reason)) {
    return `the bundle is damaged or was altered after it was signed (its image failed the dm-verity check): ${reason}`;
  }
  return reason;
}

export class Rauc {
  readonly #bin: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #installTimeoutMs: number;
  readonly #timeoutMs: number;

  constructor(options: RaucOptions = {}) {
    this.#bin = options.rauc ?? RAUC_DEFAULTS.rauc;
    this.#env = options.env ?? process.env;
    this.#installTimeoutMs = options.installTimeoutMs ?? RAUC_DEFAULTS.installTimeoutMs;
    this.#timeoutMs = options.timeoutMs ?? RAUC_DEFAULTS.timeoutMs;
  }

  async status(): Promise<RaucStatus> {
    const r = await this.#run(['status', '--detailed', '--output-format=json'], this.#timeoutMs);
    if (r.code !== 0) throw new FirmwareError(FirmwareErrorCode.rauc, `rauc status failed: ${raucFailure(r.stderr || r.stdout)}`);
    return parseRaucStatus(r.stdout);
  }

  /** Installs a bundle into the inactive slot and makes it the next boot's; a refusal keeps everything as it was. */
  async install(bundle: string): Promise<{ output: string }> {
    const r = await this.#run(['install', bundle], this.#installTimeoutMs);
    const output = `${r.stdout}${r.stderr}`;
    if (r.code !== 0) throw new FirmwareError(FirmwareErrorCode.install, `update refused: ${installRefusal(output)}`);
    return { output };
  }

  /** `rauc status mark-active other`: the other slot boots next (counted: three failed tries fall back). */
  async markActiveOther(): Promise<string> {
    const r = await this.#run(['status', 'mark-active', 'other'], this.#timeoutMs);
    if (r.code !== 0)
      throw new FirmwareError(FirmwareErrorCode.rauc, `rauc status mark-active other failed: ${raucFailure(r.stderr || r.stdout)}`);
    return `${r.stdout}${r.stderr}`.trim();
  }

  #run(args: string[], timeout: number): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(this.#bin, args, { env: this.#env, timeout, maxBuffer: 4 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new FirmwareError(FirmwareErrorCode.rauc, `cannot run ${this.#bin}: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      });
    });
  }
}
