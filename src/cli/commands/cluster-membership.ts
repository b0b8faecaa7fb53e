/**
 * `sbd cluster migrate | add-node | remove-node | join | status | promote | repoint` (issue 21 items 3, 6, 7;
 * docs/cluster.md). The cluster security password comes from SBD_CLUSTER_PASSWORD, never the command line (it
 * would show in `ps`).
 */
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { systemClock } from '../../lib/clock.js';
import { UsageError } from '../../lib/errors.js';
import { addClusterNode, removeClusterNode } from '../../cluster/membership.js';
import { joinCluster, JOIN_DEFAULTS } from '../../cluster/membership-join.js';
import { clusterStatus, formatClusterStatus } from '../../cluster/membership-status.js';
import { writeNodeEnvironment } from '../../cluster/membership-env.js';
import { migrateToCluster } from '../../cluster/migrate.js';
import { promoteNode, repointSubscriber } from '../../cluster/promote.js';
import { NodeUnits } from '../../cluster/node-units.js';
import { readClusterNode } from '../../store/pg/cluster-node.js';
import type { CommandContext } from '../command.js';

const PG_PORT = 5432;

function hostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^([^:]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? PG_PORT : Number(m[2]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${flag} must be HOST[:PORT], got "${text}"`);
  return { host: m[1]!, port };
}

/**
 * On the appliance (node-units.ts: root, systemd, sbd's units, the units' PostgreSQL folder) the command leaves the
 * node's units as its role needs them, now and at every boot; elsewhere, or with --no-units, it says what is left.
 */
function leaveUnits(
  ctx: CommandContext,
  noUnits: boolean,
  stateDir: string,
  pgDir: string,
  role: 'publisher' | 'subscriber',
  hint: string,
): void {
  const units = new NodeUnits();
  const why = noUnits ? '--no-units' : units.notHere(pgDir);
  if (why) {
    ctx.out(`${hint} (units not changed: ${why})`);
    return;
  }
  for (const line of units.activate(stateDir, pgDir, role)) ctx.out(line);
}

function clusterPassword(): string {
  const p = process.env.SBD_CLUSTER_PASSWORD;
  if (!p) throw new UsageError('give the cluster security password in SBD_CLUSTER_PASSWORD');
  return p;
}

export const commands: Command[] = [
  {
    path: ['cluster', 'migrate'],
    summary: "make this single node the cluster's publisher: its PostgreSQL primary (initdb if new), schema, publish",
    usage:
      'sbd cluster migrate --state DIR --pg-dir DIR [--listen HOST[:PORT]] [--no-units]   (password in SBD_CLUSTER_PASSWORD;\n' +
      '  on the appliance it then writes /etc/sbd/cluster.env, hands the server to sbd-postgresql and enables sbd-clusterd)',
    async run(args, ctx) {
      const { values } = parse(
        args,
        { state: { type: 'string' }, 'pg-dir': { type: 'string' }, listen: { type: 'string' }, 'no-units': { type: 'boolean' } },
        false,
      );
      const listen = values.listen === undefined ? undefined : hostPort(values.listen, '--listen');
      const r = await migrateToCluster({
        stateDir: required(values.state, '--state'),
        pgDir: required(values['pg-dir'], '--pg-dir'),
        password: clusterPassword(),
        listen,
        clock: systemClock,
      });
      ctx.out(`${r.node} is the publisher${r.initialised ? ' (new PostgreSQL data folder)' : ''}`);
      ctx.out(`published ${r.nodes} nodes, ${r.certificates} certificates, ${r.params} parameters; generation ${r.generation}`);
      leaveUnits(
        ctx,
        values['no-units'] === true,
        values.state!,
        values['pg-dir']!,
        'publisher',
        'Start sbd-clusterd (sbd daemon clusterd) so later changes are published',
      );
      return 0;
    },
  },
  {
    path: ['cluster', 'add-node'],
    summary: 'on the publisher: allow a subscriber to join (node row, replication role, pg_hba line)',
    usage:
      'sbd cluster add-node NAME --ip A [--hostname H] [--allow-from CIDR] [--pg-port N] [--services tftp,tvs,sip,callmanager] --state DIR',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        state: { type: 'string' },
        ip: { type: 'string' },
        hostname: { type: 'string' },
        'allow-from': { type: 'string' },
        'pg-port': { type: 'string' },
        services: { type: 'string' },
      });
      const name = required(positionals[0], 'NAME');
      const r = await addClusterNode({
        stateDir: required(values.state, '--state'),
        name,
        ipv4: required(values.ip, '--ip'),
        hostname: values.hostname,
        allowFrom: values['allow-from'],
        pgPort: intOption(values['pg-port'], '--pg-port', PG_PORT, 1, 65535),
        services: values.services?.split(',').filter(Boolean),
      });
      ctx.out(`node ${name} added: replication role ${r.role}; generation ${r.generation}`);
      ctx.out(
        `On ${name}: SBD_CLUSTER_PASSWORD=... sbd cluster join --publisher ADDRESS --name ${name} --state DIR --pg-dir DIR --listen A`,
      );
      return 0;
    },
  },
  {
    path: ['cluster', 'remove-node'],
    summary: 'on the publisher: remove a subscriber (sessions ended, slot, role and pg_hba line dropped, services cleared)',
    usage: 'sbd cluster remove-node NAME --state DIR',
    async run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' } });
      const name = required(positionals[0], 'NAME');
      const r = await removeClusterNode(required(values.state, '--state'), name);
      ctx.out(`node ${name} removed${r.slotDropped ? ' (replication slot dropped)' : ''}; generation ${r.generation}`);
      return 0;
    },
  },
  {
    path: ['cluster', 'join'],
    summary: 'on a new box: join the cluster as a subscriber (base backup, TLS streaming, own keys, certificates published)',
    usage:
      'sbd cluster join --publisher HOST[:PORT] --name NAME --state DIR --pg-dir DIR --listen HOST[:PORT] [--hostname H] [--ip A] [--wait SECONDS] [--set-aside-store] [--no-units]   (password in SBD_CLUSTER_PASSWORD;\n' +
      '  on the appliance it then writes /etc/sbd/cluster.env, runs the standby under sbd-postgresql, enables sbd-clusterd, restarts TFTP, TVS, SIP;\n' +
      '  --set-aside-store: a box whose first boot made a store joins once the publisher admits it, its store and keys moved to DIR/pre-join-<time>/)',
    async run(args, ctx) {
      const { values } = parse(
        args,
        {
          publisher: { type: 'string' },
          name: { type: 'string' },
          state: { type: 'string' },
          'pg-dir': { type: 'string' },
          listen: { type: 'string' },
          hostname: { type: 'string' },
          ip: { type: 'string' },
          wait: { type: 'string' },
          'set-aside-store': { type: 'boolean' },
          'no-units': { type: 'boolean' },
        },
        false,
      );
      const stateDir = required(values.state, '--state');
      const pgDir = required(values['pg-dir'], '--pg-dir');
      const noUnits = values['no-units'] === true;
      // On the appliance the box's daemons hold its first-boot store open: stopped before join moves it aside,
      // started again when the publisher refuses (the box stays as it was).
      const units = new NodeUnits();
      const stop = !noUnits && values['set-aside-store'] === true && units.notHere(pgDir) === undefined;
      if (stop) units.stopStoreDaemons();
      const r = await joinCluster({
        stateDir,
        pgDir,
        name: required(values.name, '--name'),
        password: clusterPassword(),
        publisher: hostPort(required(values.publisher, '--publisher'), '--publisher'),
        listen: hostPort(required(values.listen, '--listen'), '--listen'),
        hostname: values.hostname,
        ipv4: values.ip,
        clock: systemClock,
        waitSeconds: intOption(values.wait, '--wait', JOIN_DEFAULTS.waitSeconds, 1, 3600),
        setAsideStore: values['set-aside-store'] === true,
      }).catch((err: unknown) => {
        if (stop && !readClusterNode(stateDir)) units.startStoreDaemons();
        throw err;
      });
      if (r.setAside) ctx.out(`this box's own store and keys were moved to ${r.setAside} (kept, not part of the cluster)`);
      ctx.out(`joined: publisher ${r.publisher}, streaming over TLS (slot ${r.slot})`);
      ctx.out(
        `this node's ${r.certificates.join(' and ')} certificates are in the store (generation ${r.generation}); their keys stay here`,
      );
      if (r.keys.includes('sip-phone'))
        ctx.out("the publisher's phone-password key is installed: configs served here deliver digest passwords");
      else
        ctx.err(
          'warning: the publisher has no phone-password key on record (is sbd-clusterd running there?): configs served here carry no digest passwords until sbd-clusterd here installs it',
        );
      if (r.keys.includes('sip-trunk')) ctx.out("the publisher's trunk-password key is installed: SIP here answers trunks' challenges");
      leaveUnits(
        ctx,
        noUnits,
        stateDir,
        pgDir,
        'subscriber',
        'Start sbd-clusterd here too (sbd daemon clusterd): it installs the keys the publisher changes later',
      );
      return 0;
    },
  },
  {
    path: ['cluster', 'status'],
    summary: "every node's role, address, replication state and lag, services (from this node's PostgreSQL)",
    usage: 'sbd cluster status --state DIR',
    async run(args, ctx) {
      const { values } = parse(args, { state: { type: 'string' } }, false);
      for (const line of formatClusterStatus(await clusterStatus(required(values.state, '--state')))) ctx.out(line);
      return 0;
    },
  },
  {
    path: ['cluster', 'env'],
    summary: "write the environment file this node's daemons read the cluster store with (mode 0600)",
    usage: 'sbd cluster env --state DIR --out FILE   (e.g. /etc/sbd/cluster.env: SBD_STORE_URL, PGPASSWORD, SBD_PRIMARY_URL ...)',
    run(args, ctx) {
      const { values } = parse(args, { state: { type: 'string' }, out: { type: 'string' } }, false);
      const out = required(values.out, '--out');
      const names = writeNodeEnvironment(required(values.state, '--state'), out);
      ctx.out(`${out}: ${names.join(', ')} (mode 0600)`);
      return 0;
    },
  },
  {
    path: ['cluster', 'promote'],
    summary: 'on a subscriber, with the publisher gone: become the publisher (pg_promote, SQLite rebuilt from PostgreSQL)',
    usage: 'sbd cluster promote --state DIR [--force] [--no-units]   (--force: skip the check that the old publisher is unreachable)',
    async run(args, ctx) {
      const { values } = parse(args, { state: { type: 'string' }, force: { type: 'boolean' }, 'no-units': { type: 'boolean' } }, false);
      const stateDir = required(values.state, '--state');
      const r = await promoteNode(stateDir, { force: values.force === true });
      ctx.out(
        `${r.node} is the publisher (was ${r.oldPublisher}); imported ${r.nodes} nodes, ${r.certificates} certificates, ${r.params} parameters, ${r.devices} devices`,
      );
      ctx.out(
        `slots for the other subscribers: ${r.slots.join(', ') || 'none'}; on each: sbd cluster repoint --publisher THIS_ADDRESS --state DIR`,
      );
      ctx.out('Lost with the old publisher: its keys (ITLRecovery, CAPF): see docs/cluster.md "Promotion".');
      leaveUnits(
        ctx,
        values['no-units'] === true,
        stateDir,
        readClusterNode(stateDir)!.pg.dir,
        'publisher',
        'Restart sbd-clusterd here (systemctl restart sbd-clusterd): it publishes now, instead of following the keys',
      );
      return 0;
    },
  },
  {
    path: ['cluster', 'repoint'],
    summary: 'on a subscriber after a promotion: stream from the new publisher',
    usage: 'sbd cluster repoint --publisher HOST[:PORT] --state DIR',
    async run(args, ctx) {
      const { values } = parse(args, { publisher: { type: 'string' }, state: { type: 'string' } }, false);
      const r = await repointSubscriber(
        required(values.state, '--state'),
        hostPort(required(values.publisher, '--publisher'), '--publisher'),
      );
      ctx.out(`following ${r.publisher} (${r.roots} node certificates trusted)`);
      return 0;
    },
  },
];
