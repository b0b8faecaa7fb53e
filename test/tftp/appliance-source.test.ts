/**
 * The appliance's TFTP file source: which names exist, the per-device copies, the cache keyed by store
 * generation (unrelated writes keep the ITL bytes; real changes are seen by the next request), the ITL hash
 * recorded on change, static files signed on the fly, and a running transfer that keeps the bytes it began with.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { test } from 'node:test';
import { regenerateCertificate } from '../../src/cluster/certs.js';
import { openState } from '../../src/store/state.js';
import { fixedClock, systemClock } from '../../src/lib/clock.js';
import { storeApplianceSource } from '../../src/daemons/adapters/tftp-store.js';
import { TftpErrorCode } from '../../src/tftp/core/errors.js';
import { decodePacket, encodeAck, encodeRequest, Opcode } from '../../src/tftp/core/packet.js';
import { parseTrustFile } from '../../src/trust/codec.js';
import { headerFields } from '../../src/trust/fields.js';
import { verifyTrustFile } from '../../src/trust/verify.js';
import { publisher } from '../../src/trust/cluster-lists.js';
import { clientPool, startAppliance, tempDir } from '../sim/helpers.js';

const PHONE = 'SEP001122334455';
const notFound = { code: 'ERR_TFTP_NOT_FOUND', tftpCode: TftpErrorCode.fileNotFound };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const filenameOf = (b: Buffer) => headerFields(parseTrustFile(b)).filename;

test('names: trust lists, per-device copies for known devices only, configs, defaults', async () => {
  const app = await startAppliance();
  const { store } = app.state;
  const src = app.source;
  store.addDevice({ name: PHONE, model: '8845' });

  const itl = await src.open('ITLFile.tlv');
  assert.equal(filenameOf(itl), 'ITLFile.tlv');
  const perDevice = await src.open(`ITL${PHONE}.tlv`);
  assert.equal(perDevice, itl, 'ITLSEP<MAC>.tlv is the same bytes, header FILENAME ITLFile.tlv');
  await assert.rejects(src.open('ITLSEP0000000000AA.tlv'), notFound);
  await assert.rejects(src.open('CTLFile.tlv'), notFound, 'no CTL outside mixed mode');
  await assert.rejects(src.open(`CTL${PHONE}.tlv`), notFound);

  const sgn = await src.open(`${PHONE}.cnf.xml.sgn`);
  assert.equal(filenameOf(sgn), `${PHONE}.cnf.xml.sgn`);
  assert.match((await src.open(`${PHONE}.cnf.xml`)).toString(), /<name>SEP001122334455<\/name>/);
  await assert.rejects(src.open(`${PHONE}.cnf.xml.enc.sgn`), notFound, 'no encrypted config without a profile asking for it');
  assert.match((await src.open('XMLDefault.cnf.xml')).toString(), /^<\?xml|<Default>/);
  assert.equal(filenameOf(await src.open('XMLDefault.cnf.xml.sgn')), 'XMLDefault.cnf.xml.sgn');
  await assert.rejects(src.open('SEP0000000000AA.cnf.xml'), notFound);
  await assert.rejects(src.open('ringlist.xml'), notFound, 'no static folder configured');
  await assert.rejects(src.open(`ITL${PHONE}.cnf.xml`), notFound);

  store.setParam('ClusterSecurityMode', 'mixed');
  const ctl = await src.open('CTLFile.tlv');
  assert.equal(filenameOf(ctl), 'CTLFile.tlv');
  assert.equal(await src.open(`CTL${PHONE}.tlv`), ctl);
});

test('cache: unrelated writes keep the ITL bytes and hash; a certificate change is seen by the next request and recorded', async () => {
  // A source clock other than init's, so the served ITL's timestamp (and hash) surely differs from init's.
  const app = await startAppliance({ source: { clock: fixedClock(Date.UTC(2030, 0, 1)) } });
  const { store } = app.state;
  const src = app.source;
  const node = publisher(store).name;
  const itl1 = await src.open('ITLFile.tlv');
  const recorded = () => store.listServerItlHashes().find((r) => r.server === node && r.file === 'ITLFile.tlv')!.sha256Hex;
  assert.equal(recorded(), sha(itl1));
  assert.equal(src.stats.itlHashesRecorded, 1, 'the hash init recorded differs (other timestamp): recorded once');

  assert.equal(await src.open('ITLFile.tlv'), itl1, 'a cache hit returns the same Buffer');
  const builds = src.stats.builds;
  assert.equal(src.stats.builds, builds);

  store.addDevice({ name: PHONE, model: '8845' }); // a store write that does not touch the ITL
  const itl2 = await src.open('ITLFile.tlv');
  assert.ok(itl2.equals(itl1), 'same content, same bytes');
  assert.equal(src.stats.revalidated, 1);
  assert.equal(src.stats.itlHashesRecorded, 1, 'no new record for an unchanged ITL');

  regenerateCertificate(app.state, 'CallManager', systemClock);
  const itl3 = await src.open('ITLFile.tlv');
  assert.ok(!itl3.equals(itl1), 'the next request sees the new certificate');
  const newCm = store.currentCertificate('CallManager', node)!;
  assert.ok(verifyTrustFile(itl3).records.some((r) => r.certificate?.equals(newCm.der)));
  assert.equal(recorded(), sha(itl3));
  assert.equal(src.stats.itlHashesRecorded, 2);
  // Recording the hash is our own write: it does not make the next request rebuild.
  const before = src.stats.builds;
  assert.equal(await src.open('ITLFile.tlv'), itl3);
  assert.equal(src.stats.builds, before);

  // A second source on its own connection (another sbd-tftpd process) sees the same ITL and records nothing new.
  const other = openState(app.dir);
  try {
    const src2 = storeApplianceSource({ store: other.store });
    const itl4 = await src2.open('ITLFile.tlv');
    assert.equal(filenameOf(itl4), 'ITLFile.tlv');
    other.store.close();
    await assert.rejects(
      src2.open('ITLFile.tlv'),
      (e: { tftpCode?: number; code?: string }) => e.tftpCode === 0 && e.code === 'ERR_TFTP_SOURCE',
      'a closed store is error 0, not a crash',
    );
  } finally {
    other.store.close();
  }
});

test('openCacheable: generated files carry the store generation the native data plane compares; static files none', async () => {
  const root = tempDir('sbd-static-');
  writeFileSync(join(root, 'RingList.xml'), '<CiscoIPPhoneRingList/>\n');
  const app = await startAppliance({ source: { staticRoot: root, clock: fixedClock(Date.UTC(2031, 0, 1)) } });
  const { store } = app.state;
  const src = app.source;
  assert.equal(src.generationFile, store.generationFile);
  const published = () => Number(readFileSync(src.generationFile!).readBigUInt64LE(0));
  const a = await src.openCacheable('ITLFile.tlv');
  assert.equal(a.validity?.generation, published(), 'recording the ITL hash (our own write) is part of it');
  assert.equal(a.validity?.generation, store.generation());
  store.addDevice({ name: PHONE, model: '8845' });
  assert.notEqual(published(), a.validity?.generation, 'any write makes the data plane ask again');
  const b = await src.openCacheable('ITLFile.tlv');
  assert.equal(b.bytes, a.bytes, 'revalidated: the same bytes');
  assert.equal(b.validity?.generation, published());
  assert.equal((await src.openCacheable(`${PHONE}.cnf.xml.sgn`)).validity?.generation, published());
  const ring = await src.openCacheable('RingList.xml');
  assert.equal(ring.bytes.toString(), '<CiscoIPPhoneRingList/>\n');
  assert.equal(ring.validity, undefined, 'static files are looked at on every request');
  await assert.rejects(
    Promise.resolve().then(() => src.openCacheable('SEP0000000000AA.cnf.xml')),
    notFound,
  );
});

test('static files: served as they are; NAME.sgn signed on the fly with FILENAME = the requested path', async () => {
  const root = tempDir('sbd-static-');
  mkdirSync(join(root, 'German_Germany'));
  writeFileSync(join(root, 'German_Germany', 'g4-tones.xml'), '<tones>de</tones>\n');
  writeFileSync(join(root, 'RingList.xml'), '<CiscoIPPhoneRingList/>\n');
  writeFileSync(join(root, 'presigned.bin.sgn'), 'as is');
  const app = await startAppliance({ source: { staticRoot: root } });
  const src = app.source;
  const cm = app.state.store.currentCertificate('CallManager', publisher(app.state.store).name)!;

  assert.equal((await src.open('RingList.xml')).toString(), '<CiscoIPPhoneRingList/>\n');
  assert.equal((await src.open('presigned.bin.sgn')).toString(), 'as is');
  const signed = await src.open('German_Germany/g4-tones.xml.sgn');
  const v = verifyTrustFile(signed, {
    kind: 'sgn',
    candidates: [{ label: 'CallManager', publicKey: new X509Certificate(cm.der).publicKey }],
  });
  assert.equal(v.valid, true);
  assert.equal(v.header.filename, 'German_Germany/g4-tones.xml.sgn');
  assert.equal(v.file.body.toString(), '<tones>de</tones>\n');
  assert.equal(await src.open('German_Germany/g4-tones.xml.sgn'), signed, 'cached by the source content hash');

  writeFileSync(join(root, 'German_Germany', 'g4-tones.xml'), '<tones>de2</tones>\n');
  const resigned = await src.open('German_Germany/g4-tones.xml.sgn');
  assert.equal(parseTrustFile(resigned, { kind: 'sgn' }).body.toString(), '<tones>de2</tones>\n');
  await assert.rejects(src.open('missing.xml.sgn'), notFound);
  await assert.rejects(src.open('.sgn'), notFound);
});

test('a running transfer ends with the bytes it began with; the next request sees the new store', async () => {
  const app = await startAppliance();
  const old = await app.source.open('ITLFile.tlv');
  assert.ok(old.length > 2 * 512, 'the ITL spans several 512-byte blocks');

  // A hand-driven RFC 1350 client (no options: blksize 512) that stops after block 1.
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  try {
    sock.send(encodeRequest(Opcode.RRQ, 'ITLFile.tlv', 'octet'), app.port, '127.0.0.1');
    const [msg1, rinfo] = (await once(sock, 'message')) as [Buffer, { port: number }];
    const first = decodePacket(msg1);
    assert.equal(first.opcode, Opcode.DATA);
    const blocks: Buffer[] = [(first as { data: Buffer }).data];

    regenerateCertificate(app.state, 'CallManager', systemClock);
    const fresh = (
      await clientPool().fetch({ server: '127.0.0.1', port: app.port, name: 'ITLFile.tlv', blksize: 1428, tsize: true, timeoutMs: 2000 })
    ).data;
    assert.ok(!fresh.equals(old), 'a new request gets the rebuilt ITL');

    let block = 1;
    for (;;) {
      sock.send(encodeAck(block), rinfo.port, '127.0.0.1');
      const [msg] = (await once(sock, 'message')) as [Buffer];
      const p = decodePacket(msg);
      assert.equal(p.opcode, Opcode.DATA);
      const d = p as { block: number; data: Buffer };
      if (d.block !== block + 1) continue; // a retransmission of the block we have
      blocks.push(d.data);
      block = d.block;
      if (d.data.length < 512) break;
    }
    sock.send(encodeAck(block), rinfo.port, '127.0.0.1');
    assert.ok(Buffer.concat(blocks).equals(old), 'the running transfer kept the old bytes');
  } finally {
    sock.close();
  }
});

test('prebuild: the first files of every known device are built ahead, then served from memory', async () => {
  const app = await startAppliance();
  const { store } = app.state;
  for (let i = 0; i < 20; i++)
    store.addDevice({ name: `SEP0000000000${(0x10 + i).toString(16).toUpperCase()}`, model: i % 5 === 0 ? '6921' : '8845' });
  const handed: string[] = [];
  const built = await app.source.prebuild({
    batch: 7,
    onFile: (name, f) => {
      assert.equal(f.validity?.generation, store.generation(), name);
      handed.push(name);
    },
  });
  assert.equal(built, 4 + 20);
  assert.equal(handed.length, 3 + 20, 'every file that exists (no CTL outside mixed mode) goes to onFile');
  assert.ok(handed.includes('ITLFile.tlv') && handed.includes('SEP000000000011.cnf.xml.sgn') && !handed.includes('CTLFile.tlv'));
  const hits = app.source.stats.hits;
  const builds = app.source.stats.builds;
  await app.source.open('SEP000000000011.cnf.xml.sgn');
  await app.source.open('SEP000000000010.cnf.xml'); // a 6921: its unsigned config was prebuilt
  await app.source.open('ITLFile.tlv');
  assert.equal(app.source.stats.builds, builds, 'nothing built on request');
  assert.equal(app.source.stats.hits, hits + 3);
});
