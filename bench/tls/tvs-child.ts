/** bench/tls: sbd-tvsd in its own process on the TLS path named by argv[3] ('node' | 'native'). Prints its port. */
import { openState } from '../../src/store/state.js';
import { startTvsServer } from '../../src/tvs/server.js';

const { store } = openState(process.argv[2]!);
const tlsEngine = process.argv[3] === 'native' ? 'native' : 'node';
const server = await startTvsServer({ store, host: '127.0.0.1', port: 0, tlsEngine });
process.stdout.write(JSON.stringify({ port: server.address().port, path: server.tlsPath }) + '\n');
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
