/**
 * sbd-tftpd for the boot-storm bench, in its own process so it does not share an event loop with the load
 * generator. argv: ROOT ADDRESS. Prints `READY <port>` on stdout; on SIGTERM prints `COUNTERS <json>` and exits.
 */
import { TftpServer } from '../../src/tftp/server.js';
import { NativeTftpServer } from '../../src/tftp/native-server.js';
import { FolderFileSource } from '../../src/tftp/file-source.js';
import { createLogger } from '../../src/lib/log.js';

const [root, address] = process.argv.slice(2);
if (!root || !address) throw new Error('usage: server-child.ts ROOT ADDRESS');
// SBD_BENCH_SBD_OPTIONS / SBD_BENCH_SBD_SOURCE: JSON server / folder-source options on top of the defaults, to
// measure one change at a time (e.g. '{"maxIdleSockets":0}' for a fresh socket per transfer).
const extra = JSON.parse(process.env.SBD_BENCH_SBD_OPTIONS ?? '{}') as Record<string, unknown>;
const sourceExtra = JSON.parse(process.env.SBD_BENCH_SBD_SOURCE ?? '{}') as Record<string, unknown>;
// SBD_BENCH_SBD_ENGINE=node: the TypeScript server (src/tftp/server.ts) instead of the native data plane.
const Server = process.env.SBD_BENCH_SBD_ENGINE === 'node' ? TftpServer : NativeTftpServer;
const server = new Server({
  ...extra,
  source: new FolderFileSource(root, { cacheTtlMs: 1000, ...sourceExtra }), // as `sbd daemon tftp --root` runs it
  addresses: [address],
  port: 0,
  // The bench's phones each have their own address; the defaults hold for 10,000 of them.
  logger: createLogger('tftpd', { level: 'error', write: (l) => process.stderr.write(l + '\n') }),
});
await server.listen();
process.stdout.write(`READY ${server.port}\n`);
const counters = async () => {
  await server.sync();
  process.stdout.write(`COUNTERS ${JSON.stringify({ ...server.counters, active: server.activeTransfers })}\n`);
};
process.on('SIGUSR2', () => void counters());
process.on('SIGTERM', () => {
  void counters().then(() => server.close()).then(() => process.exit(0));
});
