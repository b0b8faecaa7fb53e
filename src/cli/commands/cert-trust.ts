/**
 * `sbd cert trust import|list|remove` (issue 18 item 7): application-server certificates TVS vouches for
 * (tomcat-trust: APP-SERVER, phone-sast-trust: SAST), the same functions as the console's `set cert import trust`,
 * `show cert list trust` and `set cert delete trust` (src/cluster/trust-store.ts).
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import {
  importTrustedCertificate,
  listTrustedCertificates,
  parseTrustUnit,
  readPemFile,
  removeTrustedCertificate,
  TRUST_STORE_UNITS,
  trustLine,
} from '../../cluster/trust-store.js';

const stateOpt = { state: { type: 'string' } } as const;
const UNITS = Object.keys(TRUST_STORE_UNITS).join('|');

export const commands: Command[] = [
  {
    path: ['cert', 'trust', 'import'],
    summary: 'import an application server certificate TVS then vouches for (tomcat-trust: APP-SERVER, phone-sast-trust: SAST)',
    usage: `sbd cert trust import ${UNITS} CERT.pem --state DIR`,
    run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const unit = parseTrustUnit(required(positionals[0], UNITS));
      const file = required(positionals[1], 'CERT.pem');
      const pem = readPemFile(file);
      const c = withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.trustImport, detail: `${unit} ${file}` }, () =>
          importTrustedCertificate(store, unit, pem),
        ),
      );
      ctx.out(trustLine(c));
      return 0;
    },
  },
  {
    path: ['cert', 'trust', 'list'],
    summary: 'list imported application server certificates (id, store, SHA-256 prefix, expiry, subject)',
    usage: `sbd cert trust list [${UNITS}] --state DIR`,
    run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const unit = positionals[0] === undefined ? undefined : parseTrustUnit(positionals[0]);
      for (const c of withState(required(values.state, '--state'), ({ store }) => listTrustedCertificates(store, unit), { readonly: true }))
        ctx.out(trustLine(c));
      return 0;
    },
  },
  {
    path: ['cert', 'trust', 'remove'],
    summary: 'remove an imported certificate (by id or SHA-256 prefix): TVS stops vouching for it',
    usage: `sbd cert trust remove ${UNITS} ID|SHA256-PREFIX --state DIR`,
    run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const unit = parseTrustUnit(required(positionals[0], UNITS));
      const which = required(positionals[1], 'ID|SHA256-PREFIX');
      const c = withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.trustRemove, detail: `${unit} ${which}` }, () =>
          removeTrustedCertificate(store, unit, which),
        ),
      );
      ctx.out(`removed ${trustLine(c)}`);
      return 0;
    },
  },
];
