/**
 * Issue 21 item 2 on a real hot standby: a PostgreSQL 15 primary and a streaming standby (pg_basebackup -R over
 * loopback), both started here. TVS serves from a trust view reading the standby; a certificate imported on the
 * SQLite side and published to the primary is vouched for by that TVS once the standby has replayed it and the
 * generation poll has seen it. The time it took is printed (docs/cluster.md states the bound); the test fails
 * only if the change never arrives within 30 s. A publish sent to the standby is refused with a stable code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pgTvsTrustView } from '../../../src/daemons/adapters/tvs-store.js';
import { generateIdentity } from '../../../src/pki/profiles.js';
import { PgStoreErrorCode } from '../../../src/store/pg/errors.js';
import { publishToPg } from '../../../src/store/pg/publish.js';
import { PgTrustCache } from '../../../src/store/pg/trust-cache.js';
import { queryTvs } from '../../../src/tvs/client.js';
import { TvsServer } from '../../../src/tvs/server.js';
import { tempState } from '../../tvs/helpers.js';
import { pgMissing, startPostgres, startStandby } from './postgres.js';

const POLL_MS = 100;

test('a TVS reading a hot standby vouches for a certificate published on the primary', { skip: pgMissing() }, async (t) => {
  const { store } = tempState(t);
  const node = store.listNodes()[0]!.name;
  const primary = await startPostgres(t);
  const first = await publishToPg(store, primary.connect());
  const standby = await startStandby(t, primary);
  const standbySql = standby.connect();
  const [r] = await standbySql`SELECT pg_is_in_recovery() AS standby`;
  assert.equal(r?.standby, true, 'the second server is a hot standby');
  await assert.rejects(publishToPg(store, standbySql), { code: PgStoreErrorCode.readOnly });

  const cache = await PgTrustCache.open(standbySql, { pollIntervalMs: POLL_MS });
  t.after(() => cache.close());
  assert.equal(cache.generation(), first.generation, 'the base backup carries the published state');
  const server = new TvsServer({ store: pgTvsTrustView(cache), host: '127.0.0.1', port: 0, reloadIntervalMs: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const tvsDer = store.currentCertificate('TVS', node)!.der;
  const ask = async (certDer: Buffer) =>
    (await queryTvs({ host: '127.0.0.1', port, deviceName: 'CP-8845-SEP001122334455', certDer, trustedServerCerts: [tvsDer] })).status;

  const imported = generateIdentity({ name: 'tomcat', hostname: 'other', ipv4: '127.0.0.3', now: new Date() });
  assert.equal(await ask(imported.certDer), 'invalid', 'not yet in the store');
  store.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: imported.certPem });
  const started = performance.now();
  const next = await publishToPg(store, primary.connect());
  const loadsBefore = cache.stats.loads;
  for (let i = 0; i < 600 && cache.generation() !== next.generation; i++) await new Promise((res) => setTimeout(res, POLL_MS / 2));
  const elapsedMs = performance.now() - started;
  assert.equal(cache.generation(), next.generation, 'the standby cache reached the primary generation within 30 s');
  assert.equal(cache.stats.loads, loadsBefore + 1, 'one reload for one publish');
  t.diagnostic(`primary publish -> standby TVS view: ${elapsedMs.toFixed(0)} ms (poll every ${POLL_MS} ms)`);
  assert.equal(await ask(imported.certDer), 'valid', 'the TVS on the standby vouches for it');
});
