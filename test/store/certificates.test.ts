import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { fixedClock } from '../../src/lib/clock.js';
import { StoreError, type Store } from '../../src/store/index.js';
import { makeCert, open, opensslX509, tempDir } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

describe('certificates', () => {
  let dir: string;
  let path: string;
  let s: Store;
  let now = Date.parse('2026-11-25T10:00:00.000Z');
  const pems: Record<string, string> = {};

  before(() => {
    dir = tempDir();
    path = join(dir, 'certs.db');
    s = open(path, { clock: { now: () => now } });
    s.addNode({ name: 'pub', hostname: 'cucm1.example', isPublisher: true, services: ['tftp', 'tvs', 'capf'] });
    s.addNode({ name: 'sub1', hostname: 'cucm2.example', services: ['tftp', 'tvs'] });
    pems.cm1 = makeCert(dir, 'cucm1.example', { rsa: true });
    pems.cm2 = makeCert(dir, 'cucm1.example', { rsa: true });
    pems.cm3 = makeCert(dir, 'cucm1.example');
    pems.tvs = makeCert(dir, 'tvs-cucm2.example');
    pems.itlr = makeCert(dir, 'ITLRECOVERY_cucm1.example', { days: 7300 });
    pems.ca1 = makeCert(dir, 'Some Root CA');
    pems.ca2 = makeCert(dir, 'Other Root CA');
  });

  it('parses the PEM like openssl does: subject, issuer, serial, validity, fingerprints', () => {
    const c = s.putCertificate({ name: 'CallManager', node: 'pub', pem: pems.cm1!, keyFile: '/k/CallManager.key', purpose: 'TFTP signer' });
    assert.equal(c.current, true);
    assert.equal(c.kind, 'identity');
    assert.equal(c.node, 'pub');
    assert.equal(c.createdAt, '2026-11-25T10:00:00.000Z');
    assert.equal(c.serialHex, opensslX509(c.pem, '-serial').replace('serial=', '').toLowerCase());
    assert.equal(c.sha256Hex, opensslX509(c.pem, '-fingerprint', '-sha256').split('=')[1]!.replace(/:/g, '').toLowerCase());
    assert.equal(c.sha1Hex, opensslX509(c.pem, '-fingerprint', '-sha1').split('=')[1]!.replace(/:/g, '').toLowerCase());
    assert.match(c.subject, /CN=cucm1\.example/);
    assert.match(c.subject, /O=sbd test/);
    assert.equal(c.issuer, c.subject);
    assert.equal(Date.parse(c.notBefore), Date.parse(opensslX509(c.pem, '-startdate').replace('notBefore=', '')));
    assert.equal(Date.parse(c.notAfter), Date.parse(opensslX509(c.pem, '-enddate').replace('notAfter=', '')));
    assert.ok(c.der.length > 500 && c.der[0] === 0x30);
    assert.equal(c.purpose, 'TFTP signer');
  });

  it('replacing keeps the old certificate as history, in the same transaction', () => {
    const old = s.currentCertificate('CallManager', 'pub')!;
    now += 60_000;
    const g = s.generation();
    const fresh = s.putCertificate({ name: 'CallManager', node: 'pub', pem: pems.cm2!, keyFile: '/k/CallManager.key' });
    assert.equal(s.generation(), g + 1, 'one write transaction');
    assert.equal(s.currentCertificate('CallManager', 'pub')!.id, fresh.id);
    const all = s.listCertificates({ includeHistory: true, name: 'CallManager' });
    assert.deepEqual(
      all.map((c) => [c.id, c.current, c.replacedAt]),
      [
        [old.id, false, '2026-11-25T10:01:00.000Z'],
        [fresh.id, true, null],
      ],
    );
    // TVS can still find the replaced signer by hash.
    assert.equal(s.findCertificateBySha256(old.sha256Hex)!.current, false);
    assert.equal(s.findCertificateBySha256(fresh.sha256Hex.toUpperCase())!.id, fresh.id);
    assert.equal(s.findCertificatesBySerial(old.serialHex, old.issuer)[0]!.id, old.id);
  });

  it('rolls back the demotion when inserting the new certificate fails', () => {
    // A trigger (added with a second, raw connection) makes the INSERT fail after the UPDATE ran.
    const raw = new Database(path);
    raw.exec(`CREATE TRIGGER refuse_ec BEFORE INSERT ON certificates WHEN NEW.subject LIKE '%cucm1.example%' AND length(NEW.der) < 600
              BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`);
    const before = s.currentCertificate('CallManager', 'pub')!;
    const g = s.generation();
    assert.throws(
      () => s.putCertificate({ name: 'CallManager', node: 'pub', pem: pems.cm3!, keyFile: '/k/x.key' }),
      isCode('ERR_STORE_CONSTRAINT'),
    );
    raw.exec('DROP TRIGGER refuse_ec');
    raw.close();
    const after = s.currentCertificate('CallManager', 'pub')!;
    assert.equal(after.id, before.id);
    assert.equal(after.current, true);
    assert.equal(after.replacedAt, null);
    assert.equal(s.listCertificates({ includeHistory: true, name: 'CallManager' }).length, 2);
    assert.equal(s.generation(), g, 'a rolled-back write does not count');
  });

  it('putting the same certificate again changes nothing', () => {
    const cur = s.currentCertificate('CallManager', 'pub')!;
    const again = s.putCertificate({ name: 'CallManager', node: 'pub', pem: cur.pem, keyFile: cur.keyFile, purpose: cur.purpose });
    assert.equal(again.id, cur.id);
    assert.equal(s.listCertificates({ includeHistory: true, name: 'CallManager' }).length, 2);
  });

  it('keeps cluster-wide and per-node certificates apart, and lists in a stable order', () => {
    s.putCertificate({ name: 'ITLRecovery', node: null, pem: pems.itlr!, keyFile: '/k/ITLRecovery.key' });
    s.putCertificate({ name: 'TVS', node: 'sub1', pem: pems.tvs!, keyFile: '/k/TVS.key' });
    assert.equal(s.currentCertificate('ITLRecovery', null)!.node, null);
    assert.equal(s.currentCertificate('ITLRecovery', 'pub'), undefined);
    assert.equal(s.currentCertificate('TVS', 'pub'), undefined);
    assert.equal(s.currentCertificate('TVS', 'nosuchnode'), undefined);
    assert.deepEqual(
      s.listCertificates().map((c) => `${c.name}/${c.node}`),
      ['CallManager/pub', 'ITLRecovery/null', 'TVS/sub1'],
    );
  });

  it('holds many trusted imports under one name, each once, removable', () => {
    const a = s.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: pems.ca1! });
    const b = s.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: pems.ca2!, purpose: 'directory server CA' });
    assert.equal(s.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: pems.ca1! }).id, a.id);
    assert.deepEqual(
      s.listCertificates({ name: 'tomcat-trust' }).map((c) => c.id),
      [a.id, b.id],
    );
    assert.equal(a.keyFile, null);
    s.removeCertificate(a.id);
    assert.deepEqual(
      s.listCertificates({ name: 'tomcat-trust' }).map((c) => c.id),
      [b.id],
    );
    assert.throws(() => s.putCertificate({ name: 'tomcat-trust', node: null, pem: pems.ca1!, keyFile: null }), isCode('ERR_CERT_INVALID'));
    assert.throws(() => s.addTrustedCertificate({ name: 'CallManager', node: null, pem: pems.ca1! }), isCode('ERR_CERT_INVALID'));
  });

  it('refuses to remove a current identity, allows removing its history', () => {
    const cur = s.currentCertificate('CallManager', 'pub')!;
    assert.throws(() => s.removeCertificate(cur.id), isCode('ERR_CERT_INVALID'));
    const hist = s.listCertificates({ includeHistory: true, name: 'CallManager' }).find((c) => !c.current)!;
    s.removeCertificate(hist.id);
    assert.throws(() => s.removeCertificate(hist.id), isCode('ERR_CERT_UNKNOWN'));
  });

  it('refuses bad input with ERR_CERT_INVALID / ERR_NODE_UNKNOWN and writes nothing', () => {
    const g = s.generation();
    const count = s.listCertificates({ includeHistory: true }).length;
    const bad: [unknown, string][] = [
      ['not a pem', 'ERR_CERT_INVALID'],
      ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'ERR_CERT_INVALID'],
      [pems.ca1! + pems.ca2!, 'ERR_CERT_INVALID'],
      [pems.ca1!.slice(0, 200), 'ERR_CERT_INVALID'],
      ['x'.repeat(70_000), 'ERR_CERT_INVALID'],
      [42, 'ERR_CERT_INVALID'],
    ];
    for (const [pem, code] of bad) {
      assert.throws(() => s.putCertificate({ name: 'CAPF', node: 'pub', pem: pem as string, keyFile: null }), isCode(code));
    }
    assert.throws(() => s.putCertificate({ name: 'CAPF', node: 'nosuch', pem: pems.ca1!, keyFile: null }), isCode('ERR_NODE_UNKNOWN'));
    assert.throws(() => s.putCertificate({ name: '', node: null, pem: pems.ca1!, keyFile: null }), isCode('ERR_CERT_INVALID'));
    assert.throws(() => s.putCertificate({ name: 'CAPF', node: null, pem: pems.ca1!, keyFile: 'a\u0000b' }), isCode('ERR_CERT_INVALID'));
    assert.equal(s.findCertificateBySha256('zz'), undefined);
    assert.equal(s.generation(), g);
    assert.equal(s.listCertificates({ includeHistory: true }).length, count);
  });

  it('refuses to remove a node that certificates still name', () => {
    assert.throws(() => s.removeNode('sub1'), isCode('ERR_NODE_IN_USE'));
    s.addNode({ name: 'spare', hostname: 'spare.example' });
    s.removeNode('spare');
    assert.equal(s.getNode('spare'), undefined);
  });
});

describe('nodes', () => {
  it('validates names, addresses, services and the single publisher', () => {
    const s = open(join(tempDir(), 'nodes.db'), { clock: fixedClock(0) });
    s.addNode({
      name: 'pub',
      hostname: 'pub.example',
      ipv4: '192.0.2.10',
      ipv6: '2001:db8::10',
      isPublisher: true,
      services: ['tvs', 'tftp', 'tvs'],
    });
    assert.deepEqual(s.getNode('pub')!.services, ['tftp', 'tvs']);
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'pub', hostname: 'x.example' }, 'ERR_NODE_EXISTS'],
      [{ name: 'p2', hostname: 'x.example', isPublisher: true }, 'ERR_NODE_EXISTS'],
      [{ name: 'bad name', hostname: 'x.example' }, 'ERR_NODE_INVALID'],
      [{ name: 'n', hostname: '-bad-.example' }, 'ERR_NODE_INVALID'],
      [{ name: 'n', hostname: 'ok.example', ipv4: '300.1.1.1' }, 'ERR_NODE_INVALID'],
      [{ name: 'n', hostname: 'ok.example', ipv6: '192.0.2.1' }, 'ERR_NODE_INVALID'],
      [{ name: 'n', hostname: 'ok.example', services: ['ftp'] }, 'ERR_NODE_INVALID'],
    ];
    for (const [input, code] of cases) assert.throws(() => s.addNode(input as never), isCode(code), JSON.stringify(input));
    s.setNodeServices('pub', ['sip', 'media']);
    assert.deepEqual(s.getNode('pub')!.services, ['media', 'sip']);
    assert.throws(() => s.setNodeServices('pub', ['bogus']), isCode('ERR_NODE_INVALID'));
    assert.deepEqual(s.getNode('pub')!.services, ['media', 'sip']);
    assert.throws(() => s.setNodeServices('ghost', []), isCode('ERR_NODE_UNKNOWN'));
    s.addNode({ name: 'sub', hostname: 'sub.example' });
    assert.deepEqual(
      s.listNodes().map((n) => n.name),
      ['pub', 'sub'],
    );
  });
});
