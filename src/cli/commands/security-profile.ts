/**
 * Phone security profiles: list them, and set one's fields (signalling mode and transport, encrypted config,
 * digest, and the digest challenge algorithms its phones are offered, most preferred first). Unnamed fields keep
 * their value; a new profile starts from the default profile's.
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { withState } from '../../store/state.js';
import {
  DEFAULT_SECURITY_PROFILE,
  DEVICE_SECURITY_MODES,
  PROFILE_TRANSPORTS,
  type DeviceSecurityMode,
  type ProfileTransport,
  type SecurityProfileRow,
} from '../../store/index.js';
import { PROFILE_DIGEST_ALGORITHMS, type ProfileDigestAlgorithm } from '../../store/security-profiles.js';

function onOff(v: string | undefined, flag: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new UsageError(`${flag} must be on or off`);
}

function oneOf<T extends string>(v: string | undefined, flag: string, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}`);
  return v as T;
}

function algorithms(v: string | undefined): ProfileDigestAlgorithm[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((s) => s.trim().toUpperCase());
  for (const a of list)
    if (!(PROFILE_DIGEST_ALGORITHMS as readonly string[]).includes(a))
      throw new UsageError(`--digest-algorithms: '${a}' is not one of ${PROFILE_DIGEST_ALGORITHMS.join(', ')}`);
  if (new Set(list).size !== list.length) throw new UsageError('--digest-algorithms: an algorithm is named twice');
  return list as ProfileDigestAlgorithm[];
}

function line(p: SecurityProfileRow): string {
  return [
    p.name,
    p.deviceSecurityMode,
    p.transport,
    `config ${p.tftpEncryptedConfig ? 'encrypted' : 'signed'}`,
    `digest ${p.digestAuth ? p.digestAlgorithms.join(',') : 'off'}`,
  ].join('\t');
}

export const commands: Command[] = [
  {
    path: ['security-profile', 'list'],
    summary: 'list phone security profiles: mode, transport, config encryption, digest and its challenge algorithms',
    usage: 'sbd security-profile list --state DIR',
    run(args, ctx) {
      const { values } = parse(args, { state: { type: 'string' } });
      const rows = withState(required(values.state, '--state'), ({ store }) => store.listSecurityProfiles(), { readonly: true });
      for (const p of rows) ctx.out(line(p));
      return 0;
    },
  },
  {
    path: ['security-profile', 'set'],
    summary: 'create or change a phone security profile (e.g. the digest algorithms its phones are challenged with)',
    usage:
      'sbd security-profile set NAME [--mode non-secure|authenticated|encrypted] [--transport udp|tcp|tls|tcp+udp]\n' +
      '               [--encrypted-config on|off] [--digest on|off] [--digest-algorithms MD5|SHA-256|MD5,SHA-256|SHA-256,MD5]\n' +
      '               [--description TEXT] --state DIR\n' +
      '  --digest-algorithms: challenges offered in this order (default MD5: sipp, baresip and Cisco phones answer only\n' +
      '  MD5; put SHA-256 first only for phones that answer it). Digest off is honoured only for authenticated or\n' +
      '  encrypted profiles, whose phones prove themselves with their LSC over TLS.',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        state: { type: 'string' },
        mode: { type: 'string' },
        transport: { type: 'string' },
        'encrypted-config': { type: 'string' },
        digest: { type: 'string' },
        'digest-algorithms': { type: 'string' },
        description: { type: 'string' },
      });
      const name = required(positionals[0], 'NAME');
      const mode = oneOf<DeviceSecurityMode>(values.mode, '--mode', DEVICE_SECURITY_MODES);
      const transport = oneOf<ProfileTransport>(values.transport, '--transport', PROFILE_TRANSPORTS);
      const enc = onOff(values['encrypted-config'], '--encrypted-config');
      const digest = onOff(values.digest, '--digest');
      const algs = algorithms(values['digest-algorithms']);
      const p = withState(required(values.state, '--state'), ({ store }) => {
        const base = store.getSecurityProfile(name) ?? store.getSecurityProfile(DEFAULT_SECURITY_PROFILE)!;
        return store.putSecurityProfile({
          name,
          description: values.description ?? (base.name === name ? base.description : ''),
          deviceSecurityMode: mode ?? base.deviceSecurityMode,
          transport: transport ?? base.transport,
          tftpEncryptedConfig: enc ?? base.tftpEncryptedConfig,
          digestAuth: digest ?? base.digestAuth,
          digestAlgorithms: algs ?? base.digestAlgorithms,
        });
      });
      ctx.out(line(p));
      return 0;
    },
  },
];
