/**
 * Phone security profiles on the admin console (issue 18 item 7), the same function as `sbd security-profile set`
 * (src/cluster/security-profiles.ts):
 *   show security-profile [NAME]
 *   set security-profile NAME KEY VALUE [KEY VALUE]...   keys: mode, transport, encrypted-config, digest,
 *       digest-algorithms, nonce-validity, capf-auth, description (unnamed keys keep their value; a new profile
 *       starts from the default profile's)
 */
import type { AdminCommand } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import { withState } from '../../store/state.js';
import { AuditAction } from '../../cluster/audit.js';
import { parseProfilePairs, profileDeviceCount, profileLine, profileText, setSecurityProfile } from '../../cluster/security-profiles.js';
import { asArgs, audited } from './store-change.js';

export function securityProfileCommands(stateDir: string): AdminCommand[] {
  const names = () => withState(stateDir, ({ store }) => store.listSecurityProfiles().map((p) => p.name), { readonly: true });
  return [
    {
      words: ['show', 'security-profile'],
      params: '[NAME]',
      summary: 'the phone security profiles, or one in full (transport, digest, encrypted config, nonce validity, CAPF mode)',
      maxArgs: 1,
      complete: names,
      run: (args, io) => {
        const text = withState(
          stateDir,
          ({ store }) => {
            if (args.length === 0) return store.listSecurityProfiles().map(profileLine).join('\n');
            const p = store.getSecurityProfile(args[0]!);
            if (!p) throw new AdminError(AdminErrorCode.args, `no security profile named '${args[0]}'`);
            return profileText(p, profileDeviceCount(store, p.name)).join('\n');
          },
          { readonly: true },
        );
        io.out(text);
      },
    },
    {
      words: ['set', 'security-profile'],
      params: 'NAME KEY VALUE [KEY VALUE]...',
      summary:
        'create or edit a profile: mode, transport, encrypted-config on|off, digest on|off, digest-algorithms, nonce-validity SECONDS, capf-auth, description',
      minArgs: 3,
      maxArgs: 17,
      complete: names,
      run: async (args, io) => {
        const name = args[0]!;
        const changes = await asArgs(() => parseProfilePairs(args.slice(1)));
        const text = await asArgs(() =>
          audited(stateDir, AuditAction.profileSet, `${name}: ${args.slice(1).join(' ')}`, ({ store }) => {
            const p = setSecurityProfile(store, name, changes);
            return profileText(p, profileDeviceCount(store, p.name));
          }),
        );
        io.out(text.join('\n'));
      },
    },
  ];
}
