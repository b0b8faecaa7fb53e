/**
 * `sbd cluster appliance migrate | add-node | remove-node | join | repoint | promote`: the admin console's cluster
 * words run as root (src/admin/commands/cluster-membership.ts), through the one sudoers entry the state's owner `sbd`
 * has for them (rootfs/etc/sudoers.d/sbd-admin). Least privilege: no path, flag or environment variable of the
 * caller is taken; the folders are the appliance's (APPLIANCE_PATHS); names and addresses are checked here (a node
 * name becomes a word of the units' command lines); the cluster security password is read from standard input
 * (never argv or the environment). Run as root without sudo (tests, root's shell), SBD_STATE, SBD_PG_DIR,
 * SBD_CLUSTER_ENV and SBD_PG_LISTEN_PORT may name other folders and the port; under sudo (SUDO_UID set) they are not.
 */
import { isIPv4 } from 'node:net';
import type { Command, CommandContext } from '../command.js';
import { systemClock } from '../../lib/clock.js';
import { addClusterNode, removeClusterNode } from '../../cluster/membership.js';
import { joinCluster } from '../../cluster/membership-join.js';
import { MembershipError, MembershipErrorCode } from '../../cluster/membership-errors.js';
import { migrateToCluster } from '../../cluster/migrate.js';
import { APPLIANCE_PATHS, NodeUnits } from '../../cluster/node-units.js';
import { promoteNode, repointSubscriber } from '../../cluster/promote.js';
import { openStore } from '../../store/index.js';
import { stateLayout } from '../../store/state.js';
import { readClusterNode } from '../../store/pg/cluster-node.js';

const PG_PORT = 5432;
/** How long join waits for its certificates to come back (an emulated guest needs minutes). */
const JOIN_WAIT_SECONDS = 600;

interface Paths {
  state: string;
  pgDir: string;
  envFile: string;
  port: number;
}

function paths(): Paths {
  const e = process.env;
  if (e.SUDO_UID !== undefined)
    return { state: APPLIANCE_PATHS.state, pgDir: APPLIANCE_PATHS.pgDir, envFile: APPLIANCE_PATHS.envFile, port: PG_PORT };
  return {
    state: e.SBD_STATE ?? APPLIANCE_PATHS.state,
    pgDir: e.SBD_PG_DIR ?? APPLIANCE_PATHS.pgDir,
    envFile: e.SBD_CLUSTER_ENV ?? APPLIANCE_PATHS.envFile,
    port: e.SBD_PG_LISTEN_PORT ? Number(e.SBD_PG_LISTEN_PORT) : PG_PORT,
  };
}

function bad(message: string): MembershipError {
  return new MembershipError(MembershipErrorCode.input, message);
}

/** A node name: it becomes a word of the units' command lines and part of a PostgreSQL role name. */
export function checkNodeName(name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9-]{0,31}$/.test(name))
    throw bad(`node name "${name}": a letter, then letters, digits or "-" (at most 32 characters, no spaces)`);
  return name;
}

/** ADDRESS[:PORT] with an IPv4 address (the cluster's nodes are named by address). */
export function checkAddress(text: string, what: string, defaultPort = PG_PORT): { host: string; port: number } {
  const m = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || !isIPv4(m[1]!) || port < 1 || port > 65535) throw bad(`${what} "${text}": an IPv4 address, optionally :PORT`);
  return { host: m[1]!, port };
}

function checkCidr(text: string): string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIPv4(m[1]!) || Number(m[2]) > 32) throw bad(`"${text}" is not an IPv4 network (ADDRESS/BITS)`);
  return text;
}

/** The cluster security password: the first line of standard input. */
async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const line = Buffer.concat(chunks).toString('utf8').split('\n')[0]!.replace(/\r$/, '');
  if (!line) throw bad('no cluster security password on standard input');
  return line;
}

function args(list: string[], min: number, max: number, usage: string): string[] {
  if (list.length < min || list.length > max) throw bad(`usage: sbd cluster appliance ${usage}`);
  return list;
}

/** The box's own address as its first boot recorded it (the node row of its own store), if it has one. */
function ownAddress(state: string): string | undefined {
  try {
    const store = openStore(stateLayout(state).dbPath, { create: false, readonly: true });
    try {
      return store.listNodes().find((n) => n.isPublisher)?.ipv4 ?? undefined;
    } finally {
      store.close();
    }
  } catch {
    return undefined;
  }
}

function activate(ctx: CommandContext, p: Paths, role: 'publisher' | 'subscriber'): void {
  const units = new NodeUnits({ envFile: p.envFile });
  const why = units.notHere(p.pgDir);
  if (why) {
    ctx.out(`units not changed (${why})`);
    return;
  }
  for (const line of units.activate(p.state, p.pgDir, role)) ctx.out(line);
}

const VERBS: Record<string, (list: string[], ctx: CommandContext, p: Paths) => Promise<void>> = {
  async migrate(list, ctx, p) {
    args(list, 0, 0, 'migrate');
    const r = await migrateToCluster({
      stateDir: p.state,
      pgDir: p.pgDir,
      password: await passwordFromStdin(),
      listen: { port: p.port },
      clock: systemClock,
    });
    ctx.out(`${r.node} is the publisher${r.initialised ? ' (new PostgreSQL data folder)' : ''}`);
    ctx.out(`published ${r.nodes} nodes, ${r.certificates} certificates, ${r.params} parameters; generation ${r.generation}`);
    activate(ctx, p, 'publisher');
  },
  async 'add-node'(list, ctx, p) {
    const [name, address, cidr] = args(list, 2, 3, 'add-node NAME ADDRESS[:PGPORT] [CIDR]');
    const at = checkAddress(address!, 'node address');
    const r = await addClusterNode({
      stateDir: p.state,
      name: checkNodeName(name!),
      ipv4: at.host,
      pgPort: at.port,
      allowFrom: cidr === undefined ? undefined : checkCidr(cidr),
    });
    ctx.out(`node ${name} added (${at.host}): replication role ${r.role}; generation ${r.generation}`);
  },
  async 'remove-node'(list, ctx, p) {
    const [name] = args(list, 1, 1, 'remove-node NAME');
    const r = await removeClusterNode(p.state, checkNodeName(name!));
    ctx.out(`node ${name} removed${r.slotDropped ? ' (replication slot dropped)' : ''}; generation ${r.generation}`);
  },
  async join(list, ctx, p) {
    const [publisher, name, address] = args(list, 2, 3, 'join PUBLISHER[:PORT] NAME [ADDRESS[:PGPORT]]');
    const to = checkAddress(publisher!, 'publisher address');
    checkNodeName(name!);
    const own = address ?? ownAddress(p.state);
    if (!own) throw bad("this box's own address is not known (no first-boot store): give it as the third word");
    const listen = checkAddress(own, "this node's address", p.port);
    const password = await passwordFromStdin();
    // The box's daemons hold its first-boot store open: stopped before join moves it aside, started again if the
    // publisher refuses (the box stays as it was).
    const units = new NodeUnits({ envFile: p.envFile });
    const here = units.notHere(p.pgDir) === undefined;
    if (here) units.stopStoreDaemons();
    let r: Awaited<ReturnType<typeof joinCluster>>;
    try {
      r = await joinCluster({
        stateDir: p.state,
        pgDir: p.pgDir,
        name: name!,
        password,
        publisher: to,
        listen,
        ipv4: listen.host,
        clock: systemClock,
        waitSeconds: JOIN_WAIT_SECONDS,
        setAsideStore: true,
      });
    } catch (err) {
      if (here && !readClusterNode(p.state)) units.startStoreDaemons();
      throw err;
    }
    if (r.setAside) ctx.out(`this box's own store and keys were moved to ${r.setAside} (kept, not part of the cluster)`);
    ctx.out(`joined: publisher ${r.publisher}, streaming over TLS (slot ${r.slot})`);
    ctx.out(`this node's ${r.certificates.join(' and ')} certificates are in the store (generation ${r.generation}); their keys stay here`);
    ctx.out(
      r.keys.includes('sip-phone')
        ? "the publisher's phone-password key is installed"
        : 'the publisher has no phone-password key on record yet: sbd-clusterd here installs it when it comes',
    );
    activate(ctx, p, 'subscriber');
  },
  async repoint(list, ctx, p) {
    const [publisher] = args(list, 1, 1, 'repoint PUBLISHER[:PORT]');
    const r = await repointSubscriber(p.state, checkAddress(publisher!, 'publisher address'));
    ctx.out(`following ${r.publisher} (${r.roots} node certificates trusted)`);
    activate(ctx, p, 'subscriber');
  },
  async promote(list, ctx, p) {
    args(list, 0, 0, 'promote');
    const r = await promoteNode(p.state);
    ctx.out(
      `${r.node} is the publisher (was ${r.oldPublisher}); store rebuilt: ${r.nodes} nodes, ${r.certificates} certificates, ${r.params} parameters, ${r.devices} devices.`,
    );
    ctx.out(`slots for the other subscribers: ${r.slots.join(', ') || 'none'}`);
    activate(ctx, p, 'publisher');
  },
};

export const commands: Command[] = [
  {
    path: ['cluster', 'appliance'],
    summary: "the admin console's cluster words, run as root on the appliance's own folders (sudo rule sbd-admin)",
    usage:
      'sbd cluster appliance migrate | add-node NAME ADDRESS[:PGPORT] [CIDR] | remove-node NAME | join PUBLISHER[:PORT] NAME [ADDRESS[:PGPORT]] | repoint PUBLISHER[:PORT] | promote\n' +
      '  (the cluster security password, for migrate and join: the first line of standard input)',
    async run(list, ctx) {
      const [verb, ...rest] = list;
      const fn = verb === undefined ? undefined : Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
      if (!fn) throw bad(`unknown verb "${verb ?? ''}": migrate, add-node, remove-node, join, repoint or promote`);
      await fn(rest, ctx, paths());
      return 0;
    },
  },
];
