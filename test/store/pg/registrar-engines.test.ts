/**
 * The registrar's scenario of test/sip/registrar/directory-memory.test.ts run over each store engine (issue 21
 * item 1): the SQLite `ApplianceDirectory` and the PostgreSQL `PgDirectory` (a node's copy of a published store),
 * the same steps and the same expectations — a digest REGISTER binds and its ITL report is stored, an unregister
 * clears the report, a device name the store does not know is answered with a challenge (not revealed). On
 * PostgreSQL the report and its removal also go to the primary's node-local table (coalesced: only the removal).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PgDirectory } from '../../../src/daemons/adapters/pg-sip-store.js';
import { ApplianceDirectory } from '../../../src/daemons/adapters/sip-store.js';
import { answerChallenge, DigestServer } from '../../../src/sip/core/auth/digest.js';
import type { SipRequest } from '../../../src/sip/core/messages/message.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { Directory } from '../../../src/sip/registrar/directory.js';
import { ITL_REPORT_HEADER, Registrar } from '../../../src/sip/registrar/registrar.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';
import type { Store } from '../../../src/store/index.js';
import { PgNodeWriter } from '../../../src/store/pg/node-writes.js';
import { bothEngines, PHONE, serviceStore } from './engines.js';
import { pgMissing } from './postgres.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const udp: MessageSource = { transport: 'udp', address: '127.0.0.1', port: 5062 };
let cseq = 1;

function register(realm: string, aor: string, extra: string[] = []): SipRequest {
  const text = [
    `REGISTER sip:${realm} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK${cseq}x`,
    `From: <sip:${aor}@${realm}>;tag=f1`,
    `To: <sip:${aor}@${realm}>`,
    'Call-ID: engines@test',
    `CSeq: ${cseq++} REGISTER`,
    'Max-Forwards: 70',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** The scenario; `store` is where the engine's directory reads and writes (the SQLite store or the node's copy). */
function scenario(directory: Directory, store: Store): void {
  const realm = directory.realm();
  const digest = new DigestServer({ realm, secret: Buffer.alloc(32, 7) });
  const registrar = new Registrar({ digest, directory }, { minExpires: 60, maxExpires: 3600 });
  const withAuth = (aor: string, extra: string[], now: number) => {
    const first = registrar.handleRegister(register(realm, aor, extra), udp, now);
    assert.equal(first.response.status, 401);
    const auth = answerChallenge({
      challenge: first.response.get('WWW-Authenticate')!,
      method: 'REGISTER',
      uri: `sip:${realm}`,
      username: 'phone1',
      secret: { password: 'pw-phone1' },
      cnonce: 'c1',
      nc: 1,
    });
    return registrar.handleRegister(register(realm, aor, [...extra, `Authorization: ${auth}`]), udp, now);
  };
  const hash = 'ab'.repeat(32);
  const ok = withAuth('1001', ['Contact: <sip:1001@127.0.0.1:5062>', 'Expires: 600', `${ITL_REPORT_HEADER}: ${hash}`], T0);
  assert.deepEqual([ok.response.status, ok.result], [200, 'registered']);
  assert.equal(registrar.bindings.lookup('1001', T0).length, 1);
  assert.equal(store.getDeviceItlHash(PHONE)?.sha256Hex, hash, 'the ITL report is stored');
  const bye = withAuth('1001', ['Contact: *', 'Expires: 0'], T0 + 1000);
  assert.deepEqual([bye.response.status, bye.result], [200, 'unregistered']);
  assert.equal(store.getDeviceItlHash(PHONE), undefined, 'the unregister cleared it');
  const unknown = registrar.handleRegister(
    register(realm, 'SEP0000000000AA', ['Contact: <sip:x@127.0.0.1>', 'User-Agent: Cisco-CP8845/14.2.1']),
    udp,
    T0,
  );
  assert.equal(unknown.response.status, 401, 'an unknown device is not revealed');
  assert.equal(store.getDevice('SEP0000000000AA'), undefined, 'and not created');
}

test('the registrar scenario over the SQLite store', (t) => {
  const { store } = serviceStore(t);
  scenario(new ApplianceDirectory(store), store);
});

test('the registrar scenario over PostgreSQL (a node copy of the published store)', { skip: pgMissing() }, async (t) => {
  const { store } = serviceStore(t);
  const pg = await bothEngines(t, store);
  const writes = new PgNodeWriter(pg.sql, { node: 'sub1', flushIntervalMs: 3_600_000 });
  t.after(() => writes.close());
  // A report this node made earlier, on the primary: the unregister must remove it there too.
  await pg.sql`INSERT INTO sbd.node_device_itl_hashes (device, node, sha256_hex, status, at)
    VALUES (${PHONE}, 'sub1', ${'cd'.repeat(32)}, 'installed', '2026-01-01T00:00:00.000Z')`;
  scenario(new PgDirectory(pg.copy, writes), pg.copy.store);
  assert.equal(writes.pending, 1, 'the report and its removal coalesce into one row');
  assert.equal(await writes.flush(), 1);
  assert.equal((await pg.sql`SELECT 1 FROM sbd.node_device_itl_hashes WHERE device = ${PHONE}`).length, 0);
  assert.equal(store.getDeviceItlHash(PHONE), undefined, "the publisher's SQLite is not written by a node");
});
