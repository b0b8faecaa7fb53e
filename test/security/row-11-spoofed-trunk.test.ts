/**
 * Issue 16 row 11: being a trunk by its source address. Before the fix every request from a trunk's address
 * was that trunk's (its CSS, its ACL, no phone check), also for trunks configured for TLS and over UDP, where
 * the source address is anyone's to write; an incoming TLS trunk was not recognised by its certificate. Now a
 * TLS trunk is that trunk only over TLS with a certificate issued by its own CA bundle (trunk-peer.ts), and the
 * daemon's TLS listener verifies trunk certificates against those CAs. UDP trunks stay possible, shown as weak.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { createSocket } from 'node:dgram';
import type { MessageSource } from '../../src/sip/transports/types.js';
import { makeState, startDaemon } from '../sip/interop/harness.js';
import { fixture, NOW, parse, sends, status } from './relay-fixture.js';

function pki() {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-trunk-ca-'));
  const ossl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const name of ['ca', 'other']) {
    ossl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=Trunk ${name} CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    ossl(['req', ...ec, '-keyout', `leaf-${name}.key`, '-out', `leaf-${name}.csr`, '-subj', `/CN=carrier ${name}`]);
    ossl([
      'x509',
      '-req',
      '-in',
      `leaf-${name}.csr`,
      '-CA',
      `${name}.pem`,
      '-CAkey',
      `${name}.key`,
      '-CAcreateserial',
      '-out',
      `leaf-${name}.pem`,
      '-days',
      '2',
    ]);
  }
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    ca: read('ca.pem'),
    leaf: { cert: read('leaf-ca.pem'), key: read('leaf-ca.key') },
    otherLeaf: { cert: read('leaf-other.pem'), key: read('leaf-other.key') },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const invite = (via: string) =>
  parse<SipRequest>([
    'INVITE sip:1001@127.0.0.1:5060 SIP/2.0',
    `Via: ${via};branch=z9hG4bKtr1`,
    'From: <sip:+15550100@127.0.0.5>;tag=t1',
    'To: <sip:1001@127.0.0.1>',
    'Call-ID: tr1@127.0.0.5',
    'CSeq: 1 INVITE',
    'Max-Forwards: 70',
    'Contact: <sip:+15550100@127.0.0.5:5061;transport=tls>',
  ]);

test('router: a TLS trunk is not its address over UDP/TCP, nor over TLS without a certificate from its CA', () => {
  const f = fixture();
  const p = pki();
  try {
    f.store.sip.putTrunk({ name: 'carrier', host: '127.0.0.5', port: 5061, transport: 'tls', digestAuth: false, tlsCaPem: p.ca });
    const from = (transport: MessageSource['transport'], issuer?: string): MessageSource => ({
      transport,
      address: '127.0.0.5',
      port: 40000,
      ...(transport === 'udp' ? {} : { connectionId: 9 }),
      ...(issuer ? { peerCertificate: { subject: 'CN=carrier', issuer, fingerprint256: 'AA' } } : {}),
    });
    // as the trunk: forwarded to the phone (no phone check for a trunk)
    const ok = f.router.handleRequest(invite('SIP/2.0/TLS 127.0.0.5:5061'), from('tls', 'CN=Trunk ca CA'), NOW);
    assert.equal(sends(ok)[0]?.port, 6001);
    for (const [what, src] of [
      ['UDP', from('udp')],
      ['TCP', from('tcp')],
      ['TLS without a certificate', from('tls')],
      ['TLS, another CA', from('tls', 'CN=Trunk other CA')],
    ] as const) {
      const a = f.router.handleRequest(invite(`SIP/2.0/${src.transport.toUpperCase()} 127.0.0.5:5061`), src, NOW);
      assert.deepEqual(sends(a), [], what);
      assert.ok([401, 403, 407].includes(status(a)!), `${what}: ${status(a)}`);
    }
    // a UDP trunk is still its address (weak, and listed as such)
    f.store.sip.putTrunk({ name: 'carrier', host: '127.0.0.5', port: 5060, transport: 'udp', digestAuth: false });
    assert.equal(sends(f.router.handleRequest(invite('SIP/2.0/UDP 127.0.0.5:5060'), from('udp'), NOW))[0]?.port, 6001);
  } finally {
    p.done();
    f.done();
  }
});

test("daemon: the TLS trunk is recognised over a TLS connection it opens with its certificate; its address over UDP or another CA's certificate is not the trunk", async () => {
  const p = pki();
  const made = makeState();
  made.state.store.putUser({ userid: 'carrier-app', credentialHash: 'x', algorithm: 'none', kind: 'application' });
  // digest on the trunk with 401: a request taken as the trunk's is challenged 401, any other is not
  made.state.store.sip.putTrunk({
    name: 'carrier',
    host: '127.0.0.5',
    port: 5061,
    transport: 'tls',
    digestAuth: true,
    challengeStatus: 401,
    digestUser: 'carrier-app',
    tlsCaPem: p.ca,
  });
  const h = await startDaemon({}, made);
  const sbdCa = made.state.store.currentCertificate('CallManager', 'sbd1')!.pem;
  const req = (t: string, port: number) =>
    Buffer.from(
      [
        'OPTIONS sip:1001@127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/${t} 127.0.0.5:${port};branch=z9hG4bKo${t}${port};rport`,
        'From: <sip:+15550100@127.0.0.5>;tag=t1',
        'To: <sip:1001@127.0.0.1>',
        `Call-ID: o${t}${port}@127.0.0.5`,
        'CSeq: 1 OPTIONS',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  const overTls = (cert?: { cert: string; key: string }) =>
    new Promise<number>((resolve, reject) => {
      const raw = tcpConnect({ host: '127.0.0.1', port: h.ports.tls!, localAddress: '127.0.0.5' });
      const s = tlsConnect({ socket: raw, ca: sbdCa, checkServerIdentity: () => undefined, ...(cert ?? {}) }, () =>
        s.write(req('TLS', s.localPort ?? 0)),
      );
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) {
          s.destroy();
          resolve((parseMessage(Buffer.from(buf)) as SipResponse).status);
        }
      });
      s.on('error', reject);
    });
  try {
    assert.equal(await overTls(p.leaf), 401, 'the trunk, by its certificate: its digest challenge');
    assert.notEqual(await overTls(p.otherLeaf), 401);
    assert.notEqual(await overTls(), 401);
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.5', () => r()));
    const got = new Promise<number>((resolve) => udp.once('message', (m) => resolve((parseMessage(m) as SipResponse).status)));
    udp.send(req('UDP', udp.address().port), h.ports.udp, '127.0.0.1');
    assert.notEqual(await got, 401, "the TLS trunk's address over UDP is not the trunk");
    udp.close();
  } finally {
    await h.close();
    p.done();
  }
});
