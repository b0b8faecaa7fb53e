/**
 * `utils ctl set-cluster mixed-mode|non-secure`: the cluster security mode (enterprise parameter
 * ClusterSecurityMode). In mixed mode the TFTP server also serves CTLFile.tlv (signed by the publisher's
 * CallManager key, listing the SASTs, servers, TVS and CAPF) and phones may use authenticated or encrypted
 * profiles; in non-secure mode only the ITL is served. The change asks first and is audited like `set param`.
 */
import { createHash } from 'node:crypto';
import type { AdminCommand } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import type { Clock } from '../../lib/clock.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { buildCtl } from '../../trust/cluster-lists.js';
import { parseTrustFile } from '../../trust/codec.js';

/** The console's words → the parameter's values. */
export const CLUSTER_MODES = { 'mixed-mode': 'mixed', 'non-secure': 'non-secure' } as const;
type ModeWord = keyof typeof CLUSTER_MODES;

export function clusterSecurityCommands(stateDir: string, clock: Clock): AdminCommand[] {
  return [
    {
      words: ['utils', 'ctl', 'set-cluster'],
      params: 'mixed-mode|non-secure',
      summary: 'set the cluster security mode: mixed mode serves a CTL file (asks first)',
      minArgs: 1,
      maxArgs: 1,
      complete: () => Object.keys(CLUSTER_MODES),
      run: async (args, io) => {
        const word = args[0]!.toLowerCase();
        if (!Object.hasOwn(CLUSTER_MODES, word))
          throw new AdminError(AdminErrorCode.args, `unknown mode "${args[0]}": mixed-mode or non-secure`);
        const mode = CLUSTER_MODES[word as ModeWord];
        const current = withState(stateDir, ({ store }) => store.getParam('ClusterSecurityMode'), { readonly: true });
        if (current === mode) {
          io.out(`The cluster is already in ${word} (ClusterSecurityMode = ${mode}); nothing changed.`);
          return;
        }
        const question =
          mode === 'mixed'
            ? 'Set the cluster to mixed mode? The TFTP server will serve a CTL file; phones that install it then trust only its signers.'
            : 'Set the cluster to non-secure mode? The CTL file is no longer served; phones holding one keep it until they are reset.';
        if (!(await io.confirm(question))) {
          io.out('cancelled');
          return;
        }
        const ctl = withState(stateDir, ({ store }) =>
          auditedSync(store, { user: currentAdminUser(), action: AuditAction.paramSet, detail: `ClusterSecurityMode=${mode}` }, () =>
            // One transaction: the CTL is built before the change commits, so a store that cannot sign one keeps
            // its mode (and the failure is audited) instead of TFTP failing at the first phone's request.
            store.transaction(() => {
              store.setParam('ClusterSecurityMode', mode);
              return buildCtl(store, clock);
            }),
          ),
        );
        io.out(`ClusterSecurityMode = ${mode}`);
        if (ctl) {
          const records = parseTrustFile(ctl).records.length;
          io.out(
            `CTL file built: ${ctl.length} bytes, ${records} records, sha256 ${createHash('sha256').update(ctl).digest('hex')}; served as CTLFile.tlv ("show ctl" lists it).`,
          );
        } else {
          io.out('No CTL file is served now; the ITL is unchanged.');
        }
      },
    },
  ];
}
