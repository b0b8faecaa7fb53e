/**
 * Publishing a single-node SQLite store into PostgreSQL: the seed of issue 21 item 7 (a one-command migration).
 * Today it copies what TVS's trust view reads — nodes with their services, every certificate (current and history,
 * ids kept), the stored parameters — from one consistent SQLite read, replacing those tables in one PostgreSQL
 * transaction that also moves the generation, so a node polling it sees the old rows or the new, never a mix.
 * It does not copy private keys: `key_file` is a path on the node that owns the key (keys never leave a node).
 */
import type { Sql } from 'postgres';
import type { Store } from '../store.js';
import { PgStoreError, PgStoreErrorCode } from './errors.js';
import { applyPgSchema } from './schema.js';

export interface PublishResult {
  nodes: number;
  certificates: number;
  params: number;
  /** The PostgreSQL generation after the publish. */
  generation: number;
}

export async function publishToPg(store: Store, sql: Sql): Promise<PublishResult> {
  const { nodes, certificates, params } = store.snapshot(() => ({
    nodes: store.listNodes(),
    certificates: store.listCertificates({ includeHistory: true }),
    params: store.listParams().filter((p) => !p.isDefault),
  }));
  const nodeIds = new Map(nodes.map((n) => [n.name, n.id]));
  const [recovery] = await sql`SELECT pg_is_in_recovery() AS standby`;
  if (recovery?.standby) {
    throw new PgStoreError(PgStoreErrorCode.readOnly, "this PostgreSQL is a hot standby: publish to the publisher's primary");
  }
  await applyPgSchema(sql);
  const generation = await sql.begin(async (tx) => {
    // Children first (foreign keys), then the rows of this store in their place.
    await tx`DELETE FROM sbd.certificates`;
    await tx`DELETE FROM sbd.node_services`;
    await tx`DELETE FROM sbd.nodes`;
    await tx`DELETE FROM sbd.params`;
    if (nodes.length > 0) {
      const rows = nodes.map((n) => ({
        id: n.id,
        name: n.name,
        hostname: n.hostname,
        ipv4: n.ipv4,
        ipv6: n.ipv6,
        is_publisher: n.isPublisher,
        created_at: n.createdAt,
      }));
      await tx`INSERT INTO sbd.nodes ${tx(rows)}`;
    }
    const services = nodes.flatMap((n) => n.services.map((service) => ({ node_id: n.id, service })));
    if (services.length > 0) await tx`INSERT INTO sbd.node_services ${tx(services)}`;
    const certRows = certificates.map((c) => ({
      id: c.id,
      name: c.name,
      node_id: c.node === null ? null : (nodeIds.get(c.node) ?? null),
      kind: c.kind,
      purpose: c.purpose,
      pem: c.pem,
      der: c.der,
      key_file: c.keyFile,
      subject: c.subject,
      issuer: c.issuer,
      serial_hex: c.serialHex,
      not_before: c.notBefore,
      not_after: c.notAfter,
      sha256_hex: c.sha256Hex,
      sha1_hex: c.sha1Hex,
      current: c.current,
      created_at: c.createdAt,
      replaced_at: c.replacedAt,
    }));
    // In slices: one statement's bind parameters are capped at 65535 (PostgreSQL protocol, Bind message).
    for (let i = 0; i < certRows.length; i += 500) await tx`INSERT INTO sbd.certificates ${tx(certRows.slice(i, i + 500))}`;
    if (params.length > 0) await tx`INSERT INTO sbd.params ${tx(params.map((p) => ({ name: p.name, value: p.value })))}`;
    const [g] = await tx`UPDATE sbd.meta SET value = value + 1 WHERE key = 'generation' RETURNING value`;
    return Number(g?.value);
  });
  return { nodes: nodes.length, certificates: certificates.length, params: params.length, generation };
}
