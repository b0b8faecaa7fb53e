/**
 * Which firmware version runs and which one waits in the other slot (`show version active|inactive`).
 * The running root names its own version (/usr/lib/sbd/firmware-version, written at image build). For the other
 * slot the data partition keeps a record per slot (<records>/<bootname>): written by the update's post-install
 * hook when RAUC fills the slot and by every boot for the slot it runs (so a factory slot is known once booted);
 * RAUC's own slot status (the installed bundle's version) is the fallback.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sbdVersion } from '../lib/version.js';
import { FirmwareError, FirmwareErrorCode } from './errors.js';
import type { RaucStatus, SlotInfo } from './rauc.js';

export const FIRMWARE_PATHS = {
  /** The running root's version, one line. */
  versionFile: '/usr/lib/sbd/firmware-version',
  /** Per-slot version records, the pre-upgrade backups and their passphrase (on the data partition). */
  recordsDir: '/var/lib/sbd/firmware',
} as const;

const SLOT_NAME = /^[a-z0-9]+$/;

/** The running firmware's version: its version file, else the app's package version. */
export function runningVersion(versionFile: string = FIRMWARE_PATHS.versionFile): string {
  try {
    const v = readFileSync(versionFile, 'utf8').split('\n')[0]!.trim();
    if (v) return v;
  } catch {
    /* a host run or an image from before firmware versions */
  }
  return sbdVersion();
}

export function recordedVersion(recordsDir: string, bootname: string): string | undefined {
  if (!SLOT_NAME.test(bootname)) return undefined;
  try {
    return readFileSync(join(recordsDir, bootname), 'utf8').split('\n')[0]!.trim() || undefined;
  } catch {
    return undefined;
  }
}

export function recordVersion(recordsDir: string, bootname: string, version: string): void {
  if (!SLOT_NAME.test(bootname)) throw new FirmwareError(FirmwareErrorCode.io, `bad slot name "${bootname}"`);
  try {
    mkdirSync(recordsDir, { recursive: true });
    const tmp = join(recordsDir, `${bootname}.tmp`);
    writeFileSync(tmp, `${version}\n`, { mode: 0o644 });
    renameSync(tmp, join(recordsDir, bootname));
  } catch (err) {
    throw new FirmwareError(
      FirmwareErrorCode.io,
      `cannot record the version of slot ${bootname} in ${recordsDir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

export interface SlotVersion {
  /** RAUC's slot name (rootfs.0) and the boot name (a). */
  slot: string;
  bootname: string;
  /** undefined: nothing known to be installed there. */
  version: string | undefined;
  bootStatus: string | undefined;
  /** True when the next boot starts this slot. */
  primary: boolean;
}

function rootSlots(status: RaucStatus): SlotInfo[] {
  return status.slots.filter((s) => s.class === 'rootfs' && s.bootname);
}

export function slotVersions(
  status: RaucStatus,
  paths: { versionFile?: string; recordsDir?: string } = {},
): { active: SlotVersion; inactive: SlotVersion | undefined } {
  const recordsDir = paths.recordsDir ?? FIRMWARE_PATHS.recordsDir;
  const slots = rootSlots(status);
  const booted = slots.find((s) => s.bootname === status.booted);
  if (!booted) throw new FirmwareError(FirmwareErrorCode.rauc, `RAUC does not know which slot runs (booted: ${status.booted ?? 'none'})`);
  const other = slots.find((s) => s !== booted);
  const view = (s: SlotInfo, version: string | undefined): SlotVersion => ({
    slot: s.name,
    bootname: s.bootname!,
    version,
    bootStatus: s.bootStatus,
    primary: status.bootPrimary === s.name,
  });
  return {
    active: view(booted, runningVersion(paths.versionFile)),
    inactive: other && view(other, recordedVersion(recordsDir, other.bootname!) ?? other.bundleVersion),
  };
}
