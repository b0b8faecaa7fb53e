/**
 * `sbd daemon tvs --store-url` (issue 21): the real sbd-tvsd process reading a PostgreSQL 15 started here (the
 * password in PGPASSWORD, not on the command line) vouches for what was published from SQLite and for nothing else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateIdentity } from '../../../src/pki/profiles.js';
import { publishToPg } from '../../../src/store/pg/publish.js';
import { queryTvs } from '../../../src/tvs/client.js';
import { startDaemon, tempState } from '../../tvs/helpers.js';
import { PASSWORD, pgMissing, startPostgres } from './postgres.js';

test('sbd daemon tvs --store-url serves the published store from PostgreSQL', { skip: pgMissing() }, async (t) => {
  const { store } = tempState(t);
  const node = store.listNodes()[0]!.name;
  const server = await startPostgres(t);
  await publishToPg(store, server.connect());
  process.env.PGPASSWORD = PASSWORD;
  const daemon = await startDaemon(t, ['daemon', 'tvs', '--store-url', server.url, '--bind', '127.0.0.1', '--port', '0']);
  const tvsDer = store.currentCertificate('TVS', node)!.der;
  const ask = async (certDer: Buffer) =>
    (await queryTvs({ host: '127.0.0.1', port: daemon.port, deviceName: 'CP-8845-SEP001122334455', certDer, trustedServerCerts: [tvsDer] }))
      .status;
  assert.equal(await ask(store.currentCertificate('CallManager', node)!.der), 'valid');
  assert.equal(await ask(generateIdentity({ name: 'CallManager', hostname: 'stranger', now: new Date() }).certDer), 'invalid');
  assert.equal(await daemon.stop(), 0, 'a clean stop on SIGTERM');
});
