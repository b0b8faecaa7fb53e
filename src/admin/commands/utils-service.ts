/** `utils service restart NAME` and `utils service list`: sbd's daemons under systemd. */
import type { AdminCommand } from '../command-table.js';
import type { Systemd } from '../systemd.js';

export function serviceCommands(systemd: Systemd): AdminCommand[] {
  return [
    {
      words: ['utils', 'service', 'restart'],
      params: 'NAME',
      summary: 'restart one sbd service (e.g. sbd-tftpd)',
      minArgs: 1,
      maxArgs: 1,
      complete: () => systemd.daemons(),
      run: (args, io) => {
        const unit = systemd.resolve(args[0]!);
        io.out(`Restarting ${unit} ...`);
        const s = systemd.restart(unit);
        io.out(`${unit}: ${s.activeState} (${s.subState}), pid ${s.mainPid}`);
      },
    },
    {
      words: ['utils', 'service', 'list'],
      params: '',
      summary: 'list the sbd services and their state',
      run: (_args, io) => {
        const units = systemd.daemons();
        if (units.length === 0) {
          io.out('(no sbd services in this image)');
          return;
        }
        io.out(units.map((u) => `${u}: ${systemd.state(u).activeState}`).join('\n'));
      },
    },
  ];
}
