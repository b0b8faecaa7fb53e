/**
 * Application-server trust stores on the admin console (issue 18 item 7), CUCM's words, the same functions as
 * `sbd cert trust …` (src/cluster/trust-store.ts):
 *   set cert import trust tomcat-trust|phone-sast-trust FILE.pem   TVS then vouches for it (APP-SERVER / SAST)
 *   show cert list trust [UNIT]
 *   set cert delete trust UNIT ID|SHA256-PREFIX                     TVS stops vouching for it (asks first)
 */
import type { AdminCommand } from '../command-table.js';
import { withState } from '../../store/state.js';
import { AuditAction } from '../../cluster/audit.js';
import {
  importTrustedCertificate,
  listTrustedCertificates,
  parseTrustUnit,
  readPemFile,
  removeTrustedCertificate,
  TRUST_STORE_UNITS,
  trustLine,
} from '../../cluster/trust-store.js';
import { asArgs, audited } from './store-change.js';

export function trustStoreCommands(stateDir: string): AdminCommand[] {
  const units = () => Object.keys(TRUST_STORE_UNITS);
  return [
    {
      words: ['set', 'cert', 'import', 'trust'],
      params: `${units().join('|')} FILE.pem`,
      summary: 'import an application server certificate: TVS vouches for it (tomcat-trust: APP-SERVER, phone-sast-trust: SAST)',
      minArgs: 2,
      maxArgs: 2,
      complete: units,
      run: async (args, io) => {
        const unit = await asArgs(() => parseTrustUnit(args[0]!));
        const pem = await asArgs(() => readPemFile(args[1]!));
        const c = await asArgs(() =>
          audited(stateDir, AuditAction.trustImport, `${unit} ${args[1]}`, ({ store }) => importTrustedCertificate(store, unit, pem)),
        );
        io.out(`imported into ${unit} (TVS vouches: ${TRUST_STORE_UNITS[unit]}):\n${trustLine(c)}`);
      },
    },
    {
      words: ['show', 'cert', 'list', 'trust'],
      params: `[${units().join('|')}]`,
      summary: 'the imported application server certificates: id, store, SHA-256 (first 16 digits), expiry, subject',
      maxArgs: 1,
      complete: units,
      run: async (args, io) => {
        const unit = args[0] === undefined ? undefined : await asArgs(() => parseTrustUnit(args[0]!));
        const rows = withState(stateDir, ({ store }) => listTrustedCertificates(store, unit), { readonly: true });
        io.out(rows.map(trustLine).join('\n') || '(no imported certificates)');
      },
    },
    {
      words: ['set', 'cert', 'delete', 'trust'],
      params: `${units().join('|')} ID|SHA256-PREFIX`,
      summary: 'remove an imported certificate: TVS no longer vouches for it (asks first)',
      minArgs: 2,
      maxArgs: 2,
      complete: units,
      run: async (args, io) => {
        const unit = await asArgs(() => parseTrustUnit(args[0]!));
        if (!(await io.confirm(`Remove ${args[1]} from ${unit}? Phones stop trusting that server through TVS.`))) {
          io.out('cancelled');
          return;
        }
        const c = await asArgs(() =>
          audited(stateDir, AuditAction.trustRemove, `${unit} ${args[1]}`, ({ store }) => removeTrustedCertificate(store, unit, args[1]!)),
        );
        io.out(`removed from ${unit}: ${trustLine(c)}`);
      },
    },
  ];
}
