/**
 * sbd-tftpd for the boot-storm bench, in its own process so it does not share an event loop with the load
 * generator. argv: `ROOT ADDRESS` (a folder, as `sbd daemon tftp --root` serves it) or `--state DIR DUMP ADDRESS`
 * (the appliance's store, as `sbd daemon tftp --state` serves it: trust lists and every device's config built,
 * signed and handed to the data plane before READY; each served file is also written to DUMP so the generator can
 * check the bytes and the peers can serve the very same files). Prints `READY <port>` on stdout; on SIGTERM prints
 * `COUNTERS <json>` and exits.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TftpServer } from '../../src/tftp/server.js';
import { NativeTftpServer } from '../../src/tftp/native-server.js';
import { FolderFileSource, type TftpFileSource } from '../../src/tftp/file-source.js';
import type { ApplianceFileSource } from '../../src/tftp/appliance-source.js';
import { openApplianceSource } from '../../src/daemons/adapters/tftp-store.js';
import { createLogger } from '../../src/lib/log.js';

const args = process.argv.slice(2);
let source: TftpFileSource;
let appliance: ApplianceFileSource | undefined;
let dump: string | undefined;
let address: string | undefined;
if (args[0] === '--state') {
  const [, state, dumpDir, addr] = args;
  if (!state || !dumpDir || !addr) throw new Error('usage: server-child.ts --state DIR DUMP ADDRESS');
  source = appliance = openApplianceSource(state).source;
  dump = dumpDir;
  address = addr;
} else {
  const [root, addr] = args;
  if (!root || !addr) throw new Error('usage: server-child.ts ROOT ADDRESS');
  // SBD_BENCH_SBD_SOURCE: JSON folder-source options on top of the defaults.
  const sourceExtra = JSON.parse(process.env.SBD_BENCH_SBD_SOURCE ?? '{}') as Record<string, unknown>;
  source = new FolderFileSource(root, { cacheTtlMs: 1000, ...sourceExtra }); // as `sbd daemon tftp --root` runs it
  address = addr;
}
// SBD_BENCH_SBD_OPTIONS: JSON server options on top of the defaults, to measure one change at a time (e.g.
// '{"maxIdleSockets":0}' for a fresh socket per transfer). SBD_BENCH_SBD_ENGINE=node: the TypeScript server
// (src/tftp/server.ts) instead of the native data plane.
const extra = JSON.parse(process.env.SBD_BENCH_SBD_OPTIONS ?? '{}') as Record<string, unknown>;
const Server = process.env.SBD_BENCH_SBD_ENGINE === 'node' ? TftpServer : NativeTftpServer;
const server = new Server({
  ...extra,
  source,
  addresses: [address],
  port: 0,
  // The bench's phones each have their own address; the defaults hold for 10,000 of them.
  logger: createLogger('tftpd', { level: 'error', write: (l) => process.stderr.write(l + '\n') }),
});
await server.listen();
if (appliance) {
  const native = server instanceof NativeTftpServer ? server : undefined;
  await appliance.prebuild({
    onFile: (name, file) => {
      native?.publish(name, file);
      writeFileSync(join(dump!, name), file.bytes);
    },
  });
}
process.stdout.write(`READY ${server.port}\n`);
const counters = async () => {
  await server.sync();
  process.stdout.write(`COUNTERS ${JSON.stringify({ ...server.counters, active: server.activeTransfers })}\n`);
};
process.on('SIGUSR2', () => void counters());
process.on('SIGTERM', () => {
  void counters()
    .then(() => server.close())
    .then(() => process.exit(0));
});
