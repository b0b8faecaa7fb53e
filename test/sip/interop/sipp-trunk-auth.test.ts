/**
 * sbd answering a trunk's challenges, with real peers on loopback: a sipp UAS is the trunk (on 127.0.0.3, so
 * it is recognised by address), a sipp UAC registered to sbd is the phone. The trunk challenges the call with
 * 407 (or 401), expects sbd's own ACK for it and the INVITE again with credentials and CSeq + 1, then the
 * phone's ACK and BYE in the trunk's numbering; the phone expects no challenge and its own CSeq numbers.
 * The trunk's message trace is read back to check branches and the digest (by hand, with node:crypto).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAuthHeader } from '../../../src/sip/core/auth/digest.js';
import { encryptTrunkPassword } from '../../../src/sip/auth/trunk-secret.js';
import { createLogger } from '../../../src/lib/log.js';
import { addLineUser, freePort, have, runSipp, sippReceivedRequests, startDaemon, writeFile, type Harness } from './harness.js';

const scenarios = join(import.meta.dirname, 'scenarios');
const skip = have('sipp') ? false : 'sipp (Debian sip-tester) is not installed: scripts/install-deps.sh installs it';
const TRUNK_IP = '127.0.0.3';
const PASSWORD = 'carrier-pw-7Qx';
let h: Harness;
const logLines: string[] = [];

before(async () => {
  if (skip) return;
  h = await startDaemon({ logger: createLogger('sip', { write: (l) => logLines.push(l) }) });
  addLineUser(h.state, 'u1000', 'pw-u1000');
});
after(async () => {
  await h?.close();
});

const freeUdpPort = (host: string) => freePort('udp', host);

/** The trunk as the store knows it, with its credential for realm carrier.example (encrypted). */
function trunkAt(port: number, password = PASSWORD): void {
  h.state.store.sip.putTrunk({ name: 'carrier', host: TRUNK_IP, port, transport: 'udp', digestAuth: false });
  h.state.store.sip.putRoutePattern('9!', null, 'carrier');
  h.state.store.sip.putTrunkCredential(
    'carrier',
    'carrier.example',
    'sbd-account',
    encryptTrunkPassword(h.state.layout, 'carrier', 'carrier.example', password),
  );
}

const sipp = (args: string[], name: string) => runSipp(h.dir, args, name);
const received = sippReceivedRequests;

function digestOk(header: string, method: string, password: string): boolean {
  const p = parseAuthHeader(header).params;
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const ha1 = md5(`${p.get('username')}:${p.get('realm')}:${password}`);
  return p.get('response') === md5(`${ha1}:${p.get('nonce')}:${p.get('nc')}:${p.get('cnonce')}:auth:${md5(`${method}:${p.get('uri')}`)}`);
}

async function call(trunkScenario: string, phoneScenario: string, name: string, trunkInf?: string) {
  const trunkPort = await freeUdpPort(TRUNK_IP);
  trunkAt(trunkPort);
  const phonePort = await freeUdpPort('127.0.0.1');
  const trace = join(h.dir, `${name}-trunk-messages.log`);
  const trunk = sipp(
    [
      '-sf',
      join(scenarios, trunkScenario),
      '-i',
      TRUNK_IP,
      '-p',
      String(trunkPort),
      '-m',
      '1',
      '-trace_msg',
      '-message_file',
      trace,
      ...(trunkInf ? ['-inf', trunkInf] : []),
    ],
    `${name}-trunk`,
  );
  await new Promise((r) => setTimeout(r, 500)); // the UAS binds its port; the phone's INVITE retransmits anyway
  const users = writeFile(h.dir, `${name}-users.csv`, 'SEQUENTIAL\nu1000;[authentication username=u1000 password=pw-u1000];9123\n');
  const phone = await sipp(
    [
      `127.0.0.1:${h.ports.udp}`,
      '-sf',
      join(scenarios, phoneScenario),
      '-i',
      '127.0.0.1',
      '-p',
      String(phonePort),
      '-m',
      '1',
      '-inf',
      users,
    ],
    `${name}-phone`,
  );
  const t = await trunk;
  return { phone, trunk: t, trace };
}

test("call to a trunk that answers 407: sbd ACKs it, re-sends with Proxy-Authorization and CSeq+1; ACK/BYE in the trunk's numbering, the phone's own CSeq back", {
  skip,
}, async () => {
  const { phone, trunk, trace } = await call('trunk-auth-uas.xml', 'phone-trunk-call.xml', 'call407');
  assert.equal(trunk.code, 0, trunk.stdout.slice(-4000));
  assert.equal(phone.code, 0, phone.stdout.slice(-4000));
  const msgs = received(trace);
  const [invite1, ack407, invite2, ack2xx, bye] = msgs;
  assert.deepEqual(
    msgs.map((m) => `${m.method} ${m.cseq().seq}`),
    ['INVITE 3', 'ACK 3', 'INVITE 4', 'ACK 4', 'BYE 5'],
    readFileSync(trace, 'utf8').slice(0, 6000),
  );
  // sbd's ACK of the 407: one Via, the first INVITE's branch (§17.1.1.3); the re-sent INVITE: a new branch
  assert.equal(ack407!.via().length, 1);
  assert.equal(ack407!.topVia().params.get('branch'), invite1!.topVia().params.get('branch'));
  assert.notEqual(invite2!.topVia().params.get('branch'), invite1!.topVia().params.get('branch'));
  assert.equal(invite2!.callId(), invite1!.callId());
  assert.equal(invite2!.get('From'), invite1!.get('From'));
  assert.equal(invite1!.get('Proxy-Authorization'), undefined);
  assert.ok(digestOk(invite2!.get('Proxy-Authorization')!, 'INVITE', PASSWORD), invite2!.get('Proxy-Authorization'));
  assert.equal(ack2xx!.via().length, 2);
  assert.equal(bye!.via().length, 2);
  const answered = logLines.filter((l) => l.includes('trunk-challenge-answered'));
  assert.equal(answered.length, 1);
  assert.deepEqual((({ trunk: t, realm, method }) => ({ t, realm, method }))(JSON.parse(answered[0]!)), {
    t: 'carrier',
    realm: 'carrier.example',
    method: 'INVITE',
  });
  assert.ok(!logLines.some((l) => l.includes(PASSWORD)));
});

test("CANCEL after a 401 answered by sbd (checked by sipp's verifyauth) reaches the re-sent INVITE: its branch, CSeq 4; 487 back with the phone's CSeq", {
  skip,
}, async () => {
  const pw = writeFile(h.dir, 'trunk-pw.csv', `SEQUENTIAL\n${PASSWORD}\n`);
  const { phone, trunk, trace } = await call('trunk-auth-cancel-uas.xml', 'phone-trunk-cancel.xml', 'cancel401', pw);
  assert.equal(trunk.code, 0, trunk.stdout.slice(-4000));
  assert.equal(phone.code, 0, phone.stdout.slice(-4000));
  const msgs = received(trace);
  assert.deepEqual(
    msgs.map((m) => `${m.method} ${m.cseq().seq}`),
    ['INVITE 3', 'ACK 3', 'INVITE 4', 'CANCEL 4', 'ACK 4'],
  );
  const [, , invite2, cancel, ack487] = msgs;
  assert.equal(cancel!.topVia().params.get('branch'), invite2!.topVia().params.get('branch'));
  assert.equal(ack487!.topVia().params.get('branch'), invite2!.topVia().params.get('branch'));
  assert.ok(invite2!.get('Authorization'));
});

test("a stored password the trunk does not accept: sipp's verifyauth refuses it and the call fails (the test can fail)", {
  skip,
}, async () => {
  const pw = writeFile(h.dir, 'trunk-pw-other.csv', 'SEQUENTIAL\nnot-the-password\n');
  const { trunk, phone, trace } = await call('trunk-auth-cancel-uas.xml', 'phone-trunk-cancel.xml', 'wrongpw', pw);
  assert.notEqual(trunk.code, 0);
  assert.notEqual(phone.code, 0); // it got the trunk's 403 instead of 180
  // it failed on the credentials: sbd did answer the 401 (INVITE 4 with Authorization), sipp refused it with 403
  const msgs = received(trace);
  assert.deepEqual(
    msgs.slice(0, 3).map((m) => `${m.method} ${m.cseq().seq}`),
    ['INVITE 3', 'ACK 3', 'INVITE 4'],
  );
  assert.ok(msgs[2]!.get('Authorization'));
  assert.match(readFileSync(trace, 'utf8'), /SIP\/2\.0 403 Forbidden/);
});
