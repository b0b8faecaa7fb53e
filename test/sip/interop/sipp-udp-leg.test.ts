/**
 * The UDP leg's client transactions (src/sip/routing/udp-leg.ts) against real peers: a sipp phone on TCP
 * (`-t t1`: it never retransmits) registers and calls a number routed to a sipp UAS on UDP (the trunk, on
 * 127.0.0.7) that ignores the first copy of requests. The call completes only if sbd sends them again; the
 * trunk's message trace shows what reached it, in order. sbd runs with the RFC's default T1 (500 ms).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SipRequest } from '../../../src/sip/core/messages/message.js';
import { encryptTrunkPassword } from '../../../src/sip/auth/trunk-secret.js';
import { addLineUser, freePort, have, runSipp, sippReceivedRequests, startDaemon, writeFile, type Harness } from './harness.js';

const scenarios = join(import.meta.dirname, 'scenarios');
const skip = have('sipp') ? false : 'sipp (Debian sip-tester) is not installed: scripts/install-deps.sh installs it';
const TRUNK_IP = '127.0.0.7';
let h: Harness;

before(async () => {
  if (skip) return;
  h = await startDaemon();
  addLineUser(h.state, 'u1000', 'pw-u1000');
});
after(async () => {
  await h?.close();
});

const sipp = (args: string[], name: string) => runSipp(h.dir, args, name);
const received = sippReceivedRequests;

async function call(trunkScenario: string, name: string, prefix: string) {
  const trunkPort = await freePort('udp', TRUNK_IP);
  h.state.store.sip.putTrunk({ name: `carrier-${name}`, host: TRUNK_IP, port: trunkPort, transport: 'udp', digestAuth: false });
  h.state.store.sip.putRoutePattern(`${prefix}!`, null, `carrier-${name}`);
  h.state.store.sip.putTrunkCredential(
    `carrier-${name}`,
    'carrier.example',
    'sbd-account',
    encryptTrunkPassword(h.state.layout, `carrier-${name}`, 'carrier.example', 'carrier-pw-leg'),
  );
  const trace = join(h.dir, `${name}-trunk-messages.log`);
  // -nr: sipp's UDP retransmission handling off, which also turns off its detection of received retransmissions
  // (a copy equal to the last received message would be dropped as one, and the scenario would never advance).
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
      '-nr',
      '-trace_msg',
      '-message_file',
      trace,
    ],
    `${name}-trunk`,
  );
  await new Promise((r) => setTimeout(r, 500)); // the UAS binds its port (a lost first INVITE is what this tests anyway)
  const users = writeFile(h.dir, `${name}-users.csv`, `SEQUENTIAL\nu1000;[authentication username=u1000 password=pw-u1000];${prefix}123\n`);
  const phone = await sipp(
    [
      `127.0.0.1:${h.ports.tcp}`,
      '-t',
      't1',
      '-sf',
      join(scenarios, 'phone-trunk-call.xml'),
      '-i',
      '127.0.0.1',
      '-p',
      String(await freePort('tcp', '127.0.0.1')),
      '-m',
      '1',
      '-inf',
      users,
    ],
    `${name}-phone`,
  );
  return { phone, trunk: await trunk, trace };
}

const branch = (m: SipRequest) => m.topVia().params.get('branch');

test('TCP phone → sbd → UDP trunk that ignores the first INVITE and the first BYE: sbd sends both again, the call completes with ACK and BYE', {
  skip,
}, async () => {
  const started = h.daemon.udpLeg.stats.started;
  const { phone, trunk, trace } = await call('trunk-drop-first-uas.xml', 'drop', '6');
  assert.equal(trunk.code, 0, `${trunk.stdout.slice(-3000)}\n${existsSync(trace) ? readFileSync(trace, 'utf8').slice(0, 8000) : ''}`);
  assert.equal(phone.code, 0, phone.stdout.slice(-4000));
  const msgs = received(trace);
  assert.deepEqual(
    msgs.map((m) => `${m.method} ${m.cseq().seq}`),
    ['INVITE 3', 'INVITE 3', 'ACK 3', 'BYE 4', 'BYE 4'],
    readFileSync(trace, 'utf8').slice(0, 6000),
  );
  const [invite1, invite2, ack, bye1, bye2] = msgs;
  assert.equal(branch(invite2!), branch(invite1!), 'the copy is a retransmission (same branch)');
  assert.equal(branch(bye2!), branch(bye1!));
  assert.notEqual(branch(ack!), branch(invite1!), 'the 2xx ACK is end to end, a transaction of its own');
  assert.equal(invite1!.topVia().transport, 'UDP');
  assert.equal(invite1!.via()[1]!.transport, 'TCP', "the phone's own Via: it came over TCP");
  assert.equal(h.daemon.udpLeg.stats.started - started, 2, 'INVITE and BYE, each through one client transaction');
});

test("and with a trunk challenge: the first INVITE and the re-sent INVITE with credentials are each lost once; sbd's 407 ACK reaches the trunk exactly once", {
  skip,
}, async () => {
  const { phone, trunk, trace } = await call('trunk-auth-drop-uas.xml', 'auth', '5');
  assert.equal(trunk.code, 0, `${trunk.stdout.slice(-3000)}\n${existsSync(trace) ? readFileSync(trace, 'utf8').slice(0, 8000) : ''}`);
  assert.equal(phone.code, 0, phone.stdout.slice(-4000));
  const msgs = received(trace);
  assert.deepEqual(
    msgs.map((m) => `${m.method} ${m.cseq().seq}`),
    ['INVITE 3', 'INVITE 3', 'ACK 3', 'INVITE 4', 'INVITE 4', 'ACK 4', 'BYE 5'],
    readFileSync(trace, 'utf8').slice(0, 6000),
  );
  const [invite1, , ack407, resent1, resent2] = msgs;
  assert.equal(branch(ack407!), branch(invite1!));
  assert.equal(branch(resent2!), branch(resent1!));
  assert.notEqual(branch(resent1!), branch(invite1!));
  assert.ok(resent1!.get('Proxy-Authorization'));
});
