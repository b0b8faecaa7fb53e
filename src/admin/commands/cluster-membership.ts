/**
 * The whole cluster procedure on the admin console (issue 21 item 3), in the console's words: utils cluster
 * migrate | join | repoint, set network cluster subscriber details | delete (CUCM's word for adding a subscriber;
 * the table of words and what each runs is in docs/cluster.md). The console runs as `sbd`; these need root, so each
 * runs `sbd cluster appliance VERB ...` through the shell's privilege (`sudo -n`, the one entry
 * rootfs/etc/sudoers.d/sbd-admin allows for them), the cluster security password typed without echo and handed over
 * on standard input. Errors come back as the command's one line with its code (a subscriber says where the
 * publisher is; a node not added or a wrong password: ERR_CLUSTER_NOT_ALLOWED).
 */
import { spawn } from 'node:child_process';
import type { AdminCommand, AdminIo } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import type { Privilege } from '../privilege.js';
import { SbdError } from '../../lib/errors.js';
import { readClusterNode } from '../../store/pg/cluster-node.js';
import { openStore } from '../../store/index.js';
import { stateLayout } from '../../store/state.js';

export interface ClusterCliOptions {
  /** The `sbd` command line (an absolute path: sudoers names it). Default ['/usr/bin/sbd']. */
  sbd?: readonly string[];
  /** Extra environment for it (tests: other folders; sudo drops it on the appliance). */
  env?: Record<string, string>;
}

const MIN_PASSWORD = 8;

/** Runs `sbd cluster appliance ARGS` as root; its output lines go to the console as they come. */
export function runAsRoot(privilege: Privilege, cli: ClusterCliOptions, args: string[], io: AdminIo, stdin = ''): Promise<void> {
  if (!privilege.canRaise)
    throw new AdminError(AdminErrorCode.notPermitted, 'the cluster commands need root: run the admin shell through its login');
  const [file, ...pre] = cli.sbd ?? ['/usr/bin/sbd'];
  const cmd = privilege.asRoot(file!, [...pre, 'cluster', 'appliance', ...args]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.file, cmd.args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...cli.env } });
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) io.out(l);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => reject(new AdminError(AdminErrorCode.system, `cannot run ${cmd.file}: ${err.message}`, { cause: err })));
    child.on('close', (code) => {
      if (pending) io.out(pending);
      if (code === 0) return resolve();
      reject(failure(stderr, code));
    });
    child.stdin.on('error', () => {
      /* the command ended before reading: its exit says why */
    });
    child.stdin.end(stdin);
  });
}

/** The command's error line as the console's one line: its message and code, without the program's prefix. */
function failure(stderr: string, code: number | null): Error {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const last = lines.find((l) => /^sbd cluster appliance: /.test(l)) ?? lines.at(-1) ?? `exit ${code}`;
  const m = /^sbd cluster appliance: (.*) \[(ERR_[A-Z0-9_]+)\]$/.exec(last);
  if (m) return new SbdError(m[2]!, m[1]!);
  if (/^sudo: /.test(last)) return new AdminError(AdminErrorCode.notPermitted, `not allowed to run the cluster command as root (${last})`);
  return new AdminError(AdminErrorCode.system, last.replace(/^sbd cluster appliance: /, ''));
}

/** The cluster security password, asked without echo (twice when it is being set). */
async function askPassword(io: AdminIo, twice: boolean): Promise<string> {
  const p = await io.secret('Cluster security password: ');
  if (p.length < MIN_PASSWORD)
    throw new AdminError(AdminErrorCode.args, `the cluster security password has at least ${MIN_PASSWORD} characters`);
  if (/[\r\n]/.test(p)) throw new AdminError(AdminErrorCode.args, 'the cluster security password is one line');
  if (twice && (await io.secret('Cluster security password (again): ')) !== p)
    throw new AdminError(AdminErrorCode.args, 'the two passwords differ; nothing changed');
  return p;
}

/** What the box's own store holds, for the question before a join sets it aside. */
function ownStore(stateDir: string): string {
  try {
    const store = openStore(stateLayout(stateDir).dbPath, { create: false, readonly: true });
    try {
      return `${store.listDevices().length} phones and ${store.listUsers().length} users`;
    } finally {
      store.close();
    }
  } catch {
    return '';
  }
}

export function clusterMembershipCommands(stateDir: string, privilege: Privilege, cli: ClusterCliOptions = {}): AdminCommand[] {
  const root = (args: string[], io: AdminIo, stdin?: string) => runAsRoot(privilege, cli, args, io, stdin);
  return [
    {
      words: ['utils', 'cluster', 'migrate'],
      params: '',
      summary: "make this single node the cluster's publisher (asks the cluster security password twice)",
      run: async (_args, io) => {
        const node = readClusterNode(stateDir);
        if (node?.role === 'subscriber')
          throw new AdminError(
            AdminErrorCode.args,
            `this node (${node.node}) is a subscriber of ${node.publisher.name} (${node.publisher.host}): migrate runs on the single node that becomes the publisher`,
          );
        const question = node
          ? 'This node is already the publisher: apply the cluster settings and publish again?'
          : 'Make this node the publisher of a cluster? Its store stays here and is published to a PostgreSQL primary on this node; subscribers join it with the cluster security password.';
        if (!(await io.confirm(question))) {
          io.out('cancelled');
          return;
        }
        const password = await askPassword(io, !node);
        await root(['migrate'], io, `${password}\n`);
      },
    },
    {
      words: ['set', 'network', 'cluster', 'subscriber', 'details'],
      params: 'NAME ADDRESS[:PGPORT] [CIDR]',
      summary: 'on the publisher: allow a subscriber to join (CIDR: where it connects from, default ADDRESS/32)',
      minArgs: 2,
      maxArgs: 3,
      run: (args, io) => root(['add-node', ...args], io),
    },
    {
      words: ['set', 'network', 'cluster', 'subscriber', 'delete'],
      params: 'NAME',
      summary: 'on the publisher: remove a subscriber (its replication ends; asks first)',
      minArgs: 1,
      maxArgs: 1,
      run: async (args, io) => {
        if (!(await io.confirm(`Remove node ${args[0]} from the cluster? Its replication ends and no trust list names it any more.`))) {
          io.out('cancelled');
          return;
        }
        await root(['remove-node', args[0]!], io);
      },
    },
    {
      words: ['utils', 'cluster', 'join'],
      params: 'PUBLISHER[:PORT] NAME [ADDRESS[:PGPORT]]',
      summary: 'join this box to a cluster as subscriber NAME (added on the publisher first; asks the password)',
      minArgs: 2,
      maxArgs: 3,
      run: async (args, io) => {
        const node = readClusterNode(stateDir);
        if (node)
          throw new AdminError(
            AdminErrorCode.args,
            node.role === 'publisher'
              ? `this node (${node.node}) is the publisher of its cluster: a publisher does not join another`
              : `this node (${node.node}) is already a subscriber of ${node.publisher.name} (${node.publisher.host}); after a promotion use "utils cluster repoint"`,
          );
        const holds = ownStore(stateDir);
        const question = `Join the cluster of ${args[0]} as ${args[1]}? This box's own store${holds ? ` (${holds})` : ''} is set aside, kept but no longer served; its services then serve the publisher's store.`;
        if (!(await io.confirm(question))) {
          io.out('cancelled');
          return;
        }
        const password = await askPassword(io, false);
        io.out('Joining (base backup, keys, certificates; this takes a few minutes) ...');
        await root(['join', ...args], io, `${password}\n`);
      },
    },
    {
      words: ['utils', 'cluster', 'repoint'],
      params: 'PUBLISHER[:PORT]',
      summary: 'on a subscriber, after another node was promoted: stream from the new publisher',
      minArgs: 1,
      maxArgs: 1,
      run: (args, io) => root(['repoint', args[0]!], io),
    },
  ];
}
