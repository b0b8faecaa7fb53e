/**
 * Phones on the admin console (issue 18 item 7), the same functions as `sbd device …` (src/cluster/devices.ts):
 *   device add SEP<MAC> MODEL [profile P] [dn N] [digest-user U] [digest-password ask] [description TEXT]
 *   device list · device show SEP<MAC> · device delete SEP<MAC>
 *   set device security-profile SEP<MAC> PROFILE
 *   set device config-key SEP<MAC> generate [128|256] | HEX | clear
 * Every change is an audit row (cluster/audit.ts), as on the CLI. A generated digest password or config key is
 * printed once: sbd keeps the password only as hashes (and encrypted for delivery) and the key for configs.
 */
import type { AdminCommand } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import { withState } from '../../store/state.js';
import { AuditAction } from '../../cluster/audit.js';
import { asArgs, audited } from './store-change.js';
import { prepareLogin } from '../../cluster/phone-digest.js';
import {
  addPhone,
  CONFIG_KEY_BITS,
  describeDevice,
  deviceLine,
  removePhone,
  setConfigKey,
  setDeviceSecurityProfile,
  type AddPhoneInput,
} from '../../cluster/devices.js';

const ADD_KEYS = ['profile', 'dn', 'digest-user', 'digest-password', 'description'] as const;

/** `KEY VALUE` pairs after the device name and model. */
function addInput(args: readonly string[]): { input: AddPhoneInput; askPassword: boolean } {
  const input: AddPhoneInput = { name: args[0]!, model: args[1]! };
  let askPassword = false;
  const rest = args.slice(2);
  if (rest.length % 2 !== 0) throw new AdminError(AdminErrorCode.args, `options come in pairs: ${ADD_KEYS.join(', ')}`);
  for (let i = 0; i < rest.length; i += 2) {
    const k = rest[i]!.toLowerCase();
    const v = rest[i + 1]!;
    if (k === 'profile') input.securityProfile = v;
    else if (k === 'dn') input.directoryNumber = v;
    else if (k === 'digest-user') input.digestUser = v;
    else if (k === 'description') input.description = v;
    else if (k === 'digest-password' && v === 'ask') askPassword = true;
    else if (k === 'digest-password')
      throw new AdminError(AdminErrorCode.args, 'digest-password takes "ask" (the password is never typed on the command line)');
    else throw new AdminError(AdminErrorCode.args, `unknown option "${rest[i]}": ${ADD_KEYS.join(', ')}`);
  }
  return { input, askPassword };
}

function configKeyArg(args: readonly string[]): { generate: 128 | 256 } | { hex: string } | 'clear' {
  const v = args[1]!.toLowerCase();
  if (v === 'clear') {
    if (args.length > 2) throw new AdminError(AdminErrorCode.args, 'clear takes nothing after it');
    return 'clear';
  }
  if (v === 'generate') {
    const bits = Number(args[2] ?? 128);
    if (!(CONFIG_KEY_BITS as readonly number[]).includes(bits)) throw new AdminError(AdminErrorCode.args, 'generate 128 or generate 256');
    return { generate: bits as 128 | 256 };
  }
  if (args.length > 2) throw new AdminError(AdminErrorCode.args, 'a hex key takes nothing after it');
  return { hex: args[1]! };
}

export function deviceCommands(stateDir: string): AdminCommand[] {
  const names = () => withState(stateDir, ({ store }) => store.listDevices().map((d) => d.name), { readonly: true });
  return [
    {
      words: ['device', 'add'],
      params: 'SEP<MAC> MODEL [profile P] [dn N] [digest-user U] [digest-password ask] [description TEXT]',
      summary: 'add a phone; with digest (its profile asks for it), the password is generated and shown once unless asked for',
      minArgs: 2,
      maxArgs: 12,
      run: async (args, io) => {
        const { input, askPassword } = addInput(args);
        if (askPassword) {
          input.digestPassword = await io.secret('Digest password: ');
          if ((await io.secret('Digest password again: ')) !== input.digestPassword)
            throw new AdminError(AdminErrorCode.args, 'the two passwords differ');
        }
        const login = await prepareLogin();
        const r = await asArgs(() =>
          audited(stateDir, AuditAction.deviceAdd, input.name.toUpperCase(), (s) => addPhone(s.store, s.layout.keysDir, input, login)),
        );
        io.out(`added ${r.device.name} (${r.device.model}, ${r.device.securityProfile})`);
        if (r.kept) io.out(`digest user ${r.kept.userid} (realm ${r.kept.realm}) exists: its digest password is kept`);
        if (r.setup) {
          io.out(`digest user ${r.setup.userid} (realm ${r.setup.realm})${r.setup.createdUser ? ', created' : ''}`);
          if (r.setup.generated) io.out(`digest password (shown once, not stored in clear): ${r.setup.password}`);
        }
        for (const n of r.notice.notes) io.out(n);
        for (const w of r.notice.warnings) io.out(`WARNING: ${w}`);
      },
    },
    {
      words: ['device', 'list'],
      params: '',
      summary: 'the phones: name, model, directory number, security profile, LSC / config key',
      run: (_args, io) =>
        io.out(withState(stateDir, ({ store }) => store.listDevices().map(deviceLine), { readonly: true }).join('\n') || '(no devices)'),
    },
    {
      words: ['device', 'show'],
      params: 'SEP<MAC>',
      summary: 'one phone: model, line, security profile, digest user, LSC, config key, CAPF operation',
      minArgs: 1,
      maxArgs: 1,
      complete: names,
      run: (args, io) =>
        asArgs(() => io.out(withState(stateDir, ({ store }) => describeDevice(store, args[0]!), { readonly: true }).join('\n'))),
    },
    {
      words: ['device', 'delete'],
      params: 'SEP<MAC>',
      summary: 'remove a phone (asks first); its digest user stays',
      minArgs: 1,
      maxArgs: 1,
      complete: names,
      run: async (args, io) => {
        const name = args[0]!.toUpperCase();
        if (!(await io.confirm(`Delete ${name}? Its config files stop being served.`))) {
          io.out('cancelled');
          return;
        }
        const d = await asArgs(() => audited(stateDir, AuditAction.deviceRemove, name, (s) => removePhone(s.store, name)));
        io.out(`deleted ${d.name}${d.digestUser ? ` (digest user ${d.digestUser} kept)` : ''}`);
      },
    },
    {
      words: ['set', 'device', 'security-profile'],
      params: 'SEP<MAC> PROFILE',
      summary: "move a phone to another security profile (its config and registration follow at the phone's next reset)",
      minArgs: 2,
      maxArgs: 2,
      complete: names,
      run: async (args, io) => {
        const r = await asArgs(() =>
          audited(stateDir, AuditAction.deviceSet, `${args[0]!.toUpperCase()} security-profile ${args[1]}`, (s) =>
            setDeviceSecurityProfile(s.store, args[0]!, args[1]!),
          ),
        );
        io.out(`${r.device.name}: security profile ${r.device.securityProfile}`);
        for (const w of r.warnings) io.out(`WARNING: ${w}`);
      },
    },
    {
      words: ['set', 'device', 'config-key'],
      params: 'SEP<MAC> generate [128|256] | HEX | clear',
      summary: "a phone's symmetric key for encrypted configs when it has no LSC (generated keys are shown once)",
      minArgs: 2,
      maxArgs: 3,
      complete: names,
      run: async (args, io) => {
        const key = configKeyArg(args);
        const detail = `${args[0]!.toUpperCase()} config-key ${key === 'clear' ? 'clear' : 'generate' in key ? 'generate' : 'set'}`;
        const r = await asArgs(() => audited(stateDir, AuditAction.deviceSet, detail, (s) => setConfigKey(s.store, args[0]!, key)));
        io.out(`${r.device.name}: config key ${r.device.symmetricKeyHex ? 'set' : 'cleared'}`);
        if (r.shownKeyHex) io.out(`config key (shown once; enter it on the phone): ${r.shownKeyHex}`);
        for (const n of r.notes) io.out(n);
      },
    },
  ];
}
