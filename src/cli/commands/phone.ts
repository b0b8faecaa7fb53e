/**
 * `sbd phone boot|storm|https|services`: the phone simulator from the command line (src/sim).
 *   --tvs config           ask the TVS servers of the phone's own config (`<TVS><members>`), as a phone does
 *   --tvs HOST[:PORT]      ask this TVS instead (an override)
 *   --redirect FROM=TO     a configured endpoint listens elsewhere (e.g. 127.0.0.1:2445=127.0.0.1:40123)
 *   --capf [--auth-string DIGITS]   run the CAPF operation the config asks for (boot only)
 *   --dns system|none      how the phone resolves a host name in its config: the system's resolver (default), or
 *                          none, a phone with no DNS server (a name then fails; addresses work)
 */
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { formatDecision } from '../../sim/decisions.js';
import { bootSimPhone } from '../../sim/phone.js';
import { deviceNameOfMac } from '../../sim/phone-folder.js';
import { formatStormSummary, runStorm, stormLimits } from '../../sim/storm.js';
import { parseServer, poolOptionsFor, TftpFetcher, type TftpFetcherOptions } from '../../sim/tftp-fetcher.js';
import { TftpClientPool } from '../../tftp/client.js';
import { configTvsHook, tvsHook } from '../../sim/tvs-hook.js';
import { redirectFromPairs, type EndpointRedirect } from '../../sim/phone-config.js';
import { resolverNamed, type HostResolver } from '../../sim/name-resolution.js';
import { openPhoneService } from '../../sim/https-service.js';
import { checkTrustServices } from '../../sim/service-check.js';

/** `--redirect FROM=TO` pairs (both HOST:PORT with an IP). */
function redirectOption(pairs: readonly string[] | undefined): { redirect?: EndpointRedirect } {
  if (!pairs?.length) return {};
  return {
    redirect: redirectFromPairs(
      pairs.map((p) => {
        const [from, to, extra] = p.split('=');
        if (!from || !to || extra !== undefined) throw new UsageError(`--redirect "${p}" is not FROM=TO (HOST:PORT=HOST:PORT)`);
        return [parseServer(from), parseServer(to)] as const;
      }),
    ),
  };
}

/** `--dns system|none`; absent: the system's resolver. */
function dnsOption(text: string | undefined): { resolver?: HostResolver } {
  if (text === undefined) return {};
  const resolver = resolverNamed(text);
  if (!resolver) throw new UsageError(`--dns: '${text}' is not system or none`);
  return { resolver };
}

/** `--tvs config` (the phone's config) or `--tvs HOST[:PORT]` (default port 2445); absent: no TVS. */
function tvsOption(text: string | undefined, redirect: { redirect?: EndpointRedirect; resolver?: HostResolver }) {
  if (!text) return {};
  return { verifyUnknownSigner: text === 'config' ? configTvsHook(redirect) : tvsHook(parseServer(text, 2445)) };
}

const serviceOpts = {
  tvs: { type: 'string' },
  redirect: { type: 'string', multiple: true },
} as const;

const transferOpts = {
  ...serviceOpts,
  blksize: { type: 'string' },
  windowsize: { type: 'string' },
  'timeout-ms': { type: 'string' },
  retries: { type: 'string' },
} as const;

function fetchOptions(v: {
  blksize?: string | undefined;
  windowsize?: string | undefined;
  'timeout-ms'?: string | undefined;
  retries?: string | undefined;
}): TftpFetcherOptions {
  return {
    blksize: intOption(v.blksize, '--blksize', 1428, 8, 65464),
    windowsize: intOption(v.windowsize, '--windowsize', 1, 1, 65535),
    timeoutMs: intOption(v['timeout-ms'], '--timeout-ms', 1000, 10, 60_000),
    retries: intOption(v.retries, '--retries', 5, 0, 100),
  };
}

export const commands: Command[] = [
  {
    path: ['phone', 'boot'],
    summary: 'boot one simulated Security-by-Default phone against a TFTP server and print its trust decisions',
    usage:
      'sbd phone boot --server HOST:PORT --mac MAC --state DIR [--model M] [--tvs config|HOST[:PORT]] [--redirect FROM=TO]... [--dns system|none] [--capf [--auth-string DIGITS]] [--blksize N] [--windowsize N] [--timeout-ms N] [--retries N] [--json]',
    async run(args, ctx) {
      const { values } = parse(
        args,
        {
          server: { type: 'string' },
          mac: { type: 'string' },
          state: { type: 'string' },
          model: { type: 'string' },
          json: { type: 'boolean' },
          capf: { type: 'boolean' },
          'auth-string': { type: 'string' },
          dns: { type: 'string' },
          ...transferOpts,
        },
        false,
      );
      if (values['auth-string'] !== undefined && !values.capf) throw new UsageError('--auth-string goes with --capf');
      const redirect = { ...redirectOption(values.redirect), ...dnsOption(values.dns) };
      const server = parseServer(required(values.server, '--server'));
      const deviceName = deviceNameOfMac(required(values.mac, '--mac'));
      const pool = new TftpClientPool(poolOptionsFor(server, 1));
      try {
        const report = await bootSimPhone({
          stateDir: required(values.state, '--state'),
          deviceName,
          ...(values.model ? { model: values.model } : {}),
          fetcher: new TftpFetcher(server, pool, fetchOptions(values)),
          ...tvsOption(values.tvs, redirect),
          ...(values.capf ? { capf: { ...redirect, ...(values['auth-string'] ? { authString: values['auth-string'] } : {}) } } : {}),
        });
        if (values.json) ctx.out(JSON.stringify(report, null, 1));
        else {
          ctx.out(`${deviceName} (model ${report.model})`);
          for (const d of report.decisions) ctx.out(formatDecision(d));
          ctx.out(
            report.configTrusted ? `booted with a trusted config: ${report.configFile}` : 'no trusted config: the phone did not boot',
          );
          if (report.line) {
            const l = report.line;
            ctx.out(
              `line ${l.number}: ${l.authName ? `digest user ${l.authName}, ` : ''}${l.passwordDelivered ? 'password delivered in the config' : 'no password in the config (give it with --user/--password)'}`,
            );
          }
        }
        return report.configTrusted ? 0 : 1;
      } finally {
        await pool.close();
      }
    },
  },
  {
    path: ['phone', 'storm'],
    summary: 'boot many simulated phones at once (consecutive MACs) and print a summary',
    usage:
      'sbd phone storm --server HOST:PORT --count N --state DIR [--concurrency C] [--mac-base MAC] [--model M] [--tvs config|HOST[:PORT]] [--redirect FROM=TO]... [--sockets S] [--blksize N] [--windowsize N] [--timeout-ms N] [--retries N]',
    async run(args, ctx) {
      const { values } = parse(
        args,
        {
          server: { type: 'string' },
          count: { type: 'string' },
          state: { type: 'string' },
          concurrency: { type: 'string' },
          'mac-base': { type: 'string' },
          model: { type: 'string' },
          sockets: { type: 'string' },
          ...transferOpts,
        },
        false,
      );
      const count = intOption(required(values.count, '--count'), '--count', 1, 1, stormLimits.maxCount);
      const concurrency = intOption(values.concurrency, '--concurrency', 250, 1, stormLimits.maxConcurrency);
      const sockets = intOption(values.sockets, '--sockets', 64, 1, 4096);
      if (values['mac-base'] !== undefined && values['mac-base'] === '') throw new UsageError('--mac-base needs a MAC');
      const summary = await runStorm({
        server: parseServer(required(values.server, '--server')),
        stateDir: required(values.state, '--state'),
        count,
        concurrency,
        sockets,
        ...(values['mac-base'] ? { macBase: values['mac-base'] } : {}),
        ...(values.model ? { model: values.model } : {}),
        fetch: fetchOptions(values),
        ...tvsOption(values.tvs, redirectOption(values.redirect)),
      });
      for (const line of formatStormSummary(summary)) ctx.out(line);
      return summary.failed === 0 ? 0 : 1;
    },
  },
  {
    path: ['phone', 'https'],
    summary:
      "open an HTTPS phone service as the phone would: its server certificate must be an APP-SERVER of the phone's lists or vouched for by TVS",
    usage:
      'sbd phone https URL --mac MAC --state DIR [--model M] [--tvs config|HOST[:PORT]] [--redirect FROM=TO]... [--timeout-ms N] [--show-body]',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        mac: { type: 'string' },
        state: { type: 'string' },
        model: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'show-body': { type: 'boolean' },
        ...serviceOpts,
      });
      const r = await openPhoneService({
        url: required(positionals[0], 'URL'),
        stateDir: required(values.state, '--state'),
        deviceName: deviceNameOfMac(required(values.mac, '--mac')),
        ...(values.model ? { model: values.model } : {}),
        ...tvsOption(values.tvs, redirectOption(values.redirect)),
        timeoutMs: intOption(values['timeout-ms'], '--timeout-ms', 10000, 1, 600_000),
      });
      ctx.out(r.decision.text);
      if (values['show-body'] && r.body) ctx.out(r.body.toString('utf8'));
      return r.status !== undefined && r.status < 400 ? 0 : 1;
    },
  },
  {
    path: ['phone', 'services'],
    summary: "check that the TVS and CAPF servers of the phone's config present the certificates of its trust lists",
    usage: 'sbd phone services --mac MAC --state DIR [--redirect FROM=TO]... [--timeout-ms N]',
    async run(args, ctx) {
      const { values } = parse(
        args,
        {
          mac: { type: 'string' },
          state: { type: 'string' },
          'timeout-ms': { type: 'string' },
          redirect: { type: 'string', multiple: true },
        },
        false,
      );
      const decisions = await checkTrustServices({
        stateDir: required(values.state, '--state'),
        deviceName: deviceNameOfMac(required(values.mac, '--mac')),
        ...redirectOption(values.redirect),
        timeoutMs: intOption(values['timeout-ms'], '--timeout-ms', 10000, 1, 600_000),
      });
      if (decisions.length === 0) ctx.out("the phone's config names no TVS or CAPF server (has it booted?)");
      for (const d of decisions) ctx.out(d.text);
      return decisions.length > 0 && decisions.every((d) => d.verdict === 'accepted') ? 0 : 1;
    },
  },
];
