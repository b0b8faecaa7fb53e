import { nowIso, sqliteCode, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { bool, optionalText, text } from './fields.js';
import { isIPv4, isIPv6 } from 'node:net';

/** Cluster nodes (publisher and subscribers) and the services each one runs. */

export const NODE_SERVICES = ['tftp', 'tvs', 'capf', 'sip', 'media', 'callmanager'] as const;
export type NodeService = (typeof NODE_SERVICES)[number];

export interface NodeRow {
  id: number;
  name: string;
  hostname: string;
  ipv4: string | null;
  ipv6: string | null;
  isPublisher: boolean;
  services: NodeService[];
  createdAt: string;
}

export interface NodeInput {
  name: string;
  hostname: string;
  ipv4?: string | null;
  ipv6?: string | null;
  isPublisher?: boolean;
  services?: string[];
}

const E = StoreErrorCode.nodeInvalid;
// RFC 1123 §2.1 host names: labels of letters, digits and hyphens, up to 253 characters in all.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface Raw {
  id: number;
  name: string;
  hostname: string;
  ipv4: string | null;
  ipv6: string | null;
  is_publisher: number;
  created_at: string;
  services: string | null;
}

const SELECT = `SELECT n.id, n.name, n.hostname, n.ipv4, n.ipv6, n.is_publisher, n.created_at,
  (SELECT group_concat(service, ',') FROM (SELECT service FROM node_services s WHERE s.node_id = n.id ORDER BY service)) AS services
  FROM nodes n`;

function row(r: Raw): NodeRow {
  return {
    id: r.id,
    name: r.name,
    hostname: r.hostname,
    ipv4: r.ipv4,
    ipv6: r.ipv6,
    isPublisher: r.is_publisher === 1,
    services: r.services ? (r.services.split(',') as NodeService[]) : [],
    createdAt: r.created_at,
  };
}

export function validateServices(services: unknown): NodeService[] {
  if (!Array.isArray(services)) throw new StoreError(E, 'services must be a list');
  for (const s of services) {
    if (!(NODE_SERVICES as readonly unknown[]).includes(s)) {
      throw new StoreError(E, `unknown service '${String(s)}'; known services: ${NODE_SERVICES.join(', ')}`);
    }
  }
  return [...new Set(services as NodeService[])].sort();
}

export function addNode(ctx: StoreContext, n: NodeInput): NodeRow {
  const name = text(E, 'node name', n.name, 64);
  if (!NODE_NAME.test(name)) throw new StoreError(E, `node name '${name}' must be letters, digits, '.', '_' or '-'`);
  const hostname = text(E, 'hostname', n.hostname, 253);
  if (!HOSTNAME.test(hostname)) throw new StoreError(E, `hostname '${hostname}' is not a valid host name (RFC 1123)`);
  const ipv4 = optionalText(E, 'ipv4', n.ipv4, 15);
  if (ipv4 !== null && !isIPv4(ipv4)) throw new StoreError(E, `ipv4 '${ipv4}' is not an IPv4 address`);
  const ipv6 = optionalText(E, 'ipv6', n.ipv6, 45);
  if (ipv6 !== null && !isIPv6(ipv6)) throw new StoreError(E, `ipv6 '${ipv6}' is not an IPv6 address`);
  const isPublisher = bool(E, 'isPublisher', n.isPublisher ?? false);
  const services = validateServices(n.services ?? []);
  return ctx.write(() => {
    if (isPublisher && ctx.stmt('SELECT 1 FROM nodes WHERE is_publisher = 1').get()) {
      throw new StoreError(StoreErrorCode.nodeExists, 'the cluster already has a publisher');
    }
    let id: number;
    try {
      id = Number(
        ctx
          .stmt('INSERT INTO nodes (name, hostname, ipv4, ipv6, is_publisher, created_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(name, hostname, ipv4, ipv6, isPublisher ? 1 : 0, nowIso(ctx.clock)).lastInsertRowid,
      );
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_UNIQUE') throw new StoreError(StoreErrorCode.nodeExists, `node '${name}' exists`);
      throw err;
    }
    const ins = ctx.stmt('INSERT INTO node_services (node_id, service) VALUES (?, ?)');
    for (const s of services) ins.run(id, s);
    return getNode(ctx, name)!;
  });
}

export function listNodes(ctx: StoreContext): NodeRow[] {
  return (ctx.stmt(`${SELECT} ORDER BY n.is_publisher DESC, n.name`).all() as Raw[]).map(row);
}

export function getNode(ctx: StoreContext, name: string): NodeRow | undefined {
  const r = ctx.stmt(`${SELECT} WHERE n.name = ?`).get(name) as Raw | undefined;
  return r === undefined ? undefined : row(r);
}

/** The node's id, or ERR_NODE_UNKNOWN. */
export function nodeId(ctx: StoreContext, name: string): number {
  const r = ctx.stmt('SELECT id FROM nodes WHERE name = ?').get(name) as { id: number } | undefined;
  if (r === undefined) throw new StoreError(StoreErrorCode.nodeUnknown, `no node named '${name}'`);
  return r.id;
}

export function setNodeServices(ctx: StoreContext, name: string, services: string[]): void {
  const list = validateServices(services);
  ctx.write(() => {
    const id = nodeId(ctx, name);
    ctx.stmt('DELETE FROM node_services WHERE node_id = ?').run(id);
    const ins = ctx.stmt('INSERT INTO node_services (node_id, service) VALUES (?, ?)');
    for (const s of list) ins.run(id, s);
  });
}

/** Removes a node and its services; refused while certificates still name it. */
export function removeNode(ctx: StoreContext, name: string): void {
  ctx.write(() => {
    const id = nodeId(ctx, name);
    const certs = (ctx.stmt('SELECT count(*) AS n FROM certificates WHERE node_id = ?').get(id) as { n: number }).n;
    if (certs > 0) {
      throw new StoreError(
        StoreErrorCode.nodeInUse,
        `node '${name}' still has ${certs} certificates (current or history); remove them first`,
      );
    }
    ctx.stmt('DELETE FROM nodes WHERE id = ?').run(id);
  });
}
