/**
 * `sbd cluster publish` (issue 21): copies this appliance's SQLite store into the publisher's PostgreSQL (today
 * what TVS reads: nodes, certificates with history, parameters; docs/cluster.md), the seed of item 7's migration.
 * The password comes from PGPASSWORD, never the command line.
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { connectPg } from '../../store/pg/connect.js';
import { publishToPg } from '../../store/pg/publish.js';
import { openState } from '../../store/state.js';

export const commands: Command[] = [
  {
    path: ['cluster', 'publish'],
    summary: "copy the store into the cluster's PostgreSQL (the publisher's primary): nodes, certificates, parameters",
    usage: 'sbd cluster publish --state DIR --store-url postgres://USER@HOST:PORT/DB   (password in PGPASSWORD)',
    async run(args, ctx) {
      const { values } = parse(args, { state: { type: 'string' }, 'store-url': { type: 'string' } }, false);
      const { store } = openState(required(values.state, '--state'), { readonly: true });
      const sql = connectPg(required(values['store-url'], '--store-url'));
      try {
        const r = await publishToPg(store, sql);
        ctx.out(`published ${r.nodes} nodes, ${r.certificates} certificates, ${r.params} parameters; generation ${r.generation}`);
        return 0;
      } finally {
        await sql.end({ timeout: 2 });
        store.close();
      }
    },
  },
];
