/**
 * Every admin command group, in one table. Groups whose backing functions are not in the build yet are not
 * listed (no command without a real implementation behind it).
 */
import { type AdminCommand, CommandTable } from './command-table.js';
import { FirstBootPendingError, firstBootProbe } from './first-boot.js';
import type { Privilege } from './privilege.js';
import { Systemd, type SystemdOptions } from './systemd.js';
import { statusCommands } from './commands/status.js';
import { serviceCommands } from './commands/utils-service.js';
import { systemCommands, type FirmwareCommandOptions } from './commands/utils-system.js';
import { trustCommands } from './commands/trust.js';
import { paramCommands } from './commands/params.js';
import { clusterSecurityCommands } from './commands/cluster-security.js';
import { clusterNodeCommands } from './commands/cluster-nodes.js';
import { type ClusterCliOptions, clusterMembershipCommands } from './commands/cluster-membership.js';
import { reportCommands } from './commands/reports.js';
import { disasterRecoveryCommands } from './commands/disaster-recovery.js';
import { phoneCommands } from './commands/phones.js';
import { deviceCommands } from './commands/devices.js';
import { securityProfileCommands } from './commands/security-profiles.js';
import { trustStoreCommands } from './commands/trust-store.js';
import { appUserCommands } from './commands/app-users.js';
import { cmGroupCommands } from './commands/cm-groups.js';
import { systemClock, type Clock } from '../lib/clock.js';

export interface AdminContext {
  privilege: Privilege;
  systemd?: SystemdOptions;
  /** The units' environment file. Default /etc/sbd/sbd.env. */
  envFile?: string;
  /** The appliance state folder (store + keys). Default /var/lib/sbd/state. */
  stateDir?: string;
  clock?: Clock;
  /**
   * undefined once first boot is done, else the line the store commands answer with (first-boot.ts). Default:
   * sbd-firstboot.service's state through systemd (nothing on a host).
   */
  firstBoot?: () => string | undefined;
  /** RAUC and the firmware paths behind `utils system upgrade|switch-version`, `show version` (defaults: the image's). */
  firmware?: FirmwareCommandOptions;
  /** The `sbd` command line the cluster words run as root (default /usr/bin/sbd), and its extra environment. */
  cluster?: ClusterCliOptions;
}

/** Store commands wait for first boot: before it is done the store is missing or half made. */
function afterFirstBoot(commands: AdminCommand[], firstBoot: () => string | undefined): AdminCommand[] {
  return commands.map((c) => ({
    ...c,
    run: (args, io) => {
      const busy = firstBoot();
      if (busy) throw new FirstBootPendingError(busy);
      return c.run(args, io);
    },
  }));
}

export function adminTable(ctx: AdminContext): CommandTable {
  const systemd = new Systemd(ctx.privilege, ctx.systemd);
  const state = ctx.stateDir ?? '/var/lib/sbd/state';
  const clock = ctx.clock ?? systemClock;
  const firstBoot = ctx.firstBoot ?? firstBootProbe(systemd);
  return new CommandTable([
    ...statusCommands(systemd, ctx.envFile),
    ...serviceCommands(systemd),
    ...systemCommands(systemd, ctx.firmware),
    ...afterFirstBoot(
      [
        ...trustCommands(state, clock),
        ...paramCommands(state),
        ...clusterSecurityCommands(state, clock),
        ...clusterNodeCommands(state, ctx.privilege, ctx.cluster),
        ...clusterMembershipCommands(state, ctx.privilege, ctx.cluster),
        ...reportCommands(state),
        ...disasterRecoveryCommands(state, { systemd }),
        ...phoneCommands(state),
        ...deviceCommands(state),
        ...cmGroupCommands(state),
        ...securityProfileCommands(state),
        ...trustStoreCommands(state),
        ...appUserCommands(state),
      ],
      firstBoot,
    ),
  ]);
}
