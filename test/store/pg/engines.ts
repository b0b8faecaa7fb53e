/**
 * The same store behind both engines, for the service-interface tests (issue 21 item 1): one PostgreSQL 15 per test
 * file (started by the first test that asks, stopped when the file ends), and for a SQLite store, its publish and a
 * node's copy of it (store/pg/store-copy.ts) read through the same interfaces. `publish()` publishes again and
 * reloads the copy at once (a test waits for no poll; the poll itself is tested in standby.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { Sql } from 'postgres';
import { publishToPg } from '../../../src/store/pg/publish.js';
import { PgStoreCopy } from '../../../src/store/pg/store-copy.js';
import { initAppliance } from '../../../src/cluster/init.js';
import { systemClock } from '../../../src/lib/clock.js';
import { digestHa1 } from '../../../src/credentials/digest-ha1.js';
import type { Store } from '../../../src/store/index.js';
import { openState } from '../../../src/store/state.js';
import { startPostgres, type PgServer } from './postgres.js';

const stops: Array<() => void | Promise<void>> = [];
let shared: Promise<PgServer> | undefined;
after(async () => {
  for (const stop of stops.reverse()) await stop();
});

/** The PostgreSQL of this test file. */
export function filePostgres(): Promise<PgServer> {
  shared ??= startPostgres({ after: (fn) => void stops.push(fn) });
  return shared;
}

export interface BothEngines {
  server: PgServer;
  sql: Sql;
  copy: PgStoreCopy;
  /** Publishes `store` again and reloads the copy. */
  publish(): Promise<void>;
}

/** Publishes `store` to the file's PostgreSQL (node-local rows of an earlier test removed) and opens a copy. */
export async function bothEngines(t: { after: (fn: () => void | Promise<void>) => void }, store: Store): Promise<BothEngines> {
  const server = await filePostgres();
  const sql = server.connect();
  await publishToPg(store, sql);
  await sql`DELETE FROM sbd.node_served_trust_files`;
  await sql`DELETE FROM sbd.node_device_itl_hashes`;
  await sql`DELETE FROM sbd.node_device_trust_reports`;
  // No poll during the test: `publish()` reloads by hand, so what a test sees never depends on timing.
  const copy = await PgStoreCopy.open(sql, { pollIntervalMs: 3_600_000 });
  t.after(() => copy.close());
  return {
    server,
    sql,
    copy,
    publish: async () => {
      await publishToPg(store, sql);
      await copy.refresh();
    },
  };
}

/**
 * An appliance store with something in every table TFTP and SIP read: RSA keys (PKCS#1 v1.5 signatures are
 * deterministic, so both engines' files compare byte for byte), a phone with Security by Default and its number and
 * digest user, an older model without, an end user, partitions and a CSS, a trunk with a route pattern.
 */
export function serviceStore(t: { after: (fn: () => void) => void }): { store: Store; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-pg-engines-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  initAppliance({ dir, hostname: 'cucm-pub', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
  const { store } = openState(dir);
  t.after(() => store.close());
  const realm = store.getParam('SipStationRealm');
  for (const [userid, kind] of [
    ['phone1', 'application'],
    ['alice', 'end'],
  ] as const) {
    store.putUser({ userid, credentialHash: 'x', algorithm: 'none', kind });
    const h = digestHa1(userid, realm, `pw-${userid}`);
    store.putDigestCredential(userid, realm, h.ha1Md5, h.ha1Sha256);
  }
  store.putSecurityProfile({
    name: 'Digest Profile',
    deviceSecurityMode: 'non-secure',
    tftpEncryptedConfig: false,
    transport: 'tcp+udp',
    digestAuth: true,
  });
  store.addDevice({ name: PHONE, model: '8845', securityProfile: 'Digest Profile', digestUser: 'phone1', directoryNumber: '1001' });
  store.addDevice({ name: OLD_PHONE, model: '7945', directoryNumber: '1002' });
  store.sip.putPartition('Internal');
  store.sip.putPartition('PSTN');
  store.sip.putCss('Everything', ['Internal', 'PSTN']);
  store.sip.setDeviceSettings(PHONE, { partition: 'Internal', css: 'Everything' });
  store.sip.putTrunk({ name: 'carrier', host: '127.0.0.9', port: 5060, transport: 'udp', digestAuth: false });
  store.sip.putRoutePattern('9!', 'PSTN', 'carrier');
  return { store, dir };
}

export const PHONE = 'SEP001122334455';
export const OLD_PHONE = 'SEP00000000AAAA';
