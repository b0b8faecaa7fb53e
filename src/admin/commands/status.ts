/**
 * `show status`: the appliance at a glance — host, versions, the sbd services with their systemd state, whether
 * each service's port has a listening socket, and which TLS path its TLS listener uses (issue 20): node:tls
 * (`node`), the C engine (`engine`) or the engine with kernel TLS (`engine+ktls`), as the daemon wrote it in its
 * systemd STATUS line (`…, TLS: <path>`, src/daemons/*d.ts). sbd-sipd's trunk dial-out takes its listener's path
 * (node:tls, or the engine without kTLS: docs/tls.md "The trunk dial-out over the engine").
 */
import { readFileSync } from 'node:fs';
import { hostname, release, uptime } from 'node:os';
import type { AdminCommand } from '../command-table.js';
import type { Systemd } from '../systemd.js';
import { listeningSockets } from '../listening.js';
import { sbdVersion } from '../../lib/version.js';

/** The services' ports as configured in the environment file the units read (rootfs/etc/sbd/sbd.env). */
export const servicePorts: Record<string, { proto: 'udp' | 'tcp'; env: string; fallback: number }> = {
  'sbd-tftpd': { proto: 'udp', env: 'SBD_TFTP_PORT', fallback: 69 },
  'sbd-tvsd': { proto: 'tcp', env: 'SBD_TVS_PORT', fallback: 2445 },
  'sbd-capfd': { proto: 'tcp', env: 'SBD_CAPF_PORT', fallback: 3804 },
  'sbd-sipd': { proto: 'udp', env: 'SBD_SIP_PORT', fallback: 5060 },
  'sbd-mediad': { proto: 'udp', env: 'SBD_MEDIA_PORT', fallback: 16384 },
};

export function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return env;
  }
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.trim().replace(/^"(.*)"$/, '$1');
  }
  return env;
}

/** The TLS path a daemon's STATUS line names (`TLS: engine+ktls`), or '-' when it names none. */
export function tlsPathOf(statusText: string): string {
  return /\bTLS: ([a-z+]+)/.exec(statusText)?.[1] ?? '-';
}

function firstLine(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${d > 0 ? `${d}d ` : ''}${h}h ${m}m`;
}

export function statusCommands(systemd: Systemd, envFile = '/etc/sbd/sbd.env'): AdminCommand[] {
  return [
    {
      words: ['show', 'status'],
      params: '',
      summary: 'host, versions, services and their ports',
      run: (_args, io) => {
        const env = readEnvFile(envFile);
        const lines = [
          `Host Name     : ${hostname()}`,
          `Uptime        : ${duration(uptime())}`,
          `sbd version   : ${sbdVersion()}`,
          `Node.js       : ${process.versions.node}`,
          `OpenSSL       : ${process.versions.openssl}`,
          `Kernel        : ${release()}`,
          `Debian        : ${firstLine('/etc/debian_version')}`,
          '',
        ];
        if (!systemd.booted) {
          lines.push('Services      : systemd is not running on this machine (host mode)');
          io.out(lines.join('\n'));
          return;
        }
        const listening = listeningSockets();
        const rows = systemd.units().map((unit) => {
          const s = systemd.state(unit);
          const port = servicePorts[unit];
          let portText = '-';
          if (port) {
            const n = Number(env[port.env] ?? port.fallback);
            const up = listening.some((l) => l.proto === port.proto && l.port === n);
            portText = `${n}/${port.proto} ${up ? 'listening' : 'closed'}`;
          }
          const tls = s.activeState === 'active' ? tlsPathOf(s.statusText) : '-';
          return [unit, `${s.activeState} (${s.subState})`, s.mainPid > 0 ? String(s.mainPid) : '-', String(s.restarts), portText, tls];
        });
        const head = ['Service', 'State', 'PID', 'Restarts', 'Port', 'TLS'];
        const all = [head, ...rows];
        const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
        lines.push(
          ...all.map((r) =>
            r
              .map((c, i) => c.padEnd(widths[i]!))
              .join('  ')
              .trimEnd(),
          ),
        );
        if (rows.length === 0) lines.push('(no sbd services in this image)');
        io.out(lines.join('\n'));
      },
    },
  ];
}
