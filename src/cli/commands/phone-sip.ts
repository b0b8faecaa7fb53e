/**
 * `sbd phone register` and `sbd phone call`: the simulated phone's SIP user agent (src/sim/sip-ua) from the
 * command line — register a line over TLS (or TCP/UDP) with digest and the ITL report, place an SRTP call, send
 * a few seconds of tone and print what was negotiated and how many packets were decrypted. JSON on stdout.
 * `--state DIR --mac MAC` takes the line and digest credentials from the config that phone accepted at its last
 * `sbd phone boot` (`<sipLines><line><name>/<authName>/<authPassword>`), and without `--server` the call control
 * it names (`<processNodeName>`, resolved as `--dns system|none` says); explicit flags override them. `register`
 * then uses the first member of the config's call-manager group that answers (sim/sip-ua/failover.ts).
 */
import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { SipPhone, type SipPhoneOptions } from '../../sim/sip-ua/user-agent.js';
import type { FlowTransport } from '../../sim/sip-ua/sip-flow.js';
import { deviceNameOfMac, loadPhone, readLineCredentials } from '../../sim/phone-folder.js';
import { FailoverRegistration } from '../../sim/sip-ua/failover.js';
import { TrustListViewCache } from '../../sim/trust-list-view.js';
import { heldInPhoneFolder } from '../../sim/sip-ua/device-tl-info.js';
import { callControlFlow, resolverNamed } from '../../sim/name-resolution.js';

const common = {
  server: { type: 'string' },
  transport: { type: 'string' },
  line: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'itl-hash': { type: 'string' },
  'user-agent': { type: 'string' },
  expires: { type: 'string' },
  state: { type: 'string' },
  mac: { type: 'string' },
  dns: { type: 'string' },
} as const;

const USAGE_COMMON =
  '(--server HOST:PORT --line DN [--user U --password P] | --state PHONES --mac MAC [--server HOST:PORT] [--dns system|none]) [--transport tls|tcp|udp] [--ca CM.pem] [--cert LSC.pem --key LSC.key] [--itl-hash HEX] [--user-agent UA] [--expires S]';

type CommonValues = Partial<Record<keyof typeof common, string>>;

/** The line and credentials of the simulated phone's accepted config, under any flag given explicitly. */
async function withPhoneConfig(v: CommonValues): Promise<CommonValues> {
  if (v.state === undefined && v.mac === undefined) return v;
  const deviceName = deviceNameOfMac(required(v.mac, '--mac (with --state)'));
  const c = await readLineCredentials(required(v.state, '--state (with --mac)'), deviceName);
  if (!c) throw new UsageError(`${deviceName} holds no config with a line: boot it first (sbd phone boot)`);
  const fromConfig: CommonValues = {
    line: c.line,
    ...(c.authName && c.authPassword ? { user: c.authName, password: c.authPassword } : {}),
  };
  if (v.server === undefined) {
    const resolver = resolverNamed(v.dns ?? 'system');
    if (!resolver) throw new UsageError(`--dns: '${v.dns}' is not system or none`);
    const flow = await callControlFlow(v.state!, deviceName, (v.transport ?? 'tls') as FlowTransport, resolver);
    fromConfig.server = `${flow.host.includes(':') ? `[${flow.host}]` : flow.host}:${flow.port}`;
  }
  const explicit = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as CommonValues;
  // Explicit --user/--password replace the pair from the config together.
  if (explicit.user !== undefined || explicit.password !== undefined) {
    delete fromConfig.user;
    delete fromConfig.password;
  }
  return { ...fromConfig, ...explicit };
}

function phoneOptions(v: CommonValues): SipPhoneOptions {
  const server = required(v.server, '--server');
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(server);
  if (!m) throw new UsageError(`--server: '${server}' is not HOST:PORT`);
  const transport = (v.transport ?? 'tls') as FlowTransport;
  if (!['tls', 'tcp', 'udp'].includes(transport)) throw new UsageError(`--transport: '${transport}' is not tls, tcp or udp`);
  if ((v.user === undefined) !== (v.password === undefined)) throw new UsageError('--user and --password go together');
  if ((v.cert === undefined) !== (v.key === undefined)) throw new UsageError('--cert and --key go together');
  if (v['itl-hash'] !== undefined && !/^[0-9a-fA-F]{64}$/.test(v['itl-hash']))
    throw new UsageError('--itl-hash: 64 hex digits (SHA-256 of the ITL file)');
  const read = (p: string | undefined, flag: string) => {
    if (p === undefined) return undefined;
    try {
      return readFileSync(p);
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${p}: ${(err as Error).message}`);
    }
  };
  const ca = read(v.ca, '--ca');
  const cert = read(v.cert, '--cert');
  const key = read(v.key, '--key');
  return {
    flow: {
      transport,
      host: m[1]!.replace(/^\[|\]$/g, ''),
      port: intOption(m[2], '--server port', 5061, 1, 65535),
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
    },
    line: required(v.line, '--line'),
    ...(v.user && v.password ? { credentials: { username: v.user, password: v.password } } : {}),
    ...(v['itl-hash'] ? { itlSha256: v['itl-hash'].toLowerCase() } : {}),
    ...(v['user-agent'] ? { userAgent: v['user-agent'] } : {}),
    // A booted phone (--state --mac) reports the ITL/CTL it holds after registering (DeviceTLInfo, issue 18).
    ...(v.state !== undefined && v.mac !== undefined
      ? { trustLists: heldInPhoneFolder(v.state, deviceNameOfMac(v.mac), m[1]!.replace(/^\[|\]$/g, '')) }
      : {}),
  };
}

/** Registers with the first call manager of the phone's config that answers; the ones before it are `skipped`. */
async function registerWithGroup(v: CommonValues, o: SipPhoneOptions, expires: number) {
  const deviceName = deviceNameOfMac(v.mac!);
  const { services } = await loadPhone(v.state!, deviceName, new TrustListViewCache());
  const resolver = resolverNamed(v.dns ?? 'system');
  const skipped: string[] = [];
  const { flow, ...phone } = o;
  const reg = new FailoverRegistration({
    members: services.callManagers,
    transport: flow.transport,
    phone,
    tls: { ...(flow.ca ? { ca: flow.ca } : {}), ...(flow.cert ? { cert: flow.cert, key: flow.key! } : {}) },
    ...(resolver ? { resolver } : {}),
    keepaliveMs: 0,
    // A member that accepts the connection but does not answer is left after this long (refused: at once).
    registerTimeoutMs: 15_000,
    expires,
  });
  try {
    await reg.start();
  } catch (err) {
    reg.close();
    throw err;
  }
  for (const m of services.callManagers) {
    if (m === reg.member) break;
    skipped.push(m.host);
  }
  return Object.assign(reg, { skipped });
}

export const commands: Command[] = [
  {
    path: ['phone', 'register'],
    summary: 'register a simulated phone line over SIP (TLS by default) with digest and its ITL hash',
    usage: `sbd phone register ${USAGE_COMMON}`,
    async run(args, ctx) {
      const { values } = parse(args, common, false);
      const o = phoneOptions(await withPhoneConfig(values));
      const expires = intOption(values.expires, '--expires', 600, 0, 86400);
      // Call control from the phone's config: the first member of its call-manager group that answers (issue 21).
      const group = values.server === undefined && values.state !== undefined && values.mac !== undefined && expires > 0;
      const reg = group ? await registerWithGroup(values, o, expires) : undefined;
      const phone = reg?.phone ?? (await SipPhone.connect(o));
      try {
        const res = reg?.registered ?? (await phone.register(expires));
        ctx.out(
          JSON.stringify({
            status: res.status,
            reason: res.reason,
            contacts: res.getAll('Contact'),
            associated: res.get('P-Associated-URI') ?? null,
            trustReport: phone.lastTrustReport?.status ?? null,
            ...(reg ? { callManager: reg.member!.host, skipped: reg.skipped } : {}),
          }),
        );
        return 0;
      } finally {
        reg?.close();
        phone.close();
      }
    },
  },
  {
    path: ['phone', 'call'],
    summary: 'register, call a number with SDES SRTP, send tone for a while, hang up; prints suite and packet counts',
    usage: `sbd phone call ${USAGE_COMMON} --to NUMBER [--seconds N]`,
    async run(args, ctx) {
      const { values } = parse(args, { ...common, to: { type: 'string' }, seconds: { type: 'string' } }, false);
      const o = phoneOptions(await withPhoneConfig(values));
      const to = required(values.to, '--to');
      const seconds = intOption(values.seconds, '--seconds', 2, 1, 600);
      const phone = await SipPhone.connect(o);
      try {
        await phone.register(intOption(values.expires, '--expires', 600, 60, 86400));
        const call = await phone.call(to);
        await call.media.sendTone(seconds * 50);
        const bye = await call.hangup();
        const s = call.media.stats;
        ctx.out(
          JSON.stringify({
            suite: call.suite ?? null,
            security: call.securityIndication ?? null,
            sent: s.sent,
            received: s.received,
            refused: s.refused,
            bye: bye.status,
          }),
        );
        return call.suite && Object.keys(s.refused).length === 0 ? 0 : 1;
      } finally {
        phone.close();
      }
    },
  },
];
