/** `utils system restart` and `utils system shutdown`: reboot or power off the appliance, after a yes/no. */
import type { AdminCommand } from '../command-table.js';
import type { Systemd } from '../systemd.js';

export function systemCommands(systemd: Systemd): AdminCommand[] {
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
  return [power('reboot', 'restart'), power('poweroff', 'shut down')];
}
