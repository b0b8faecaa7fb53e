/**
 * TFTP's `ApplianceFiles` over both store engines (issue 21 item 1): one SQLite store, published to PostgreSQL and
 * read back through a node's copy, gives the same answers through the interface as the SQLite adapter — every trust
 * list, config (plain, signed, with a delivered digest password decrypted by the node's key) and static signature
 * byte for byte at one clock, the same devices — and a real TFTP
 * server over the PostgreSQL engine serves that ITL, records its hash on the primary's node-local table through the
 * bounded writer, and reads it back; a device added on the SQLite side is served after the next publish; the copy
 * publishes its generation to the file the native data plane maps.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreApplianceFiles } from '../../../src/daemons/adapters/tftp-store.js';
import { PgApplianceFiles, pgApplianceSource } from '../../../src/daemons/adapters/pg-tftp-store.js';
import { putPhoneDigestPassword, unusableLogin } from '../../../src/credentials/phone-digest.js';
import { silentLogger } from '../../../src/lib/log.js';
import { PgNodeWriter } from '../../../src/store/pg/node-writes.js';
import type { ApplianceFiles, DeviceConfigSuffix } from '../../../src/tftp/appliance-files.js';
import { fetchFile } from '../../../src/tftp/client.js';
import { TftpServer } from '../../../src/tftp/server.js';
import { bothEngines, OLD_PHONE, PHONE, serviceStore } from './engines.js';
import { pgMissing } from './postgres.js';

// One fixed time after the store's own rows (sbd init records the ITL hash it built): the node's served record is newer.
const T = Date.now() + 60_000;
const clock = { now: () => T };
const PW_PHONE = 'SEP00112233AAAA';
const LINE_PASSWORD = 'Delivered-Line-4-Pass';
const SUFFIXES: DeviceConfigSuffix[] = ['.cnf.xml', '.cnf.xml.sgn', '.cnf.xml.enc.sgn'];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Everything the interface answers, at one clock. */
function answers(files: ApplianceFiles, names: string[]) {
  return {
    itl: files.itl(clock),
    ctl: files.ctl(clock),
    defaults: [files.defaultConfig(false, clock), files.defaultConfig(true, clock)],
    devices: files.devices(),
    device: names.map((n) => files.device(n)),
    configs: names.flatMap((n) => SUFFIXES.map((s) => files.deviceConfig(n, s, clock))),
    static: files.signStatic('ringlist.xml.sgn', Buffer.from('<CiscoIPPhoneRingList/>'), clock),
  };
}

test('ApplianceFiles: the PostgreSQL engine answers as SQLite, serves over TFTP and records its ITL on the primary', {
  skip: pgMissing(),
}, async (t) => {
  const { store, dir } = serviceStore(t);
  // A line whose digest password is delivered in its signed config (the key in the node's keys folder).
  const keysDir = join(dir, 'keys');
  store.setParam('SipDigestPasswordInSignedConfig', 'true');
  putPhoneDigestPassword(store, keysDir, { userid: 'line4', password: LINE_PASSWORD }, await unusableLogin());
  store.addDevice({ name: PW_PHONE, model: '8845', digestUser: 'line4', directoryNumber: '1004' });
  const pg = await bothEngines(t, store);
  const node = store.listNodes()[0]!.name;
  const writes = new PgNodeWriter(pg.sql, { node, flushIntervalMs: 3_600_000 });
  t.after(() => writes.close());
  const sqliteFiles = new StoreApplianceFiles(store);
  const pgFiles = new PgApplianceFiles(pg.copy, { writes, keysDir });
  const names = [PHONE, OLD_PHONE, PW_PHONE, 'SEP0000000000FF'];
  const a = answers(sqliteFiles, names);
  assert.deepEqual(answers(pgFiles, names), a);
  const signed = sqliteFiles.deviceConfig(PW_PHONE, '.cnf.xml.sgn', clock)!;
  assert.ok(signed.includes(LINE_PASSWORD), 'the delivered password is in the signed config');
  const withoutKeys = new PgApplianceFiles(pg.copy).deviceConfig(PW_PHONE, '.cnf.xml.sgn', clock)!;
  assert.ok(!withoutKeys.includes(LINE_PASSWORD), 'a node without the key delivers none');
  assert.equal(a.device[3], undefined, 'an unknown device is unknown to both');
  assert.ok(a.configs.filter(Boolean).length >= 3, 'plain and signed configs exist');
  assert.equal(pgFiles.servedSha256('ITLFile.tlv'), undefined);

  // The copy's generation file: what sbd-tftpd's native data plane maps (u64 LE).
  const genFile = pgFiles.generationFile!;
  assert.equal(readFileSync(genFile).readBigUInt64LE(0), BigInt(pg.copy.store.generation()));

  // A real TFTP server over the PostgreSQL engine.
  const server = new TftpServer({
    source: pgApplianceSource({ copy: pg.copy, writes, keysDir, clock, logger: silentLogger }),
    port: 0,
    addresses: ['127.0.0.1'],
    logger: silentLogger,
  });
  await server.listen();
  t.after(() => server.close());
  const port = server.addresses()[0]!.port;
  const get = async (name: string) => (await fetchFile({ server: '127.0.0.1', port, name, retries: 2 })).data;
  const itl = await get('ITLFile.tlv');
  assert.deepEqual(itl, a.itl, 'the served ITL is the SQLite adapter one');
  assert.deepEqual(await get(`${PHONE}.cnf.xml.sgn`), a.configs[1]);
  assert.deepEqual(await get(`${PW_PHONE}.cnf.xml.sgn`), signed);
  assert.equal(pgFiles.servedSha256('ITLFile.tlv'), sha(itl), 'the served hash reads back on this node at once');
  assert.equal(writes.pending, 1, 'one row queued for the primary');
  assert.equal(await writes.flush(), 1);
  const rows = await pg.sql`SELECT server, file, sha256_hex FROM sbd.node_served_trust_files`;
  assert.deepEqual([...rows], [{ server: node, file: 'ITLFile.tlv', sha256_hex: sha(itl) }]);

  // A device added on the publisher's SQLite is served after the next publish.
  store.addDevice({ name: 'SEP0000000000FF', model: '8845', directoryNumber: '1003' });
  await assert.rejects(get('SEP0000000000FF.cnf.xml'), { code: 'ERR_TFTP_NOT_FOUND' });
  await pg.publish();
  assert.deepEqual(await get('SEP0000000000FF.cnf.xml'), sqliteFiles.deviceConfig('SEP0000000000FF', '.cnf.xml', clock));
  assert.equal(pgFiles.servedSha256('ITLFile.tlv'), sha(itl), 'the node-local row survives the publish (read from the primary)');
  assert.equal(readFileSync(genFile).readBigUInt64LE(0), BigInt(pg.copy.store.generation()), 'the reload moved the file');
});
