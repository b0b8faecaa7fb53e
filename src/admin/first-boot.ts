/**
 * Whether the appliance's first boot (sbd-firstboot.service: `sbd init` — keys, certificates, the first ITL) has
 * finished, and if not, one line saying what it is doing and for how long. The console accepts a login before it
 * is done; until then the store is missing or half made, and the store's own errors ("run sbd init") would send the
 * administrator the wrong way: the appliance runs it by itself. Store commands answer with this line instead.
 */
import { readFileSync } from 'node:fs';
import { AdminError, AdminErrorCode } from './errors.js';
import type { Systemd } from './systemd.js';

/** A store command refused before first boot is done; the shell prints the message alone (an AdminErrorCode). */
export class FirstBootPendingError extends AdminError {
  constructor(message: string) {
    super(AdminErrorCode.notReady, message);
  }
}

export const FIRST_BOOT_UNIT = 'sbd-firstboot';
/** The last phase rootfs/usr/lib/sbd/bin/firstboot writes, once `sbd init` has succeeded. */
export const FIRST_BOOT_DONE = 'done';

/** The unit properties read (`systemctl show -p …`); timestamps are CLOCK_MONOTONIC microseconds, 0 = never. */
export const FIRST_BOOT_PROPERTIES = [
  'LoadState',
  'ActiveState',
  'SubState',
  'Result',
  'ConditionResult',
  'ConditionTimestampMonotonic',
  'InactiveExitTimestampMonotonic',
] as const;

/** `systemctl show` output (KEY=VALUE lines) as a record. */
export function parseUnitShow(text: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) props[line.slice(0, at)] = line.slice(at + 1);
  }
  return props;
}

function seconds(us: bigint): number {
  return Number(us / 1_000_000n);
}

/**
 * undefined when first boot is done (this boot, or skipped because the store existed) or there is no such unit;
 * otherwise the line to show. nowUs: CLOCK_MONOTONIC in microseconds (systemd's clock for these timestamps);
 * phase: what the first-boot script last said it was doing.
 */
export function firstBootMessage(props: Record<string, string>, nowUs: bigint, phase?: string): string | undefined {
  if (props.LoadState !== 'loaded') return undefined;
  const state = props.ActiveState ?? 'unknown';
  const startedUs = BigInt(props.InactiveExitTimestampMonotonic || '0');
  const checkedUs = BigInt(props.ConditionTimestampMonotonic || '0');
  if (state === 'active') return undefined;
  if (state === 'inactive' && checkedUs > 0n && props.ConditionResult === 'no') return undefined;
  if (state === 'activating' || state === 'deactivating' || state === 'reloading') {
    const doing = phase?.trim() || 'generating the keys, certificates and the first ITL';
    const sofar = startedUs > 0n && nowUs >= startedUs ? seconds(nowUs - startedUs) : 0;
    return (
      `first boot is still running: ${doing} (${sofar} s so far; RSA key generation takes minutes on a slow CPU). ` +
      'This command works once it is done: "show status" then lists sbd-firstboot as active (exited).'
    );
  }
  if (state === 'failed') {
    return (
      `first boot failed (${props.Result || 'unknown'}): the keys, certificates or the first ITL are missing. ` +
      'Its output is on the console log of this boot (sbd-firstboot).'
    );
  }
  return (
    `first boot has not started yet: it waits for the network and the file systems (${seconds(nowUs)} s since start). ` +
    'This command works once it is done: "show status" then lists sbd-firstboot as active (exited).'
  );
}

export interface FirstBootProbeOptions {
  /** Where the first-boot script writes its phase (RuntimeDirectory= of the unit). Default /run/sbd-firstboot/phase. */
  phaseFile?: string;
  /** CLOCK_MONOTONIC now, in microseconds. Default: process.hrtime (libuv's monotonic clock). */
  nowUs?: () => bigint;
}

/** The first-boot line on this machine (undefined on a host without systemd or without the unit). */
export function firstBootProbe(systemd: Systemd, options: FirstBootProbeOptions = {}): () => string | undefined {
  const phaseFile = options.phaseFile ?? '/run/sbd-firstboot/phase';
  const nowUs = options.nowUs ?? (() => process.hrtime.bigint() / 1000n);
  return () => {
    if (!systemd.booted || !systemd.units().includes(FIRST_BOOT_UNIT)) return undefined;
    let phase: string | undefined;
    try {
      phase = readFileSync(phaseFile, 'utf8').split('\n')[0];
    } catch {
      phase = undefined;
    }
    let props: Record<string, string>;
    try {
      props = parseUnitShow(systemd.show(FIRST_BOOT_UNIT, FIRST_BOOT_PROPERTIES));
    } catch {
      // systemctl could not answer (early in boot, or under load): the script's own phase file still tells a
      // running first boot (it writes FIRST_BOOT_DONE last); without one, let the command run.
      if (phase === undefined || phase.trim() === FIRST_BOOT_DONE) return undefined;
      return firstBootMessage({ LoadState: 'loaded', ActiveState: 'activating' }, nowUs(), phase);
    }
    return firstBootMessage(props, nowUs(), phase === FIRST_BOOT_DONE ? undefined : phase);
  };
}
