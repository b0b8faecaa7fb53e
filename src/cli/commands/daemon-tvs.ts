/** `sbd daemon tvs` (sbd-tvsd: the flags; daemons/tvsd.ts runs it) and `sbd tvs query`, the TVS client as a phone uses it. */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { ktlsChoice, ktlsOptions } from '../ktls.js';
import { UsageError } from '../../lib/errors.js';
import { withState } from '../../store/state.js';
import { runTvsd } from '../../daemons/tvsd.js';
import { roleName } from '../../trust/tags.js';
import { queryTvs, tvsCertificatesFromTrustList } from '../../tvs/client.js';
import { TVS_SERVER_DEFAULTS, tvsIdentity } from '../../tvs/server.js';
import { TTL_MAX_SECONDS } from '../../tvs/core/verify.js';

/** `HOST:PORT`, `[v6]:PORT` or `HOST` (default port). */
export function hostPort(text: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`"${text}" is not HOST[:PORT]`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`port in "${text}" must be 1..65535`);
  return { host: m[1]!, port };
}

export const commands: Command[] = [
  {
    path: ['daemon', 'tvs'],
    summary: "run the TVS server (sbd-tvsd): answers phones' VERIFY_REQUESTs from the store over TLS",
    usage:
      'sbd daemon tvs (--state DIR | --store-url postgres://USER@HOST:PORT/DB) [--bind ADDR] [--port N] [--node NAME] [--ttl SECONDS] [--max-connections N] [--tls-engine node|native [--ktls|--no-ktls]]',
    async run(args) {
      const { values } = parse(
        args,
        {
          state: { type: 'string' },
          // The node's PostgreSQL in a cluster (issue 21, docs/cluster.md); its password comes from PGPASSWORD.
          'store-url': { type: 'string' },
          bind: { type: 'string' },
          port: { type: 'string' },
          node: { type: 'string' },
          ttl: { type: 'string' },
          'max-connections': { type: 'string' },
          'tls-engine': { type: 'string' },
          ...ktlsOptions,
        },
        false,
      );
      const tlsEngine = values['tls-engine'] ?? TVS_SERVER_DEFAULTS.tlsEngine;
      if (tlsEngine !== 'node' && tlsEngine !== 'native') throw new UsageError('--tls-engine must be node or native');
      const ktls = ktlsChoice(values, tlsEngine);
      return runTvsd({
        tlsEngine,
        ktls,
        ...(values['store-url'] ? { storeUrl: values['store-url'] } : { stateDir: required(values.state, '--state') }),
        host: values.bind ?? TVS_SERVER_DEFAULTS.host,
        port: intOption(values.port, '--port', TVS_SERVER_DEFAULTS.port, 0, 65535),
        ...(values.node ? { node: values.node } : {}),
        ttlSeconds: intOption(values.ttl, '--ttl', TVS_SERVER_DEFAULTS.ttlSeconds, 1, TTL_MAX_SECONDS),
        maxConnections: intOption(values['max-connections'], '--max-connections', TVS_SERVER_DEFAULTS.maxConnections, 1, 1_000_000),
      });
    },
  },
  {
    path: ['tvs', 'query'],
    summary: 'ask a TVS server whether it vouches for a certificate, as a phone does (exit 0 valid, 1 invalid)',
    usage:
      'sbd tvs query HOST[:PORT] CERT.pem --device CP-<model>-SEP<MAC> (--tvs-cert TVS.pem | --itl ITLFile.tlv | --state DIR) [--timeout MS]',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        device: { type: 'string' },
        'tvs-cert': { type: 'string', multiple: true },
        itl: { type: 'string' },
        state: { type: 'string' },
        timeout: { type: 'string' },
      });
      const { host, port } = hostPort(required(positionals[0], 'HOST[:PORT]'), 2445);
      const certDer = new X509Certificate(readFileSync(required(positionals[1], 'CERT.pem'))).raw;
      const trusted: Buffer[] = [];
      for (const f of values['tvs-cert'] ?? []) trusted.push(new X509Certificate(readFileSync(f)).raw);
      if (values.itl) trusted.push(...tvsCertificatesFromTrustList(readFileSync(values.itl)));
      if (values.state) withState(values.state, ({ store }) => trusted.push(tvsIdentity(store).row.der), { readonly: true });
      if (trusted.length === 0) throw new UsageError('give the TVS certificate to trust: --tvs-cert, --itl (its TVS records) or --state');
      const answer = await queryTvs({
        host,
        port,
        deviceName: required(values.device, '--device'),
        certDer,
        trustedServerCerts: trusted,
        timeoutMs: intOption(values.timeout, '--timeout', 10000, 1, 600000),
      });
      ctx.out(`status: ${answer.status}`);
      if (answer.status === 'valid') {
        ctx.out(`roles: ${answer.roles.map((r) => `${roleName(r)} (${r})`).join(', ')}`);
        ctx.out(`ttl: ${answer.ttl}`);
      }
      return answer.status === 'valid' ? 0 : 1;
    },
  },
];
