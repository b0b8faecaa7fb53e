/**
 * SIP administration: trunks (security profile, ACL, route patterns, outgoing credentials), partitions, calling
 * search spaces, presence groups and a device's routing settings. They mirror the admin shell's words.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Command, CommandContext } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { withState } from '../../store/state.js';
import { SIP_LIMITS, SIP_REQUEST_KINDS, SIP_TRANSPORTS, type SipRequestAcl, type SipTransport, type TrunkRow } from '../../store/index.js';
import { encryptTrunkPassword } from '../../sip/auth/trunk-secret.js';

const state = { state: { type: 'string' } } as const;

function acl(text: string | undefined): Partial<SipRequestAcl> {
  const out: Partial<SipRequestAcl> = {};
  if (!text) return out;
  for (const k of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(SIP_REQUEST_KINDS as readonly string[]).includes(k))
      throw new UsageError(`--allow: '${k}' is not one of ${SIP_REQUEST_KINDS.join(', ')}`);
    out[k as keyof SipRequestAcl] = true;
  }
  return out;
}

/** A CA bundle file's text; the size is checked before reading (the store checks the certificates). */
function caFile(path: string, flag: string): string {
  try {
    const size = statSync(path).size;
    if (size > SIP_LIMITS.maxTrunkCaBytes)
      throw new UsageError(`${flag} ${path}: ${size} bytes; a trunk's CA bundle holds at most ${SIP_LIMITS.maxTrunkCaBytes}`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${flag} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** `store:N (first subject CN)` for a stored bundle; `-` = the daemon option or the system bundle. */
function caSummary(t: TrunkRow): string {
  if (t.tlsCaPem === null) return 'ca:-';
  const blocks = t.tlsCaPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const cn = /CN=([^\n]*)/.exec(new X509Certificate(blocks[0]!).subject)?.[1] ?? '?';
  return `ca:${blocks.length} (${cn}${blocks.length > 1 ? ', …' : ''})`;
}

/**
 * How sbd recognises the trunk's incoming requests (issue 16 row 11): a TLS trunk by its certificate (issued by
 * its CA bundle); a UDP/TCP trunk by its source address, which anyone can put on a UDP datagram — weak unless
 * digest proves who sends (`--digest-user`).
 */
function identity(t: TrunkRow): string {
  if (t.transport === 'tls') return 'id:tls-certificate';
  return t.digestAuth ? 'id:address+digest' : 'id:address-only(WEAK)';
}

const WEAK_TRUNK =
  'is recognised by its source address alone, which anyone can spoof over UDP: give it --digest-user (digest), or use --transport tls with --ca';

function list(ctx: CommandContext, rows: string[][]): number {
  for (const r of rows) ctx.out(r.join('\t'));
  return 0;
}

export const commands: Command[] = [
  {
    path: ['trunk', 'add'],
    summary: 'add or replace a SIP trunk: peer address, digest challenge, ACL of request kinds, inbound CSS',
    usage:
      'sbd trunk add NAME --host IP --port N --transport udp|tcp|tls [--digest-user APPUSER] [--challenge 401|407] [--app-auth]\n' +
      '               [--allow ood-refer,unsolicited-notify,replaces,presence-subscribe] [--css CSS] [--ca CA-BUNDLE.pem] --state DIR\n' +
      "  --ca: PEM certificates the trunk's TLS certificate must chain to (replacing a trunk without --ca keeps its bundle)",
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...state,
        host: { type: 'string' },
        port: { type: 'string' },
        transport: { type: 'string' },
        'digest-user': { type: 'string' },
        challenge: { type: 'string' },
        'app-auth': { type: 'boolean' },
        allow: { type: 'string' },
        css: { type: 'string' },
        ca: { type: 'string' },
      });
      const ca = values.ca !== undefined ? caFile(values.ca, '--ca') : undefined;
      const transport = values.transport ?? 'udp';
      if (!(SIP_TRANSPORTS as readonly string[]).includes(transport))
        throw new UsageError(`--transport must be one of ${SIP_TRANSPORTS.join(', ')}`);
      const challenge = intOption(values.challenge, '--challenge', 407, 401, 407);
      if (challenge !== 401 && challenge !== 407) throw new UsageError('--challenge must be 401 or 407');
      const t = withState(required(values.state, '--state'), ({ store }) =>
        store.sip.putTrunk({
          name: required(positionals[0], 'NAME'),
          host: required(values.host, '--host'),
          port: intOption(values.port, '--port', 5060, 1, 65535),
          transport: transport as SipTransport,
          digestAuth: values['digest-user'] !== undefined,
          challengeStatus: challenge,
          digestUser: values['digest-user'] ?? null,
          appLevelAuthorization: values['app-auth'] ?? false,
          acl: acl(values.allow),
          css: values.css ?? null,
          ...(ca !== undefined ? { tlsCaPem: ca } : {}),
        }),
      );
      ctx.out(
        `trunk ${t.name}: ${t.transport}:${t.host}:${t.port}, digest ${t.digestAuth ? `${t.challengeStatus} as ${t.digestUser}` : 'off'}, ` +
          `allows ${SIP_REQUEST_KINDS.filter((k) => t.acl[k]).join(', ') || 'none of the ACL kinds'}, ${identity(t)}, ${caSummary(t)}`,
      );
      if (identity(t) === 'id:address-only(WEAK)') ctx.err(`warning: trunk ${t.name} ${WEAK_TRUNK}`);
      return 0;
    },
  },
  {
    path: ['trunk', 'list'],
    summary: 'list SIP trunks (with how each is recognised: TLS certificate, address+digest, or address only — weak)',
    usage: 'sbd trunk list --state DIR\n' + '  columns: name, transport:host:port, digest, ACL kinds, CSS, identification, CA bundle',
    run(args, ctx) {
      const { values } = parse(args, state, false);
      return list(
        ctx,
        withState(
          required(values.state, '--state'),
          ({ store }) =>
            store.sip
              .listTrunks()
              .map((t) => [
                t.name,
                `${t.transport}:${t.host}:${t.port}`,
                t.digestAuth ? `digest ${t.challengeStatus} ${t.digestUser}` : 'no digest',
                SIP_REQUEST_KINDS.filter((k) => t.acl[k]).join(',') || '-',
                t.css ?? '-',
                identity(t),
                caSummary(t),
              ]),
          { readonly: true },
        ),
      );
    },
  },
  {
    path: ['trunk', 'ca'],
    summary: "set or clear the CA bundle a trunk's TLS certificate is verified against (seen by a running daemon on its next dial)",
    usage:
      'sbd trunk ca NAME --file CA-BUNDLE.pem | --clear --state DIR\n' +
      "  cleared: the daemon's trunkTlsCa option for the trunk, else the system bundle",
    run(args, ctx) {
      const { values, positionals } = parse(args, { ...state, file: { type: 'string' }, clear: { type: 'boolean' } });
      if ((values.file === undefined) === !values.clear) throw new UsageError('give exactly one of --file FILE or --clear');
      const pem = values.file !== undefined ? caFile(values.file, '--file') : null;
      const t = withState(required(values.state, '--state'), ({ store }) => store.sip.setTrunkCa(required(positionals[0], 'NAME'), pem));
      ctx.out(`trunk ${t.name}: ${caSummary(t)}`);
      return 0;
    },
  },
  {
    path: ['trunk', 'remove'],
    summary: 'remove a SIP trunk (its route patterns and credentials go with it)',
    usage: 'sbd trunk remove NAME --state DIR',
    run(args) {
      const { values, positionals } = parse(args, state);
      withState(required(values.state, '--state'), ({ store }) => store.sip.removeTrunk(required(positionals[0], 'NAME')));
      return 0;
    },
  },
  {
    path: ['trunk', 'credential'],
    summary: "store (encrypted) the password answering the trunk's digest challenges in a realm",
    usage: 'sbd trunk credential NAME --realm R --username U --password P --state DIR',
    run(args) {
      const { values, positionals } = parse(args, {
        ...state,
        realm: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
      });
      const name = required(positionals[0], 'NAME');
      const realm = required(values.realm, '--realm');
      withState(required(values.state, '--state'), ({ store, layout }) =>
        store.sip.putTrunkCredential(
          name,
          realm,
          required(values.username, '--username'),
          encryptTrunkPassword(layout, name, realm, required(values.password, '--password')),
        ),
      );
      return 0;
    },
  },
  {
    path: ['route', 'add'],
    summary: 'send numbers matching a pattern (digits, X, trailing !) in a partition to a trunk',
    usage: 'sbd route add PATTERN --trunk NAME [--partition P] --state DIR',
    run(args) {
      const { values, positionals } = parse(args, { ...state, trunk: { type: 'string' }, partition: { type: 'string' } });
      withState(required(values.state, '--state'), ({ store }) =>
        store.sip.putRoutePattern(required(positionals[0], 'PATTERN'), values.partition ?? null, required(values.trunk, '--trunk')),
      );
      return 0;
    },
  },
  {
    path: ['partition', 'add'],
    summary: 'add a partition',
    usage: 'sbd partition add NAME [--description D] --state DIR',
    run(args) {
      const { values, positionals } = parse(args, { ...state, description: { type: 'string' } });
      withState(required(values.state, '--state'), ({ store }) =>
        store.sip.putPartition(required(positionals[0], 'NAME'), values.description ?? ''),
      );
      return 0;
    },
  },
  {
    path: ['partition', 'list'],
    summary: 'list partitions',
    usage: 'sbd partition list --state DIR',
    run(args, ctx) {
      const { values } = parse(args, state, false);
      return list(
        ctx,
        withState(required(values.state, '--state'), ({ store }) => store.sip.listPartitions().map((p) => [p.name, p.description]), {
          readonly: true,
        }),
      );
    },
  },
  {
    path: ['partition', 'remove'],
    summary: 'remove a partition nothing uses',
    usage: 'sbd partition remove NAME --state DIR',
    run(args) {
      const { values, positionals } = parse(args, state);
      withState(required(values.state, '--state'), ({ store }) => store.sip.removePartition(required(positionals[0], 'NAME')));
      return 0;
    },
  },
  {
    path: ['css', 'add'],
    summary: 'add or replace a calling search space: partitions in search order',
    usage: 'sbd css add NAME --partitions P1,P2 [--description D] --state DIR',
    run(args) {
      const { values, positionals } = parse(args, { ...state, partitions: { type: 'string' }, description: { type: 'string' } });
      const parts = (values.partitions ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      withState(required(values.state, '--state'), ({ store }) =>
        store.sip.putCss(required(positionals[0], 'NAME'), parts, values.description ?? ''),
      );
      return 0;
    },
  },
  {
    path: ['css', 'list'],
    summary: 'list calling search spaces',
    usage: 'sbd css list --state DIR',
    run(args, ctx) {
      const { values } = parse(args, state, false);
      return list(
        ctx,
        withState(required(values.state, '--state'), ({ store }) => store.sip.listCss().map((c) => [c.name, c.partitions.join(',')]), {
          readonly: true,
        }),
      );
    },
  },
  {
    path: ['css', 'remove'],
    summary: 'remove a calling search space nothing uses',
    usage: 'sbd css remove NAME --state DIR',
    run(args) {
      const { values, positionals } = parse(args, state);
      withState(required(values.state, '--state'), ({ store }) => store.sip.removeCss(required(positionals[0], 'NAME')));
      return 0;
    },
  },
  {
    path: ['presence', 'group'],
    summary: 'add a presence group',
    usage: 'sbd presence group NAME --state DIR',
    run(args) {
      const { values, positionals } = parse(args, state);
      withState(required(values.state, '--state'), ({ store }) => store.sip.putPresenceGroup(required(positionals[0], 'NAME')));
      return 0;
    },
  },
  {
    path: ['presence', 'policy'],
    summary: 'allow or deny members of one presence group watching another',
    usage: 'sbd presence policy SUBSCRIBER-GROUP TARGET-GROUP allow|deny --state DIR',
    run(args) {
      const { values, positionals } = parse(args, state);
      const word = required(positionals[2], 'allow|deny');
      if (word !== 'allow' && word !== 'deny') throw new UsageError('the policy is allow or deny');
      withState(required(values.state, '--state'), ({ store }) =>
        store.sip.setPresencePolicy(
          required(positionals[0], 'SUBSCRIBER-GROUP'),
          required(positionals[1], 'TARGET-GROUP'),
          word === 'allow',
        ),
      );
      return 0;
    },
  },
  {
    path: ['device', 'routing'],
    summary: "set a phone's line partition, calling search space and presence group ('none' clears one)",
    usage: 'sbd device routing SEP<MAC> [--partition P|none] [--css C|none] [--presence-group G|none] --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...state,
        partition: { type: 'string' },
        css: { type: 'string' },
        'presence-group': { type: 'string' },
      });
      const v = (s: string | undefined) => (s === undefined ? undefined : s === 'none' ? null : s);
      const patch = Object.fromEntries(
        Object.entries({ partition: v(values.partition), css: v(values.css), presenceGroup: v(values['presence-group']) }).filter(
          ([, x]) => x !== undefined,
        ),
      );
      const s = withState(required(values.state, '--state'), ({ store }) =>
        store.sip.setDeviceSettings(required(positionals[0], 'SEP<MAC>'), patch),
      );
      ctx.out(`${s.device}: partition ${s.partition ?? '<None>'}, css ${s.css ?? '<None>'}, presence group ${s.presenceGroup ?? '<None>'}`);
      return 0;
    },
  },
];
