/**
 * `sbd user allow USERID --requests …` (issue 18 item 7): what an application user may send through a trunk with
 * application-level authorization (`sbd trunk add --app-auth`), the same function as the console's `set user
 * allowed-requests` (src/cluster/app-users.ts).
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { allowedRequestsText, parseAllowedRequests, setAllowedRequests } from '../../cluster/app-users.js';

export const commands: Command[] = [
  {
    path: ['user', 'allow'],
    summary: 'set the request kinds an application user may send through an --app-auth trunk (replaces its list)',
    usage:
      'sbd user allow USERID --requests all|none|ood-refer,unsolicited-notify,replaces,presence-subscribe --state DIR\n' +
      '  a trunk with --app-auth lets a kind through only when its own --allow and its application user both allow it',
    run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' }, requests: { type: 'string' } });
      const userid = required(positionals[0], 'USERID');
      const text = required(values.requests, '--requests');
      const acl = parseAllowedRequests(text);
      const now = withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.appUserAllow, detail: `${userid} ${text}` }, () =>
          setAllowedRequests(store, userid, acl),
        ),
      );
      ctx.out(`${userid} may send: ${allowedRequestsText(now)}`);
      return 0;
    },
  },
];
