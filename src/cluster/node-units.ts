/**
 * What a cluster command leaves running on the appliance (issue 21): after `migrate` the publisher, after `join` a
 * subscriber, after `promote` the new publisher works now and after every reboot with no extra step. The daemons'
 * environment file is written (`sbd cluster env`), the server the command started with pg_ctl is handed to
 * sbd-postgresql.service, sbd-clusterd is enabled and (re)started (publisher: it publishes; subscriber: it follows
 * the keys), and on a subscriber TFTP, TVS and SIP restart on the standby (they read the file at start) while CAPF,
 * which stays on the publisher, stops. Only on the appliance itself: systemd is init, sbd's units are installed and
 * the command used the units' PostgreSQL folder; elsewhere (a host, the tests' folders) nothing is touched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeNodeEnvironment } from './membership-env.js';
import { MembershipError, MembershipErrorCode, toolOutput } from './membership-errors.js';
import { isRunning, pgLayout, stopServer } from '../store/pg/replication-server.js';

/** The appliance's folders, as the units name them (sbd-postgresql.service, sbd.env, the daemons' EnvironmentFile). */
export const APPLIANCE_PATHS = {
  state: '/var/lib/sbd/state',
  pgDir: '/var/lib/postgresql/sbd',
  envFile: '/etc/sbd/cluster.env',
} as const;

/** The daemons that read the store: a subscriber's read its standby, so they restart once the env file is written. */
export const STORE_DAEMONS = ['sbd-tftpd', 'sbd-tvsd', 'sbd-sipd'] as const;

export interface NodeUnitsOptions {
  /** Default /usr/bin/systemctl. */
  systemctl?: string;
  /** Where sbd's units are installed. Default /usr/lib/systemd/system. */
  unitDir?: string;
  /** sd_booted(3)'s folder. Default /run/systemd/system. */
  bootedMarker?: string;
  /** The daemons' environment file. Default /etc/sbd/cluster.env. */
  envFile?: string;
}

export class NodeUnits {
  readonly #systemctl: string;
  readonly #unitDir: string;
  readonly #booted: string;
  readonly envFile: string;

  constructor(options: NodeUnitsOptions = {}) {
    this.#systemctl = options.systemctl ?? '/usr/bin/systemctl';
    this.#unitDir = options.unitDir ?? '/usr/lib/systemd/system';
    this.#booted = options.bootedMarker ?? '/run/systemd/system';
    this.envFile = options.envFile ?? APPLIANCE_PATHS.envFile;
  }

  /**
   * Why the units are not touched for a command on `pgDir`, or undefined when they are: root, systemd as init,
   * sbd-clusterd.service installed, and the folder sbd-postgresql.service runs.
   */
  notHere(pgDir: string): string | undefined {
    if (process.getuid?.() !== 0) return 'not run as root';
    if (!existsSync(this.#booted)) return 'systemd is not running on this machine';
    if (!existsSync(join(this.#unitDir, 'sbd-clusterd.service'))) return "sbd's units are not installed here";
    if (resolve(pgDir) !== APPLIANCE_PATHS.pgDir) return `sbd-postgresql.service runs ${APPLIANCE_PATHS.pgDir}, not ${resolve(pgDir)}`;
    return undefined;
  }

  /** Stops the daemons that hold the box's own store open (before `join` moves it aside). */
  stopStoreDaemons(): void {
    this.#run(['stop', ...STORE_DAEMONS.map((u) => `${u}.service`), 'sbd-capfd.service']);
  }

  /** Starts them again (a refused join: the box stays as it was). */
  startStoreDaemons(): void {
    this.#run(['start', ...STORE_DAEMONS.map((u) => `${u}.service`), 'sbd-capfd.service']);
  }

  /**
   * After migrate, join, promote or repoint: the node's units as its role needs them, from now and at every boot.
   * Returns one line per step done.
   */
  activate(stateDir: string, pgDir: string, role: 'publisher' | 'subscriber'): string[] {
    const done: string[] = [];
    const names = writeNodeEnvironment(stateDir, this.envFile);
    done.push(`${this.envFile}: ${names.join(', ')} (mode 0600)`);
    // The command started the server with pg_ctl; the unit takes it over (its conditions hold now: the data
    // folder and the env file exist). A server already under the unit stays (a rerun, a repoint's reload).
    const layout = pgLayout(pgDir);
    if (!this.#active('sbd-postgresql') && isRunning(layout)) {
      stopServer(layout, 'fast');
      done.push('PostgreSQL started by the command stopped, to run under sbd-postgresql.service');
    }
    this.#run(['enable', '--now', 'sbd-postgresql.service']);
    done.push('sbd-postgresql.service enabled and running');
    this.#run(['enable', 'sbd-clusterd.service']);
    // Restarted, not started: after a promotion the running key follower must start publishing.
    this.#run(['restart', 'sbd-clusterd.service']);
    done.push(
      `sbd-clusterd.service enabled and running (${role === 'publisher' ? 'publishes the store' : "follows the publisher's keys"})`,
    );
    if (role === 'subscriber') {
      this.#run(['stop', 'sbd-capfd.service']);
      this.#run(['restart', ...STORE_DAEMONS.map((u) => `${u}.service`)]);
      done.push(`${STORE_DAEMONS.join(', ')} restarted on this node's standby; sbd-capfd stopped (CAPF stays on the publisher)`);
    } else {
      // The publisher's daemons stay on its SQLite store; sbd-capfd runs again after a promotion rebuilt it.
      this.#run(['start', 'sbd-capfd.service']);
    }
    return done;
  }

  #active(unit: string): boolean {
    try {
      return execFileSync(this.#systemctl, ['is-active', `${unit}.service`], { encoding: 'utf8' }).trim() === 'active';
    } catch {
      return false;
    }
  }

  #run(args: string[]): void {
    try {
      execFileSync(this.#systemctl, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000 });
    } catch (err) {
      throw new MembershipError(MembershipErrorCode.units, `systemctl ${args.join(' ')} failed: ${toolOutput(err)}`, { cause: err });
    }
  }
}
