#!/usr/bin/env node
/**
 * Entry of the serial-console admin shell (the admin account's login shell runs it through sudo, see
 * rootfs/usr/lib/sbd/bin). Drops all of root to the state's owner (privilege.ts), then runs the `admin:` prompt.
 */
import { fileURLToPath } from 'node:url';
import { realpathSync } from 'node:fs';
import { adminTable } from './commands.js';
import { firstBootProbe } from './first-boot.js';
import { dropToServiceUser } from './privilege.js';
import { runShell } from './shell.js';
import { Systemd } from './systemd.js';

export interface AdminMainOptions {
  /** The state folder. Default $SBD_STATE, else /var/lib/sbd/state on the appliance (root), ./var on a host. */
  stateDir?: string;
  /** Where the history is kept. Default <state>/admin-history. */
  historyFile?: string;
}

export async function adminMain(options: AdminMainOptions = {}): Promise<void> {
  const privilege = dropToServiceUser(process.env.SBD_USER ?? 'sbd');
  const state = options.stateDir ?? process.env.SBD_STATE ?? (privilege.canRaise ? '/var/lib/sbd/state' : './var');
  const historyFile = options.historyFile ?? `${state}/admin-history`;
  const firstBoot = firstBootProbe(new Systemd(privilege));
  // Logins are accepted while first boot still runs: say so at once, not only when a store command is refused.
  const busy = firstBoot();
  await runShell({
    input: process.stdin,
    output: process.stdout,
    table: adminTable({ privilege, stateDir: state, firstBoot }),
    historyFile,
    banner: `sbd admin console. Type "help" for the commands, TAB to complete, "exit" to log out.${busy ? `\n${busy}` : ''}`,
  });
}

/** The process entry: `node main.js`, or the console's bundle (scripts/bundle.ts). */
export function runAdminMain(): void {
  adminMain().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`admin: ${(err as Error)?.message ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isEntry) runAdminMain();
