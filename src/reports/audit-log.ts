/** `show audit` / `sbd audit show`: the administrative audit log, newest first, as a report. */
import type { Store } from '../store/index.js';
import type { Report } from './table.js';

export function auditReport(store: Store, options: { limit?: number } = {}): Report {
  const entries = store.listAudit(options.limit === undefined ? {} : { limit: options.limit });
  return {
    title: `Audit log (${entries.length} newest entr${entries.length === 1 ? 'y' : 'ies'})`,
    columns: [
      { name: 'Time' },
      { name: 'User' },
      { name: 'Action' },
      { name: 'Detail', text: (v) => v.replace(/\s*\n\s*/g, ' ') },
      { name: 'Result' },
    ],
    rows: entries.map((e) => [e.at, e.user, e.action, e.detail, e.result]),
  };
}
