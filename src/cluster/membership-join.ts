/**
 * `sbd cluster join` on a new box (issue 21 item 3), after `add-node` on the publisher: trust bootstrapped with
 * SCRAM channel binding, a base backup streaming over verified TLS, this node's own keys generated here and its
 * certificates submitted to the publisher (`joinCluster` lists the steps). Why a submissions table and not an
 * endpoint: no new listener, protocol or credential; the submission rides the authenticated TLS connection the
 * allow-list already admits, and the publisher stays the only writer of the store of record.
 */
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Clock } from '../lib/clock.js';
import { applyKeyAccess } from '../pki/identity-store.js';
import { writeKeyFile } from '../pki/keys.js';
import { generateIdentity } from '../pki/profiles.js';
import {
  clusterSecretFromPassword,
  derivePgPassword,
  nodeRoleName,
  readClusterNode,
  writeClusterNode,
  writeClusterSecret,
} from '../store/pg/cluster-node.js';
import { connectLocalAdmin, connectPrimaryAsNode } from '../store/pg/replication-connect.js';
import { baseBackup, pgLayout, runPgTool, startServer, writeServerConf, writeTls } from '../store/pg/replication-server.js';
import { openStore } from '../store/index.js';
import { stateLayout } from '../store/state.js';
import { MembershipError, MembershipErrorCode, toolOutput } from './membership-errors.js';
import { pgServerIdentity } from './membership.js';
import { installClusterKeys } from './membership-keys.js';

export interface JoinOptions {
  stateDir: string;
  /** This node's PostgreSQL folder (data, tls, run). */
  pgDir: string;
  name: string;
  password: string;
  publisher: { host: string; port: number };
  /** Where this node's PostgreSQL listens. */
  listen: { host: string; port: number };
  /** This node's host name and address, for its certificates. Defaults: the node name, listen.host. */
  hostname?: string | undefined;
  ipv4?: string | undefined;
  clock: Clock;
  /**
   * The box has a store of its own (its first boot ran `sbd init`): move it and its keys folder aside into
   * `<state>/pre-join-<time>/` once the publisher has admitted this node, instead of refusing. Default false.
   */
  setAsideStore?: boolean | undefined;
  /** How long to wait for this node's certificates to come back through replication. Default 30 s. */
  waitSeconds?: number | undefined;
}

export const JOIN_DEFAULTS = { waitSeconds: 30 } as const;

export interface JoinResult {
  publisher: string;
  slot: string;
  certificates: string[];
  generation: number;
  /** Keys taken from the publisher (membership-keys.ts): 'sip-phone' when the phone-password key was on record. */
  keys: string[];
  /** Where this box's own store and keys were moved (with `setAsideStore`). */
  setAside?: string;
}

/**
 * Why a box with a store does not join by default: a subscriber serves the publisher's store and has none of its
 * own, so whatever this store holds would stop being served and is not merged into the cluster. The message says
 * what it holds (a first boot's store has no phones and no users but the administrator) and the two ways on.
 */
function storeRefusal(dbPath: string): MembershipError {
  let holds = '';
  try {
    const store = openStore(dbPath, { create: false, readonly: true });
    try {
      holds = ` (it holds ${store.listDevices().length} phones and ${store.listUsers().length} users)`;
    } finally {
      store.close();
    }
  } catch {
    // An unreadable store is still a store: refuse without the counts.
  }
  return new MembershipError(
    MembershipErrorCode.exists,
    `${dbPath} exists${holds}: a subscriber serves the publisher's store and has none of its own, and this one would not be merged into the cluster. ` +
      "Stop this box's sbd services and join again with --set-aside-store (the store and its keys are moved to pre-join-<time>/ beside it, kept), " +
      'or make this box the publisher (sbd cluster migrate)',
  );
}

/** Moves `sbd.db` (with its -wal, -shm, -generation files) and `keys/` into a new `pre-join-<time>/` (0700). */
function setAsideStore(layout: ReturnType<typeof stateLayout>, clock: Clock): string {
  const dir = join(layout.dir, `pre-join-${new Date(clock.now()).toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { mode: 0o700 });
  const dbName = basename(layout.dbPath);
  for (const f of readdirSync(layout.dir)) if (f === dbName || f.startsWith(`${dbName}-`)) renameSync(join(layout.dir, f), join(dir, f));
  if (existsSync(layout.keysDir)) renameSync(layout.keysDir, join(dir, basename(layout.keysDir)));
  return dir;
}

interface Bootstrap {
  publisher: string;
  certs: Record<string, string> | null;
}

function bootstrap(opts: JoinOptions, role: string, password: string): Bootstrap {
  const conninfo = `host=${opts.publisher.host} port=${opts.publisher.port} user=${role} dbname=postgres sslmode=require channel_binding=require connect_timeout=10`;
  const query = `SELECT json_build_object(
      'publisher', (SELECT name FROM sbd.nodes WHERE is_publisher),
      'certs', (SELECT json_object_agg(node, pem) FROM (
        SELECT DISTINCT ON (s.submitted_by) m.node, s.pem FROM sbd.node_submissions s
        JOIN sbd.cluster_members m ON m.role_name = s.submitted_by
        WHERE s.name = 'pg-server' ORDER BY s.submitted_by, s.id DESC) c))`;
  let out: string;
  try {
    out = runPgTool('psql', ['-X', '-A', '-t', '-d', conninfo, '-c', query], { PGPASSWORD: password });
  } catch (err) {
    const at = `${opts.publisher.host}:${opts.publisher.port}`;
    const output = toolOutput(err);
    // The server's own words tell the two refusals apart: the role's password (from the cluster security
    // password) was wrong, or no allow-list line admits this node from here.
    const why = /password authentication failed/.test(output)
      ? 'the cluster security password is not the one the publisher was migrated with'
      : /no pg_hba\.conf entry/.test(output)
        ? `${opts.name} is not on its allow-list from this address: add it there first (console: "set network cluster subscriber details ${opts.name} ADDRESS"; shell: "sbd cluster add-node ${opts.name} --ip ADDRESS")`
        : `was it added with "sbd cluster add-node ${opts.name} --ip A" there, and is the cluster security password right?`;
    throw new MembershipError(MembershipErrorCode.notAllowed, `the publisher ${at} refused node ${opts.name}: ${why} (${output})`, {
      cause: err,
    });
  }
  return JSON.parse(out) as Bootstrap;
}

/**
 * 1. The cluster security password gives the cluster secret, and from it this node's replication password.
 * 2. Bootstrap trust: psql (libpq) connects with sslmode=require and channel_binding=require. SCRAM-SHA-256-PLUS
 *    makes the server prove it holds this role's verifier, bound to this TLS channel (RFC 5802 §3, RFC 5929
 *    tls-server-end-point), so the node certificates it then reads can only come from the publisher: they become
 *    `tls/nodes.crt`, and every later connection is verify-ca against them.
 * 3. pg_basebackup -R into the node's data folder (its own slot), our settings block, this node's own TLS key; the
 *    hot standby starts streaming over TLS.
 * 4. CallManager and TVS keys generated here (private keys never leave a node); their certificates (with the key's
 *    local path) and the PostgreSQL server certificate INSERTed into `sbd.node_submissions` on the primary, the only
 *    write a member role may make. sbd-clusterd imports them into SQLite and publishes; join waits for them.
 */
export async function joinCluster(opts: JoinOptions): Promise<JoinResult> {
  const layout = stateLayout(opts.stateDir);
  const hadStore = existsSync(layout.dbPath);
  if (hadStore && !opts.setAsideStore) throw storeRefusal(layout.dbPath);
  if (readClusterNode(opts.stateDir)) throw new MembershipError(MembershipErrorCode.exists, `${opts.stateDir} is already in a cluster`);
  const pg = pgLayout(opts.pgDir);
  if (existsSync(pg.data)) throw new MembershipError(MembershipErrorCode.exists, `${pg.data} exists: join makes it from a base backup`);
  const secret = clusterSecretFromPassword(opts.password);
  const role = nodeRoleName(opts.name);
  const password = derivePgPassword(secret, `node:${opts.name}`);
  const boot = bootstrap(opts, role, password);
  const roots = Object.values(boot.certs ?? {});
  if (roots.length === 0)
    throw new MembershipError(
      MembershipErrorCode.notAllowed,
      'the publisher has no PostgreSQL server certificate on record (run sbd cluster migrate there)',
    );
  // The publisher admitted this node: only now is this box's own store moved aside (a refused join leaves it).
  const setAside = hadStore ? setAsideStore(layout, opts.clock) : undefined;
  const hostname = opts.hostname ?? opts.name;
  const ipv4 = opts.ipv4 ?? opts.listen.host;
  const own = pgServerIdentity(hostname, ipv4, opts.clock);
  writeTls(pg, { certPem: own.certPem, keyPem: own.keyPem, rootsPem: roots.join('') });
  try {
    baseBackup(pg, { ...opts.publisher, user: role, password, slot: role });
    writeServerConf(pg, opts.listen);
    writeTls(pg, { certPem: own.certPem, keyPem: own.keyPem, rootsPem: roots.join('') });
    startServer(pg);
  } catch (err) {
    if (err instanceof MembershipError) throw err;
    throw new MembershipError(MembershipErrorCode.tool, `the standby could not be made: ${toolOutput(err)}`, { cause: err });
  }
  writeClusterSecret(layout.keysDir, secret);
  const file = {
    node: opts.name,
    role: 'subscriber' as const,
    publisher: { name: boot.publisher, ...opts.publisher },
    pg: { dir: opts.pgDir, ...opts.listen },
  };
  writeClusterNode(opts.stateDir, file);

  // This node's identities: keys written here only; certificates submitted.
  const now = new Date(opts.clock.now());
  const submissions: { name: 'CallManager' | 'TVS' | 'pg-server'; pem: string; key_file: string | null }[] = [];
  for (const name of ['CallManager', 'TVS'] as const) {
    const id = generateIdentity({ name, hostname, ipv4, now });
    const keyFile = join(layout.keysDir, `${name}-${opts.name}-${id.serial.toString('hex')}.key`);
    writeKeyFile(keyFile, id.privateKeyPem);
    applyKeyAccess(keyFile);
    submissions.push({ name, pem: id.certPem, key_file: keyFile });
  }
  submissions.push({ name: 'pg-server', pem: own.certPem, key_file: null });
  const primary = connectPrimaryAsNode(file, opts.publisher, secret);
  try {
    for (const s of submissions) await primary`INSERT INTO sbd.node_submissions ${primary(s, 'name', 'pem', 'key_file')}`;
  } finally {
    await primary.end({ timeout: 2 });
  }
  const generation = await waitForCertificates(file, layout.keysDir, opts.name, opts.waitSeconds ?? JOIN_DEFAULTS.waitSeconds);
  // The phone-password key, from this node's own standby (it came with the base backup or by replication since).
  const local = connectLocalAdmin(file, layout.keysDir);
  let keys: string[];
  try {
    keys = await installClusterKeys(local, layout.keysDir, secret);
  } finally {
    await local.end({ timeout: 2 });
  }
  return {
    publisher: boot.publisher,
    slot: role,
    certificates: ['CallManager', 'TVS'],
    generation,
    keys,
    ...(setAside ? { setAside } : {}),
  };
}

/** Polls the local standby until the publisher has imported and published this node's certificates. */
async function waitForCertificates(
  file: Parameters<typeof connectLocalAdmin>[0],
  keysDir: string,
  name: string,
  seconds: number,
): Promise<number> {
  const sql = connectLocalAdmin(file, keysDir);
  try {
    for (let i = 0; i < seconds * 5; i++) {
      const rows = await sql`
        SELECT c.name FROM sbd.certificates c JOIN sbd.nodes n ON n.id = c.node_id
        WHERE n.name = ${name} AND c.current AND c.name IN ('CallManager', 'TVS')`.catch(() => []);
      if (rows.length === 2) {
        const [g] = await sql`SELECT value FROM sbd.meta WHERE key = 'generation'`;
        return Number(g?.value);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await sql.end({ timeout: 2 });
  }
  throw new MembershipError(
    MembershipErrorCode.timeout,
    `joined, but this node's certificates did not come back within ${seconds} s: is sbd-clusterd running on the publisher? (they are submitted; it imports them when it runs)`,
  );
}
