/**
 * The PostgreSQL engine for TVS's trust view (issue 21): a real PostgreSQL 15 started here, a real store (sbd init,
 * a second node, a regenerated certificate with its history, a trust import, a stored parameter) published into
 * it, and the view read back equal to the SQLite one, row for row. Then two real TVS servers, one over each engine,
 * give the same answers for the same certificates, and a change published later is served after one poll.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pgTvsTrustView, tvsTrustView } from '../../../src/daemons/adapters/tvs-store.js';
import { generateIdentity } from '../../../src/pki/profiles.js';
import { PgStoreErrorCode } from '../../../src/store/pg/errors.js';
import { publishToPg } from '../../../src/store/pg/publish.js';
import { PgTrustCache } from '../../../src/store/pg/trust-cache.js';
import { PARAMS } from '../../../src/store/params-registry.js';
import { queryTvs } from '../../../src/tvs/client.js';
import { TvsServer } from '../../../src/tvs/server.js';
import type { TvsTrustView } from '../../../src/tvs/trust-view.js';
import { tempState } from '../../tvs/helpers.js';
import { pgMissing, startPostgres } from './postgres.js';

const missing = pgMissing();

function sameView(pg: TvsTrustView, sqlite: TvsTrustView, node: string): void {
  assert.equal(pg.listNodes().length, 2);
  assert.deepEqual(pg.listNodes(), sqlite.listNodes(), 'nodes with their services, in the same order');
  assert.deepEqual(
    pg.listCertificates({ includeHistory: true }),
    sqlite.listCertificates({ includeHistory: true }),
    'every certificate, history included',
  );
  assert.deepEqual(pg.currentCertificate('TVS', node), sqlite.currentCertificate('TVS', node));
  assert.deepEqual(pg.currentCertificate('TVS', 'sub1'), sqlite.currentCertificate('TVS', 'sub1'));
  for (const p of PARAMS) assert.equal(pg.getParam(p.name), sqlite.getParam(p.name), p.name);
  assert.throws(() => pg.getParam('NoSuchParam'), { code: 'ERR_PARAM_UNKNOWN' });
}

test('TVS trust view over PostgreSQL: published from SQLite, read back equal, same TVS answers, a later change seen', {
  skip: missing,
}, async (t) => {
  const { store } = tempState(t);
  const now = new Date();
  const node = store.listNodes()[0]!.name;
  const oldCm = store.currentCertificate('CallManager', node)!;
  const cm = generateIdentity({ name: 'CallManager', hostname: 'cucm-pub', now });
  store.putCertificate({ name: 'CallManager', node, pem: cm.certPem, keyFile: null });
  store.addNode({ name: 'sub1', hostname: 'sub1', ipv4: '127.0.0.2', services: ['tvs', 'tftp'] });
  const subCm = generateIdentity({ name: 'CallManager', hostname: 'sub1', now });
  store.putCertificate({ name: 'CallManager', node: 'sub1', pem: subCm.certPem, keyFile: null });
  store.putCertificate({ name: 'TVS', node: 'sub1', pem: generateIdentity({ name: 'TVS', hostname: 'sub1', now }).certPem, keyFile: null });
  const imported = generateIdentity({ name: 'tomcat', hostname: 'other', ipv4: '127.0.0.3', now });
  store.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: imported.certPem });
  store.setParam('SipStationRealm', 'cluster-realm');

  const server = await startPostgres(t);
  const sql = server.connect();
  const published = await publishToPg(store, sql);
  assert.equal(published.nodes, 2);
  assert.equal(published.certificates, store.listCertificates({ includeHistory: true }).length);
  assert.equal(published.params, 1, 'only the stored parameter; defaults come from the registry');

  const cache = await PgTrustCache.open(sql, { pollIntervalMs: 60_000 });
  t.after(() => cache.close());
  const pgView = pgTvsTrustView(cache);
  const sqliteView = tvsTrustView(store);
  assert.equal(pgView.generation(), published.generation);
  sameView(pgView, sqliteView, node);

  const servers = await Promise.all(
    [sqliteView, pgView].map(async (view) => {
      const s = new TvsServer({ store: view, host: '127.0.0.1', port: 0, reloadIntervalMs: 0 });
      const { port } = await s.listen();
      t.after(() => s.close());
      return { s, port };
    }),
  );
  assert.equal(servers[1]!.s.certificateSha256, servers[0]!.s.certificateSha256, 'both present the same TVS certificate');
  const tvsDer = store.currentCertificate('TVS', node)!.der;
  const ask = async (certDer: Buffer) => {
    const answers = await Promise.all(
      servers.map(({ port }) =>
        queryTvs({ host: '127.0.0.1', port, deviceName: 'CP-8845-SEP001122334455', certDer, trustedServerCerts: [tvsDer] }),
      ),
    );
    const [a, b] = answers.map((x) => ({ status: x.status, roles: x.roles, ttl: x.ttl }));
    assert.deepEqual(b, a, 'PostgreSQL and SQLite answer alike');
    return b!;
  };
  assert.equal((await ask(cm.certDer)).status, 'valid', 'the current CallManager');
  assert.equal((await ask(oldCm.der)).status, 'valid', 'the replaced CallManager (history)');
  assert.equal((await ask(subCm.certDer)).status, 'valid', "the subscriber's CallManager");
  assert.equal((await ask(imported.certDer)).status, 'valid', 'the trust import');
  const stranger = generateIdentity({ name: 'CallManager', hostname: 'stranger', now });
  assert.equal((await ask(stranger.certDer)).status, 'invalid', 'not in the store');

  // A change on the SQLite side reaches the PostgreSQL TVS after a publish and one poll (no restart).
  store.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: stranger.certPem });
  const again = await publishToPg(store, sql);
  assert.equal(again.generation, published.generation + 1);
  assert.equal(await cache.refresh(), true, 'the poll sees the new generation and reloads');
  assert.equal(await cache.refresh(), false, 'and nothing more while nothing moved');
  assert.equal(cache.stats.loads, 2);
  sameView(pgView, sqliteView, node);
  assert.equal((await ask(stranger.certDer)).status, 'valid', 'the new import, served by both');

  // Unreachable server: the last state keeps serving; the poll fails with a stable code.
  server.stop();
  await assert.rejects(cache.refresh(), { code: PgStoreErrorCode.unavailable });
  assert.equal((await ask(cm.certDer)).status, 'valid', 'TVS still answers from the last state');
});
