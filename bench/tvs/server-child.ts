/** bench/tvs: sbd-tvsd in its own process (so the load generator does not share its event loop). Prints its port. */
import { openState } from '../../src/store/state.js';
import { startTvsServer } from '../../src/tvs/server.js';

const { store } = openState(process.argv[2]!);
const server = await startTvsServer({ store, host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
