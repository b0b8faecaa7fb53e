/**
 * The two commands of issue 21's foundation, as real processes over a PostgreSQL 15 started here (the password in
 * PGPASSWORD, not on the command line): `sbd cluster publish` copies the SQLite store, and `sbd daemon tvs
 * --store-url` vouches for what was published and for nothing else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateIdentity } from '../../../src/pki/profiles.js';
import { execFileSync } from 'node:child_process';
import { queryTvs } from '../../../src/tvs/client.js';
import { startDaemon, tempState } from '../../tvs/helpers.js';
import { PASSWORD, pgMissing, startPostgres } from './postgres.js';

test('sbd cluster publish, then sbd daemon tvs --store-url serves the published store from PostgreSQL', {
  skip: pgMissing(),
}, async (t) => {
  const { store, dir } = tempState(t);
  const node = store.listNodes()[0]!.name;
  const server = await startPostgres(t);
  process.env.PGPASSWORD = PASSWORD;
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'cluster', 'publish', '--state', dir, '--store-url', server.url],
    {
      encoding: 'utf8',
    },
  );
  const certificates = store.listCertificates({ includeHistory: true }).length;
  assert.equal(out.trim(), `published 1 nodes, ${certificates} certificates, 0 parameters; generation 1`);
  const daemon = await startDaemon(t, ['daemon', 'tvs', '--store-url', server.url, '--bind', '127.0.0.1', '--port', '0']);
  const tvsDer = store.currentCertificate('TVS', node)!.der;
  const ask = async (certDer: Buffer) =>
    (await queryTvs({ host: '127.0.0.1', port: daemon.port, deviceName: 'CP-8845-SEP001122334455', certDer, trustedServerCerts: [tvsDer] }))
      .status;
  assert.equal(await ask(store.currentCertificate('CallManager', node)!.der), 'valid');
  assert.equal(await ask(generateIdentity({ name: 'CallManager', hostname: 'stranger', now: new Date() }).certDer), 'invalid');
  assert.equal(await daemon.stop(), 0, 'a clean stop on SIGTERM');
});
