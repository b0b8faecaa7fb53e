/**
 * Phone security profiles: list them, show one, and set one's fields (signalling mode and transport, encrypted
 * config, digest and the challenge algorithms its phones are offered, most preferred first, the nonce validity
 * time, the CAPF authentication mode). Unnamed fields keep their value; a new profile starts from the default
 * profile's. The console's `set security-profile` calls the same function (src/cluster/security-profiles.ts).
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { CAPF_AUTH_MODES, DEVICE_SECURITY_MODES, PROFILE_TRANSPORTS, type ProfileChanges } from '../../cluster/security-profiles.js';
import {
  parseAlgorithms,
  parseNonceValidity,
  parseOneOf,
  parseOnOff,
  profileDeviceCount,
  profileLine,
  profileText,
  setSecurityProfile,
} from '../../cluster/security-profiles.js';

export const commands: Command[] = [
  {
    path: ['security-profile', 'list'],
    summary: 'list phone security profiles: mode, transport, config encryption, digest and its challenge algorithms',
    usage: 'sbd security-profile list --state DIR   (every field of one: sbd security-profile show NAME)',
    run(args, ctx) {
      const { values } = parse(args, { state: { type: 'string' } });
      const rows = withState(required(values.state, '--state'), ({ store }) => store.listSecurityProfiles(), { readonly: true });
      for (const p of rows) ctx.out(profileLine(p));
      return 0;
    },
  },
  {
    path: ['security-profile', 'show'],
    summary: 'every field of one phone security profile, with how many phones use it',
    usage: 'sbd security-profile show NAME --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' } });
      const name = required(positionals[0], 'NAME');
      const lines = withState(
        required(values.state, '--state'),
        ({ store }) => {
          const p = store.getSecurityProfile(name);
          if (!p) throw new UsageError(`no security profile named '${name}'`);
          return profileText(p, profileDeviceCount(store, name));
        },
        { readonly: true },
      );
      for (const l of lines) ctx.out(l);
      return 0;
    },
  },
  {
    path: ['security-profile', 'set'],
    summary: 'create or change a phone security profile (digest algorithms, nonce validity, CAPF authentication mode, ...)',
    usage:
      'sbd security-profile set NAME [--mode non-secure|authenticated|encrypted] [--transport udp|tcp|tls|tcp+udp]\n' +
      '               [--encrypted-config on|off] [--digest on|off] [--digest-algorithms MD5|SHA-256|MD5,SHA-256|SHA-256,MD5]\n' +
      '               [--nonce-validity SECONDS] [--capf-auth none|password|lsc|mic] [--description TEXT] --state DIR\n' +
      '  --digest-algorithms: challenges offered in this order (default MD5: sipp, baresip and Cisco phones answer only\n' +
      '  MD5; put SHA-256 first only for phones that answer it). Digest off is honoured only for authenticated or\n' +
      '  encrypted profiles, whose phones prove themselves with their LSC over TLS.\n' +
      '  --nonce-validity: seconds a digest nonce is accepted (15..3600, default 300); --capf-auth: what a CAPF\n' +
      '  operation scheduled for the profile\'s phones uses when "sbd capf install" names no --auth (default password)',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        state: { type: 'string' },
        mode: { type: 'string' },
        transport: { type: 'string' },
        'encrypted-config': { type: 'string' },
        digest: { type: 'string' },
        'digest-algorithms': { type: 'string' },
        'nonce-validity': { type: 'string' },
        'capf-auth': { type: 'string' },
        description: { type: 'string' },
      });
      const name = required(positionals[0], 'NAME');
      const v = values;
      const c: ProfileChanges = {
        ...(v.mode !== undefined ? { deviceSecurityMode: parseOneOf(v.mode, '--mode', DEVICE_SECURITY_MODES) } : {}),
        ...(v.transport !== undefined ? { transport: parseOneOf(v.transport, '--transport', PROFILE_TRANSPORTS) } : {}),
        ...(v['encrypted-config'] !== undefined ? { tftpEncryptedConfig: parseOnOff(v['encrypted-config'], '--encrypted-config') } : {}),
        ...(v.digest !== undefined ? { digestAuth: parseOnOff(v.digest, '--digest') } : {}),
        ...(v['digest-algorithms'] !== undefined
          ? { digestAlgorithms: parseAlgorithms(v['digest-algorithms'], '--digest-algorithms') }
          : {}),
        ...(v['nonce-validity'] !== undefined ? { nonceValiditySeconds: parseNonceValidity(v['nonce-validity'], '--nonce-validity') } : {}),
        ...(v['capf-auth'] !== undefined ? { capfAuthMode: parseOneOf(v['capf-auth'], '--capf-auth', CAPF_AUTH_MODES) } : {}),
        ...(v.description !== undefined ? { description: v.description } : {}),
      };
      const p = withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.profileSet, detail: name }, () =>
          setSecurityProfile(store, name, c),
        ),
      );
      ctx.out(profileLine(p));
      return 0;
    },
  },
];
