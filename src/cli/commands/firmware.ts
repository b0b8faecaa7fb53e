/**
 * `sbd firmware prepare-store`: the store's step on every boot of the appliance, before the daemons open it
 * (sbd-store-upgrade.service): on the first boot of a new firmware version an encrypted backup of the store as
 * it is, then its forward migration (src/firmware/store-upgrade.ts). The running slot comes from the kernel
 * command line's `sbd.slot=` (docs/firmware-update.md).
 */
import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { FIRMWARE_PATHS, prepareStore, runningVersion } from '../../firmware/index.js';

/** The `sbd.slot=` of a kernel command line, if any. */
export function slotFromCmdline(cmdline: string): string | undefined {
  return /(?:^|\s)sbd\.slot=([a-z0-9]+)(?:\s|$)/.exec(cmdline)?.[1];
}

export const commands: Command[] = [
  {
    path: ['firmware', 'prepare-store'],
    summary: "before the daemons start: on a new firmware version's first boot, back the store up, then migrate it",
    usage:
      'sbd firmware prepare-store --state DIR [--firmware-dir DIR (default /var/lib/sbd/firmware)]\n' +
      '  [--version-file FILE (default /usr/lib/sbd/firmware-version)] [--slot NAME (default: sbd.slot= of /proc/cmdline)]',
    async run(args, ctx) {
      const { values } = parse(
        args,
        { state: { type: 'string' }, 'firmware-dir': { type: 'string' }, 'version-file': { type: 'string' }, slot: { type: 'string' } },
        false,
      );
      let slot = values.slot;
      if (slot === undefined) {
        try {
          slot = slotFromCmdline(readFileSync('/proc/cmdline', 'utf8'));
        } catch {
          /* no /proc: no slot to record */
        }
      }
      const version = runningVersion(values['version-file'] ?? FIRMWARE_PATHS.versionFile);
      const r = await prepareStore({
        stateDir: required(values.state, '--state'),
        firmwareDir: values['firmware-dir'] ?? FIRMWARE_PATHS.recordsDir,
        version,
        slot,
      });
      if (r.action === 'upgraded') {
        ctx.out(`firmware ${version}: store of ${r.fromVersion} backed up to ${r.backup}, schema ${r.schemaBefore} -> ${r.schemaAfter}`);
      } else {
        ctx.out(`firmware ${version}${slot ? ` (slot ${slot})` : ''}: ${r.action === 'none' ? 'no store yet' : 'store already prepared'}`);
      }
      return 0;
    },
  },
];
