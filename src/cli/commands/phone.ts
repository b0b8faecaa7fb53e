/** `sbd phone boot|storm`: the phone simulator from the command line (src/sim). */
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { formatDecision } from '../../sim/decisions.js';
import { bootSimPhone } from '../../sim/phone.js';
import { deviceNameOfMac } from '../../sim/phone-folder.js';
import { formatStormSummary, runStorm, stormLimits } from '../../sim/storm.js';
import { parseServer, poolOptionsFor, TftpFetcher, type TftpFetcherOptions } from '../../sim/tftp-fetcher.js';
import { TftpClientPool } from '../../tftp/client.js';
import { tvsHook } from '../../sim/tvs-hook.js';

/** `--tvs HOST[:PORT]` (default port 2445): the phone may ask that TVS about signers it does not know. */
function tvsOption(text: string | undefined) {
  return text ? { verifyUnknownSigner: tvsHook(parseServer(text, 2445)) } : {};
}

const transferOpts = {
  tvs: { type: 'string' },
  blksize: { type: 'string' },
  windowsize: { type: 'string' },
  'timeout-ms': { type: 'string' },
  retries: { type: 'string' },
} as const;

function fetchOptions(v: { blksize?: string | undefined; windowsize?: string | undefined; 'timeout-ms'?: string | undefined; retries?: string | undefined }): TftpFetcherOptions {
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
    usage: 'sbd phone boot --server HOST:PORT --mac MAC --state DIR [--model M] [--tvs HOST[:PORT]] [--blksize N] [--windowsize N] [--timeout-ms N] [--retries N] [--json]',
    async run(args, ctx) {
      const { values } = parse(args, { server: { type: 'string' }, mac: { type: 'string' }, state: { type: 'string' }, model: { type: 'string' }, json: { type: 'boolean' }, ...transferOpts }, false);
      const server = parseServer(required(values.server, '--server'));
      const deviceName = deviceNameOfMac(required(values.mac, '--mac'));
      const pool = new TftpClientPool(poolOptionsFor(server, 1));
      try {
        const report = await bootSimPhone({
          stateDir: required(values.state, '--state'),
          deviceName,
          ...(values.model ? { model: values.model } : {}),
          fetcher: new TftpFetcher(server, pool, fetchOptions(values)),
          ...tvsOption(values.tvs),
        });
        if (values.json) ctx.out(JSON.stringify(report, null, 1));
        else {
          ctx.out(`${deviceName} (model ${report.model})`);
          for (const d of report.decisions) ctx.out(formatDecision(d));
          ctx.out(report.configTrusted ? `booted with a trusted config: ${report.configFile}` : 'no trusted config: the phone did not boot');
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
    usage: 'sbd phone storm --server HOST:PORT --count N --state DIR [--concurrency C] [--mac-base MAC] [--model M] [--tvs HOST[:PORT]] [--sockets S] [--blksize N] [--windowsize N] [--timeout-ms N] [--retries N]',
    async run(args, ctx) {
      const { values } = parse(args, {
        server: { type: 'string' }, count: { type: 'string' }, state: { type: 'string' }, concurrency: { type: 'string' }, 'mac-base': { type: 'string' },
        model: { type: 'string' }, sockets: { type: 'string' }, ...transferOpts,
      }, false);
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
        ...tvsOption(values.tvs),
      });
      for (const line of formatStormSummary(summary)) ctx.out(line);
      return summary.failed === 0 ? 0 : 1;
    },
  },
];
