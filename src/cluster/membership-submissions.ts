/**
 * The publisher's side of a join (issue 21 item 3): certificates that member nodes submitted to the primary
 * (`sbd.node_submissions`, see store/pg/replication-members.ts) become that node's identity rows in the SQLite
 * store of record. A submission counts only for the node whose replication role made it (`submitted_by`, set by the
 * server), and only for CallManager and TVS; the PostgreSQL server certificate stays in PostgreSQL (standbys read
 * it for verify-ca). Each submission is marked with its outcome, so it is looked at once.
 */
import type { Sql } from 'postgres';
import type { Store } from '../store/index.js';
import { listMembers, markSubmission, pendingSubmissions } from '../store/pg/replication-members.js';

export interface SubmissionOutcome {
  id: number;
  node: string | undefined;
  name: string;
  result: 'imported' | 'kept-in-pg' | 'refused';
  reason?: string;
}

export async function importSubmissions(store: Store, sql: Sql): Promise<SubmissionOutcome[]> {
  const pending = await pendingSubmissions(sql);
  if (pending.length === 0) return [];
  const byRole = new Map((await listMembers(sql)).map((m) => [m.roleName, m.node]));
  const out: SubmissionOutcome[] = [];
  for (const s of pending) {
    const node = byRole.get(s.submittedBy);
    let o: SubmissionOutcome;
    if (!node || !store.getNode(node)) {
      o = { id: s.id, node, name: s.name, result: 'refused', reason: `${s.submittedBy} is not a member node` };
    } else if (s.name === 'pg-server') {
      o = { id: s.id, node, name: s.name, result: 'kept-in-pg' };
    } else {
      try {
        store.putCertificate({ name: s.name, node, pem: s.pem, keyFile: s.keyFile });
        o = { id: s.id, node, name: s.name, result: 'imported' };
      } catch (err) {
        o = { id: s.id, node, name: s.name, result: 'refused', reason: (err as Error).message };
      }
    }
    await markSubmission(sql, s.id, o.reason ? `${o.result}: ${o.reason}` : o.result);
    out.push(o);
  }
  return out;
}
