/**
 * Application users' allowed requests on the admin console (issue 18 item 7), the same function as `sbd user
 * allow` (src/cluster/app-users.ts): what a trunk with application-level authorization lets its application user
 * send, beyond the trunk's own ACL.
 *   set user allowed-requests USERID all|none|KIND[,KIND]...   (ood-refer, unsolicited-notify, replaces, presence-subscribe)
 *   show user allowed-requests USERID
 */
import type { AdminCommand } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import { withState } from '../../store/state.js';
import { AuditAction } from '../../cluster/audit.js';
import { allowedRequestsText, parseAllowedRequests, setAllowedRequests } from '../../cluster/app-users.js';
import { SIP_REQUEST_KINDS } from '../../store/index.js';
import { asArgs, audited } from './store-change.js';

export function appUserCommands(stateDir: string): AdminCommand[] {
  const appUsers = () =>
    withState(
      stateDir,
      ({ store }) =>
        store
          .listUsers()
          .filter((u) => u.kind === 'application')
          .map((u) => u.userid),
      { readonly: true },
    );
  return [
    {
      words: ['set', 'user', 'allowed-requests'],
      params: `USERID all|none|${SIP_REQUEST_KINDS.join(',')}`,
      summary: "what an application user may send through a trunk with application-level authorization (replaces the user's list)",
      minArgs: 2,
      maxArgs: 2,
      complete: appUsers,
      run: async (args, io) => {
        const acl = await asArgs(() => parseAllowedRequests(args[1]!));
        const now = await asArgs(() =>
          audited(stateDir, AuditAction.appUserAllow, `${args[0]} ${args[1]}`, ({ store }) => setAllowedRequests(store, args[0]!, acl)),
        );
        io.out(`${args[0]} may send: ${allowedRequestsText(now)}`);
      },
    },
    {
      words: ['show', 'user', 'allowed-requests'],
      params: 'USERID',
      summary: 'what an application user may send through a trunk with application-level authorization',
      minArgs: 1,
      maxArgs: 1,
      complete: appUsers,
      run: (args, io) => {
        const acl = withState(
          stateDir,
          ({ store }) => {
            if (store.getUser(args[0]!)?.kind !== 'application')
              throw new AdminError(AdminErrorCode.args, `no application user '${args[0]}'`);
            return store.sip.getAppUserPermissions(args[0]!);
          },
          { readonly: true },
        );
        io.out(`${args[0]} may send: ${allowedRequestsText(acl)}`);
      },
    },
  ];
}
