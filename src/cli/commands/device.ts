/**
 * `sbd device show|delete|set|config-key` (issue 18 item 7): the same functions as the console's `device …`
 * (src/cluster/devices.ts). `sbd device add|list|digest-reset` live in cluster.ts.
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { withState, type State } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser, type AuditActionName } from '../../cluster/audit.js';
import { CONFIG_KEY_BITS, describeDevice, removePhone, setConfigKey, setDeviceSecurityProfile } from '../../cluster/devices.js';

const stateOpt = { state: { type: 'string' } } as const;

function audited<T>(dir: string, action: AuditActionName, detail: string, fn: (s: State) => T): T {
  return withState(dir, (s) => auditedSync(s.store, { user: currentAdminUser(), action, detail }, () => fn(s)));
}

export const commands: Command[] = [
  {
    path: ['device', 'show'],
    summary: 'one phone: model, line, security profile, digest user, LSC, config key, CAPF operation',
    usage: 'sbd device show SEP<MAC> --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const name = required(positionals[0], 'SEP<MAC>');
      for (const l of withState(required(values.state, '--state'), ({ store }) => describeDevice(store, name), { readonly: true }))
        ctx.out(l);
      return 0;
    },
  },
  {
    path: ['device', 'delete'],
    summary: 'remove a phone (its trust report and routing settings go with it; its digest user stays)',
    usage: 'sbd device delete SEP<MAC> --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const name = required(positionals[0], 'SEP<MAC>').toUpperCase();
      const d = audited(required(values.state, '--state'), AuditAction.deviceRemove, name, ({ store }) => removePhone(store, name));
      ctx.out(`deleted ${d.name}${d.digestUser ? ` (digest user ${d.digestUser} kept)` : ''}`);
      return 0;
    },
  },
  {
    path: ['device', 'set'],
    summary: 'move a phone to another security profile',
    usage: 'sbd device set SEP<MAC> --security-profile P --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, { ...stateOpt, 'security-profile': { type: 'string' } });
      const name = required(positionals[0], 'SEP<MAC>').toUpperCase();
      const profile = required(values['security-profile'], '--security-profile');
      const r = audited(required(values.state, '--state'), AuditAction.deviceSet, `${name} security-profile ${profile}`, ({ store }) =>
        setDeviceSecurityProfile(store, name, profile),
      );
      ctx.out(`${r.device.name}: security profile ${r.device.securityProfile}`);
      for (const w of r.warnings) ctx.err(`WARNING: ${w}`);
      return 0;
    },
  },
  {
    path: ['device', 'config-key'],
    summary: "a phone's symmetric key for encrypted configs (the non-PKI .enc.sgn path, used while it has no LSC)",
    usage:
      'sbd device config-key SEP<MAC> --generate [--bits 128|256] | --key HEX | --clear --state DIR\n' +
      '  --generate: a random key, printed once (it is entered on the phone); --key: 32 or 64 hex digits',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...stateOpt,
        generate: { type: 'boolean' },
        bits: { type: 'string' },
        key: { type: 'string' },
        clear: { type: 'boolean' },
      });
      const name = required(positionals[0], 'SEP<MAC>').toUpperCase();
      if ([values.generate, values.key !== undefined, values.clear].filter(Boolean).length !== 1)
        throw new UsageError('give exactly one of --generate, --key HEX, --clear');
      if (values.bits !== undefined && !values.generate) throw new UsageError('--bits goes with --generate');
      const bits = Number(values.bits ?? 128);
      if (!(CONFIG_KEY_BITS as readonly number[]).includes(bits)) throw new UsageError('--bits must be 128 or 256');
      const key = values.clear ? ('clear' as const) : values.generate ? { generate: bits as 128 | 256 } : { hex: values.key! };
      const detail = `${name} config-key ${values.clear ? 'clear' : values.generate ? 'generate' : 'set'}`;
      const r = audited(required(values.state, '--state'), AuditAction.deviceSet, detail, ({ store }) => setConfigKey(store, name, key));
      ctx.out(`${r.device.name}: config key ${r.device.symmetricKeyHex ? 'set' : 'cleared'}`);
      if (r.shownKeyHex) ctx.out(`config key (shown once; enter it on the phone): ${r.shownKeyHex}`);
      for (const n of r.notes) ctx.out(n);
      return 0;
    },
  },
];
