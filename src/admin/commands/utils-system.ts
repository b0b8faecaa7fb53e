/**
 * `utils system restart|shutdown` (after a yes/no), and the firmware (issue 19 item 3):
 *   utils system upgrade FILE|URL   a signed RAUC bundle into the inactive slot (an http(s) URL is fetched first)
 *   show version active|inactive    the running version, and the one in the other slot
 *   utils system switch-version     the other slot boots next (counted: three failed tries come back), restart
 * RAUC checks the bundle's signature against the image's keyring; a refused bundle changes nothing.
 */
import type { AdminCommand, AdminIo } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import type { Systemd } from '../systemd.js';
import {
  bundleFile,
  FIRMWARE_PATHS,
  FirmwareError,
  FirmwareErrorCode,
  Rauc,
  slotVersions,
  type RaucOptions,
  type SlotVersion,
} from '../../firmware/index.js';
import { rmSync } from 'node:fs';

export interface FirmwareCommandOptions {
  rauc?: RaucOptions;
  /** The running root's version file. Default /usr/lib/sbd/firmware-version. */
  versionFile?: string;
  /** Slot records and downloads. Default /var/lib/sbd/firmware. */
  firmwareDir?: string;
}

function describe(v: SlotVersion): string {
  const state = [v.primary ? 'boots next' : '', v.bootStatus === 'bad' ? 'marked bad' : ''].filter(Boolean).join(', ');
  return `${v.version ?? 'none installed'} (slot ${v.bootname}${state ? `, ${state}` : ''})`;
}

export function systemCommands(systemd: Systemd, firmware: FirmwareCommandOptions = {}): AdminCommand[] {
  const rauc = new Rauc(firmware.rauc);
  const paths = {
    versionFile: firmware.versionFile ?? FIRMWARE_PATHS.versionFile,
    recordsDir: firmware.firmwareDir ?? FIRMWARE_PATHS.recordsDir,
  };
  const restartAfter = async (io: AdminIo, question: string): Promise<void> => {
    if (!(await io.confirm(question))) {
      io.out('Not restarted: the change takes effect at the next restart.');
      return;
    }
    io.out('Appliance is being restarted ...');
    systemd.power('reboot');
  };
  const power = (action: 'reboot' | 'poweroff', verb: string): AdminCommand => ({
    words: ['utils', 'system', action === 'reboot' ? 'restart' : 'shutdown'],
    params: '',
    summary: `${verb} the appliance (asks first)`,
    run: async (_args, io) => {
      if (!(await io.confirm(`Do you really want to ${verb} ?`))) {
        io.out(`${verb} cancelled`);
        return;
      }
      io.out(`Appliance is being ${action === 'reboot' ? 'restarted' : 'shut down'} ...`);
      systemd.power(action);
    },
  });
  return [
    power('reboot', 'restart'),
    power('poweroff', 'shut down'),
    {
      words: ['utils', 'system', 'upgrade'],
      params: 'FILE|URL',
      summary: 'install a signed firmware bundle into the inactive slot (a file, or http(s)://… fetched first)',
      minArgs: 1,
      maxArgs: 1,
      run: async (args, io) => {
        const before = slotVersions(await rauc.status(), paths);
        const { file, downloaded } = await bundleFile(args[0]!, { dir: paths.recordsDir });
        try {
          io.out(`Installing ${args[0]} into slot ${before.inactive?.bootname ?? '?'} (running: ${before.active.version}) ...`);
          await rauc.install(file);
        } finally {
          if (downloaded) rmSync(file, { force: true });
        }
        const after = slotVersions(await rauc.status(), paths);
        io.out(`Installed ${after.inactive ? describe(after.inactive) : 'into the inactive slot'}.`);
        await restartAfter(io, 'Restart now to run the new version?');
      },
    },
    {
      words: ['show', 'version'],
      params: 'active|inactive',
      summary: 'the firmware version running (active) or waiting in the other slot (inactive)',
      complete: () => ['active', 'inactive'],
      minArgs: 1,
      maxArgs: 1,
      run: async (args, io) => {
        const which = args[0]!.toLowerCase();
        if (which !== 'active' && which !== 'inactive') throw new AdminError(AdminErrorCode.args, 'usage: show version active|inactive');
        const v = slotVersions(await rauc.status(), paths);
        if (which === 'active') io.out(`Active version: ${describe(v.active)}`);
        else io.out(v.inactive ? `Inactive version: ${describe(v.inactive)}` : 'Inactive version: none (this image has one slot)');
      },
    },
    {
      words: ['utils', 'system', 'switch-version'],
      params: '',
      summary: 'boot the version in the inactive slot from the next restart (asks first, then restarts)',
      run: async (_args, io) => {
        const v = slotVersions(await rauc.status(), paths);
        if (!v.inactive?.version || v.inactive.bootStatus === 'bad') {
          throw new FirmwareError(FirmwareErrorCode.noOtherSlot, `slot ${v.inactive?.bootname ?? '?'} holds no good version to switch to`);
        }
        if (!(await io.confirm(`Switch from ${v.active.version} to ${v.inactive.version} and restart?`))) {
          io.out('switch-version cancelled');
          return;
        }
        await rauc.markActiveOther();
        io.out(`Slot ${v.inactive.bootname} (${v.inactive.version}) boots next. Appliance is being restarted ...`);
        systemd.power('reboot');
      },
    },
  ];
}
