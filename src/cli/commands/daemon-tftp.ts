/**
 * `sbd daemon tftp` (sbd-tftpd in the foreground: the flags; daemons/tftpd.ts chooses the file source and runs
 * the server) and `sbd tftp get`, a one-file TFTP client.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { tftpLimitFlags, type TftpLimitName } from '../../tftp/limits.js';
import { fetchFile } from '../../tftp/client.js';
import { runTftpd } from '../../daemons/tftpd.js';
import { hostPort } from './daemon-tvs.js';

const limitFlags = Object.fromEntries(tftpLimitFlags.map(([, l]) => [l.flag, { type: 'string' }])) as Record<string, { type: 'string' }>;
const serverFlags = {
  root: { type: 'string' },
  state: { type: 'string' },
  'store-url': { type: 'string' },
  'primary-url': { type: 'string' },
  node: { type: 'string' },
  bind: { type: 'string', multiple: true },
  'cache-ms': { type: 'string' },
  engine: { type: 'string' },
  ...limitFlags,
} as const;

/** Each limit flag with its help, default and range, from the limits table (src/tftp/limits.ts). */
const limitUsage = tftpLimitFlags.map(([, l]) => `[--${l.flag} N (${l.help}; default ${l.default}, ${l.min}..${l.max})]`).join(' ');

/** The server options the limit flags give (the table's range checked; absent flags are left to the defaults). */
function limitOptions(values: Record<string, unknown>): Partial<Record<Exclude<TftpLimitName, 'netascii'>, number>> {
  const out: Partial<Record<Exclude<TftpLimitName, 'netascii'>, number>> = {};
  for (const [name, l] of tftpLimitFlags) {
    const v = values[l.flag];
    if (v !== undefined) out[name as Exclude<TftpLimitName, 'netascii'>] = intOption(String(v), `--${l.flag}`, l.default, l.min, l.max);
  }
  return out;
}

export const commands: Command[] = [
  {
    path: ['daemon', 'tftp'],
    summary: "run the TFTP server (sbd-tftpd): the appliance's trust lists and configs (--state) and/or a folder (--root)",
    usage:
      `sbd daemon tftp ((--state DIR | --store-url postgres://USER@HOST:PORT/DB [--primary-url URL] [--state DIR]) [--node NAME (default the publisher)] [--root STATIC_DIR] | --root DIR) [--bind ADDR]... ${limitUsage} ` +
      "[--store-url: read the store from the node's PostgreSQL, password in PGPASSWORD; --state DIR then names the node's folder, whose keys/ decrypt delivered digest passwords; --primary-url: where the served ITL hash goes, default --store-url] " +
      '[--cache-ms MS (folder only, default 1000)] ' +
      '[--engine auto|native|node (default auto: the native data plane when libsbdtftp.so is built)]',
    async run(args) {
      const { values } = parse(args, serverFlags, false);
      const storeUrl = values['store-url'];
      if (!values.root && !values.state && !storeUrl)
        throw new UsageError('give --state DIR, --store-url URL, --root DIR or one of the first two with --root');
      if (values.node !== undefined && !values.state && !storeUrl) throw new UsageError('--node needs --state DIR or --store-url URL');
      if (values['primary-url'] !== undefined && !storeUrl) throw new UsageError('--primary-url needs --store-url');
      const engine = values.engine ?? 'auto';
      if (engine !== 'auto' && engine !== 'native' && engine !== 'node') throw new UsageError(`--engine ${engine}: auto, native or node`);
      return runTftpd({
        ...(values.state && !storeUrl ? { stateDir: values.state } : {}),
        ...(storeUrl ? { storeUrl, ...(values.state ? { keysDir: join(values.state, 'keys') } : {}) } : {}),
        ...(values['primary-url'] ? { primaryUrl: values['primary-url'] } : {}),
        ...(values.node !== undefined ? { node: values.node } : {}),
        ...(values.root ? { root: values.root } : {}),
        ...(values.state || storeUrl ? {} : { cacheMs: intOption(values['cache-ms'], '--cache-ms', 1000, 0, 3_600_000) }),
        engine,
        addresses: values.bind && values.bind.length > 0 ? values.bind : ['127.0.0.1'],
        ...limitOptions(values),
      });
    },
  },
  {
    path: ['tftp', 'get'],
    summary: 'download one file over TFTP (RFC 1350 with blksize/tsize/windowsize options)',
    usage: 'sbd tftp get HOST[:PORT] NAME [--out FILE] [--blksize N] [--tsize] [--windowsize N] [--timeout S] [--retries N] [--netascii]',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        out: { type: 'string' },
        blksize: { type: 'string' },
        tsize: { type: 'boolean' },
        windowsize: { type: 'string' },
        timeout: { type: 'string' },
        retries: { type: 'string' },
        netascii: { type: 'boolean' },
      });
      const { host, port } = hostPort(required(positionals[0], 'HOST[:PORT]'), 69);
      const name = required(positionals[1], 'NAME');
      if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}"`);
      const r = await fetchFile({
        server: host === 'localhost' ? '127.0.0.1' : host,
        port,
        name,
        mode: values.netascii ? 'netascii' : 'octet',
        blksize: values.blksize === undefined ? undefined : intOption(values.blksize, '--blksize', 512, 8, 65464),
        tsize: values.tsize ?? false,
        windowsize: values.windowsize === undefined ? undefined : intOption(values.windowsize, '--windowsize', 1, 1, 65535),
        timeout: values.timeout === undefined ? undefined : intOption(values.timeout, '--timeout', 1, 1, 255),
        retries: intOption(values.retries, '--retries', 5, 0, 100),
      });
      const out = values.out ?? basename(name);
      if (out === '-') process.stdout.write(r.data);
      else {
        // Temp file + rename: an interrupted download never leaves a half-written file under the real name.
        const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
        writeFileSync(tmp, r.data);
        renameSync(tmp, out);
        ctx.err(
          `${name}: ${r.data.length} bytes in ${r.durationMs.toFixed(1)} ms (blksize ${r.blksize}, windowsize ${r.windowsize}, ${r.retransmissions} retransmissions${r.fellBack ? ', options refused by the server' : ''}) → ${out}`,
        );
      }
      return 0;
    },
  },
];
