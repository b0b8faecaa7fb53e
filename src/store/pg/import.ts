/**
 * The reverse of publish (issue 21 item 6): a promoted node rebuilds its SQLite store of record from what its
 * PostgreSQL holds, in one SQLite transaction over one REPEATABLE READ snapshot. Imported: nodes with their services
 * (the new publisher flagged, the old one not), every identity certificate in the order it was made (so history
 * stays history and the newest is current), the current trusted imports, the stored parameters.
 * What does not come back (docs/cluster.md "Promotion"): row ids and the times certificates were replaced (they
 * become the import's time), trusted imports already removed, and whatever publish does not carry (the SQLite-only
 * tables: audit log, reports, devices until they are published). Private keys never travelled: `key_file` paths
 * of other nodes are kept as they were (valid on those nodes only).
 */
import type { Sql } from 'postgres';
import type { Store } from '../store.js';
import { PgStoreError, PgStoreErrorCode } from './errors.js';
import { checkPgSchema } from './schema.js';

export interface ImportResult {
  nodes: number;
  certificates: number;
  params: number;
  /** The PostgreSQL generation the snapshot was taken at. */
  generation: number;
}

export async function importFromPg(sql: Sql, store: Store, options: { publisher: string }): Promise<ImportResult> {
  await checkPgSchema(sql);
  const snap = await sql.begin('isolation level repeatable read read only', async (tx) => {
    const [g] = await tx`SELECT value FROM sbd.meta WHERE key = 'generation'`;
    const nodes = await tx`
      SELECT n.name, n.hostname, n.ipv4, n.ipv6,
        coalesce((SELECT array_agg(s.service) FROM sbd.node_services s WHERE s.node_id = n.id), '{}') AS services
      FROM sbd.nodes n ORDER BY n.id`;
    const certs = await tx`
      SELECT c.name, n.name AS node, c.kind, c.purpose, c.pem, c.key_file, c.current
      FROM sbd.certificates c LEFT JOIN sbd.nodes n ON n.id = c.node_id
      ORDER BY c.created_at COLLATE "C", c.id`;
    const params = await tx`SELECT name, value FROM sbd.params ORDER BY name COLLATE "C"`;
    return { generation: Number(g?.value), nodes, certs, params };
  });
  if (!snap.nodes.some((n) => n.name === options.publisher)) {
    throw new PgStoreError(PgStoreErrorCode.schema, `node ${options.publisher} is not in the published store`);
  }
  if (store.listNodes().length > 0)
    throw new PgStoreError(PgStoreErrorCode.schema, `${store.path} already holds nodes: import fills a new store`);
  let certificates = 0;
  store.transaction(() => {
    for (const n of snap.nodes) {
      store.addNode({
        name: n.name as string,
        hostname: n.hostname as string,
        ipv4: (n.ipv4 as string | null) ?? null,
        ipv6: (n.ipv6 as string | null) ?? null,
        isPublisher: n.name === options.publisher,
        services: n.services as string[],
      });
    }
    for (const c of snap.certs) {
      const node = (c.node as string | null) ?? null;
      if (c.kind === 'identity') {
        store.putCertificate({
          name: c.name as string,
          node,
          pem: c.pem as string,
          keyFile: (c.key_file as string | null) ?? null,
          purpose: (c.purpose as string | null) ?? null,
        });
        certificates++;
      } else if (c.current) {
        store.addTrustedCertificate({ name: c.name as string, node, pem: c.pem as string, purpose: (c.purpose as string | null) ?? null });
        certificates++;
      }
    }
    for (const p of snap.params) store.setParam(p.name as string, p.value as string);
  });
  return { nodes: snap.nodes.length, certificates, params: snap.params.length, generation: snap.generation };
}
