/** `sbd user …`: end, application and admin users — passwords, PINs, legacy import, login, unlock. */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { openState, withState, type State } from '../../store/state.js';
import { AuditAction, audited, currentAdminUser } from '../../cluster/audit.js';
import { importLegacy, login, setPassword, verifyPin, type LegacyAlgorithm } from '../../credentials/index.js';
import { USER_KINDS, type UserKind } from '../../store/index.js';

const stateOpt = { state: { type: 'string' } } as const;

/** Longest secret read from stdin. */
export const SECRET_INPUT_LIMIT = 4096;

/**
 * A secret from the environment variable, else the first line of stdin (a pipe, or the terminal without echo).
 * Never from the command line, where every user of the machine can read it in the process list.
 */
export async function readSecret(envName: string, label: string): Promise<string> {
  const fromEnv = process.env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write(`${label}: `);
    stdin.setRawMode(true);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stdin as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      const text = Buffer.concat(chunks).toString('utf8');
      if (/[\r\n\u0004]/.test(text) || size > SECRET_INPUT_LIMIT) break;
    }
  } finally {
    if (stdin.isTTY) {
      stdin.setRawMode(false);
      process.stderr.write('\n');
    }
    stdin.pause();
  }
  if (size > SECRET_INPUT_LIMIT) throw new UsageError(`${label} longer than ${SECRET_INPUT_LIMIT} bytes`);
  const line =
    Buffer.concat(chunks)
      .toString('utf8')
      .split(/[\r\n\u0004]/)[0] ?? '';
  if (line === '') throw new UsageError(`no ${label} given: set ${envName} or write it on standard input`);
  return line;
}

/** Like withState, but keeps the store open until the async work (and its audit record) has finished. */
export async function withStateAsync<T>(
  dir: string,
  fn: (s: State) => Promise<T>,
  options: { create?: boolean; readonly?: boolean } = {},
): Promise<T> {
  const s = openState(dir, options);
  try {
    return await fn(s);
  } finally {
    s.store.close();
  }
}

function kindOf(value: string | undefined): UserKind | undefined {
  if (value === undefined) return undefined;
  if (!(USER_KINDS as readonly string[]).includes(value)) throw new UsageError(`--kind must be one of ${USER_KINDS.join(', ')}`);
  return value as UserKind;
}

export const commands: Command[] = [
  {
    path: ['user', 'add'],
    summary: 'create a user or set its password (scrypt) and PIN; stores SIP digest HA1 for the realm',
    usage:
      'sbd user add NAME [--password P] [--pin N] [--realm R] [--kind end|application|admin] --state DIR   (password: --password, SBD_PASSWORD or stdin)',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...stateOpt,
        password: { type: 'string' },
        pin: { type: 'string' },
        realm: { type: 'string' },
        kind: { type: 'string' },
      });
      const name = required(positionals[0], 'NAME');
      const kind = kindOf(values.kind);
      const password = values.password ?? (await readSecret('SBD_PASSWORD', 'password'));
      const dir = required(values.state, '--state');
      await withStateAsync(dir, async (s) => {
        const u = await audited(s.store, { user: currentAdminUser(), action: AuditAction.userSet, detail: name }, () =>
          setPassword(s.store, { userid: name, password, pin: values.pin, realm: values.realm, kind }),
        );
        ctx.out(
          `user ${u.userid} (${u.kind}): password ${u.algorithm} ${u.params ?? ''}${u.pinAlgorithm ? `, PIN ${u.pinAlgorithm}` : ''}; digest HA1 (MD5, SHA-256) for realm ${values.realm ?? s.store.getParam('SipStationRealm')}`,
        );
      });
      return 0;
    },
  },
  {
    path: ['user', 'import'],
    summary: "take over a user's legacy SHA-1/SHA-2 password hash; it is re-hashed to scrypt at the first login",
    usage: 'sbd user import NAME --legacy-sha1 HEX|--legacy-sha256 HEX|--legacy-sha512 HEX [--kind K] --state DIR',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...stateOpt,
        'legacy-sha1': { type: 'string' },
        'legacy-sha256': { type: 'string' },
        'legacy-sha512': { type: 'string' },
        kind: { type: 'string' },
      });
      const name = required(positionals[0], 'NAME');
      const given = (['sha1', 'sha256', 'sha512'] as const).filter((a) => values[`legacy-${a}`] !== undefined);
      if (given.length !== 1) throw new UsageError('give exactly one of --legacy-sha1, --legacy-sha256, --legacy-sha512');
      const algorithm: LegacyAlgorithm = given[0]!;
      const kind = kindOf(values.kind);
      const dir = required(values.state, '--state');
      const u = await withStateAsync(dir, (s) =>
        audited(s.store, { user: currentAdminUser(), action: AuditAction.userImport, detail: `${name} ${algorithm}` }, () =>
          importLegacy(s.store, { userid: name, algorithm, hexDigest: values[`legacy-${algorithm}`]!, kind }),
        ),
      );
      ctx.out(`user ${u.userid} (${u.kind}): legacy ${u.algorithm} hash imported; it is replaced by scrypt at the first successful login`);
      return 0;
    },
  },
  {
    path: ['user', 'login'],
    summary: 'check a password (or --pin) with lockout; migrates a legacy hash to scrypt on success',
    usage: 'sbd user login NAME [--pin] --state DIR   (secret from SBD_PASSWORD / SBD_PIN or stdin)',
    async run(args, ctx) {
      const { values, positionals } = parse(args, { ...stateOpt, pin: { type: 'boolean' } });
      const name = required(positionals[0], 'NAME');
      const dir = required(values.state, '--state');
      const secret = values.pin ? await readSecret('SBD_PIN', 'PIN') : await readSecret('SBD_PASSWORD', 'password');
      await withStateAsync(dir, async (s) => {
        const r = await audited(
          s.store,
          { user: name.slice(0, 128) || '?', action: AuditAction.login, detail: values.pin ? 'pin' : 'password', recordRefusals: true },
          () => (values.pin ? verifyPin(s.store, name, secret) : login(s.store, name, secret)),
        );
        ctx.out(`login ok: ${r.user.userid} (${r.user.kind})`);
        if (r.migratedFrom) ctx.out(`credential re-hashed: ${r.migratedFrom} -> scrypt`);
      });
      return 0;
    },
  },
  {
    path: ['user', 'unlock'],
    summary: 'clear the failed-login count and lock of a user',
    usage: 'sbd user unlock NAME --state DIR',
    async run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const name = required(positionals[0], 'NAME');
      await withStateAsync(required(values.state, '--state'), (s) =>
        audited(s.store, { user: currentAdminUser(), action: AuditAction.userUnlock, detail: name }, () => s.store.unlockUser(name)),
      );
      ctx.out(`user ${name} unlocked`);
      return 0;
    },
  },
  {
    path: ['user', 'list'],
    summary: 'list users with their kind, algorithm, failures and lock',
    usage: 'sbd user list --state DIR',
    run(args, ctx) {
      const { values } = parse(args, stateOpt, false);
      withState(
        required(values.state, '--state'),
        ({ store }) => {
          for (const u of store.listUsers()) {
            ctx.out(
              `${u.userid}  ${u.kind}  ${u.algorithm}${u.pinAlgorithm ? ` pin:${u.pinAlgorithm}` : ''}  failures ${u.failedAttempts}${u.lockedUntil && Date.parse(u.lockedUntil) > Date.now() ? `  locked until ${u.lockedUntil}` : ''}`,
            );
          }
        },
        { readonly: true },
      );
      return 0;
    },
  },
];
