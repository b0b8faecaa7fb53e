/**
 * DeviceTLInfo through `sbd daemon sip` as shipped (its own process, loopback): the spec's example REFER
 * (../shared/spec/cisco-sip-phone.md §1) sent byte for byte, split across TCP writes, by a phone that registered
 * with digest over that connection → 202, and the ITL File Status line is what the spec implies (the phone
 * holds an ITL whose SHA-1 is 3E 91 … 15 from pub.example.local; this cluster serves another ITL: MisMatch).
 * The same report again only moves its time (no store generation bump). A stranger's alarm (no registration,
 * no credentials) is challenged and changes nothing; a registered phone cannot report for another device; a
 * hostile body is refused with the codec's error code. The simulated phone, after fetching the ITL over TFTP and
 * registering, sends the real alarm and its phone is Match.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { answerChallenge } from '../../../src/sip/core/auth/digest.js';
import { SipPhone } from '../../../src/sim/sip-ua/user-agent.js';
import { formatText } from '../../../src/reports/table.js';
import { itlStatusReport, itlStatusRows } from '../../../src/reports/itl-status.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { storeApplianceSource } from '../../../src/daemons/adapters/tftp-store.js';
import { TftpServer } from '../../../src/tftp/server.js';
import { fetchFile } from '../../../src/tftp/client.js';
import { silentLogger } from '../../../src/lib/log.js';
import { addLineUser, makeState } from '../interop/harness.js';
import { SPEC_BODY, SPEC_ITL_SHA1, specRefer } from './spec-example.js';

let dir: string;
let daemon: ChildProcess;
let ports: { udp: number; tcp: number };
let tftpStore: Store;
let tftp: TftpServer;

before(async () => {
  const made = makeState();
  dir = made.dir;
  addLineUser(made.state, 'ph7821', 'pw-ph7821');
  made.state.store.addDevice({ name: 'SEPC4B9CD808647', model: '7821', directoryNumber: '7821', digestUser: 'ph7821' });
  addLineUser(made.state, 'ph7002', 'pw-ph7002');
  made.state.store.addDevice({ name: 'SEP00AABBCC7002', model: '8845', directoryNumber: '7002', digestUser: 'ph7002' });
  made.state.store.close();
  daemon = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'sip', '--state', dir, '--bind', '127.0.0.1', '--port', '0', '--tls-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  daemon.stderr!.resume();
  const lines = createInterface({ input: daemon.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(daemon, 'exit').then(() => {
      throw new Error('sbd daemon sip exited');
    }),
  ])) as [string];
  ports = JSON.parse(line) as { udp: number; tcp: number };
  lines.on('line', () => {});
  tftpStore = openStore(join(dir, 'sbd.db'));
  tftp = new TftpServer({ source: storeApplianceSource({ store: tftpStore }), port: 0, addresses: ['127.0.0.1'], logger: silentLogger });
  await tftp.listen();
});

after(async () => {
  await tftp?.close();
  tftpStore?.close();
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  }
});

/** A TCP flow to the daemon that frames responses (head + Content-Length body). */
async function tcpFlow(): Promise<{
  sock: Socket;
  local: string;
  send: (b: Buffer, splits?: number[]) => Promise<string>;
  close: () => void;
}> {
  const sock = connect(ports.tcp, '127.0.0.1');
  await once(sock, 'connect');
  let buf = '';
  let waiting: ((s: string) => void) | undefined;
  const pump = () => {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0 || !waiting) return;
    const cl = Number(/^Content-Length:\s*(\d+)/im.exec(buf.slice(0, end))?.[1] ?? 0);
    if (buf.length < end + 4 + cl) return;
    const msg = buf.slice(0, end + 4 + cl);
    buf = buf.slice(end + 4 + cl);
    const w = waiting;
    waiting = undefined;
    w(msg);
  };
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    pump();
  });
  const send = async (b: Buffer, splits: number[] = []): Promise<string> => {
    const got = new Promise<string>((r) => {
      waiting = r;
    });
    let at = 0;
    // Split writes: the daemon's stream framer must put the message back together.
    for (const s of [...splits, b.length]) {
      sock.write(b.subarray(at, s));
      at = s;
      await new Promise((r) => setTimeout(r, 5));
    }
    pump();
    return got;
  };
  return { sock, local: `127.0.0.1:${sock.localPort}`, send, close: () => sock.destroy() };
}

let seq = 1;
const header = (msg: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(msg)?.[1]?.trim();

async function registerTcp(f: Awaited<ReturnType<typeof tcpFlow>>, dn: string, user: string, password: string): Promise<void> {
  const req = (auth?: string) =>
    Buffer.from(
      [
        'REGISTER sip:127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/TCP ${f.local};branch=z9hG4bKreg${seq}x`,
        'Max-Forwards: 70',
        `From: <sip:${dn}@127.0.0.1>;tag=r${seq}`,
        `To: <sip:${dn}@127.0.0.1>`,
        `Call-ID: reg-${dn}@test`,
        `CSeq: ${seq++} REGISTER`,
        `Contact: <sip:${dn}@${f.local};transport=tcp>`,
        'Expires: 600',
        'User-Agent: Cisco-CP7821/11.5.1',
        ...(auth ? [`Authorization: ${auth}`] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  const first = await f.send(req());
  assert.match(first, /^SIP\/2.0 401 /);
  const auth = answerChallenge({
    challenge: header(first, 'WWW-Authenticate')!,
    method: 'REGISTER',
    uri: 'sip:127.0.0.1',
    username: user,
    secret: { password },
    cnonce: 'c0ffee',
    nc: 1,
  });
  assert.match(await f.send(req(auth)), /^SIP\/2.0 200 /);
}

const refer = (f: { local: string }, o: { body?: string; deviceName?: string; fromUser?: string; server?: string } = {}) =>
  specRefer({
    server: o.server ?? '127.0.0.1',
    phone: f.local,
    callId: `alarm-${seq}@127.0.0.1`,
    branch: `z9hG4bKalarm${seq++}`,
    tag: `t${seq}`,
    ...o,
  });

function readStore<T>(fn: (s: Store) => T): T {
  const s = openStore(join(dir, 'sbd.db'), { readonly: true });
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

test("the spec's DeviceTLInfo REFER, byte for byte and split, from a registered phone: 202 and the report line the spec implies", async () => {
  const f = await tcpFlow();
  try {
    await registerTcp(f, '7821', 'ph7821', 'pw-ph7821');
    const bytes = refer(f);
    assert.ok(bytes.subarray(bytes.length - Buffer.byteLength(SPEC_BODY)).equals(Buffer.from(SPEC_BODY)), 'the body is the spec example');
    const res = await f.send(bytes, [7, 200, bytes.length - Buffer.byteLength(SPEC_BODY) + 100]);
    assert.match(res, /^SIP\/2.0 202 Accepted\r\n/);
    const { row, line, at } = readStore((s) => {
      const row = itlStatusRows(s).find((r) => r.device === 'SEPC4B9CD808647')!;
      const text = formatText(itlStatusReport(s));
      return {
        row,
        line: text.split('\n').find((l) => l.startsWith('SEPC4B9CD808647')),
        at: s.getDeviceTrustReport('SEPC4B9CD808647')!.at,
      };
    });
    assert.deepEqual(
      { status: row.status, hash: row.hashHex, server: row.tftpServer },
      { status: 'MisMatch', hash: SPEC_ITL_SHA1, server: 'pub.example.local' },
    );
    assert.match(
      line!,
      new RegExp(
        `^SEPC4B9CD808647  7821   MisMatch         3e91a35da3d6bdb7\\.\\.\\.  pub\\.example\\.local  ${at.replace(/\./g, '\\.')}$`,
      ),
    );
    assert.equal(
      readStore((s) => s.getDeviceTrustReport('SEPC4B9CD808647')!.ctlSignature),
      'not-installed',
    );

    // The same report again: 202, only the time moves, no generation bump.
    const g = readStore((s) => s.generation());
    await new Promise((r) => setTimeout(r, 5));
    assert.match(await f.send(refer(f)), /^SIP\/2.0 202 /);
    const again = readStore((s) => ({ g: s.generation(), at: s.getDeviceTrustReport('SEPC4B9CD808647')!.at }));
    assert.equal(again.g, g, 'a repeated report bumps no generation');
    assert.ok(again.at > at, 'its time moved');

    // Hostile bodies over the authenticated flow: refused with the codec's code, nothing stored.
    const doctype = SPEC_BODY.replace('<x-cisco-alarm>', '<!DOCTYPE x [<!ENTITY a "aaaa">]><x-cisco-alarm>').replace('3E 91', '&a;');
    assert.match(await f.send(refer(f, { body: doctype })), /^SIP\/2.0 400 Bad Request \(ERR_ALARM_DOCTYPE\)/);
    const deep = SPEC_BODY.replace('<ParameterList>', '<ParameterList>' + '<x>'.repeat(40) + '</x>'.repeat(40));
    assert.match(await f.send(refer(f, { body: deep })), /^SIP\/2.0 400 Bad Request \(ERR_ALARM_DEPTH\)/);
    const big = SPEC_BODY.replace('</ParameterList>', `<String name="pad">${'p'.repeat(20000)}</String></ParameterList>`);
    assert.match(await f.send(refer(f, { body: big })), /^SIP\/2.0 413 .*ERR_ALARM_TOO_LARGE/);
    // A registered phone reporting for another device.
    assert.match(
      await f.send(refer(f, { deviceName: 'SEP00AABBCC7002', body: SPEC_BODY.replace('SEPC4B9CD808647', 'SEP00AABBCC7002') })),
      /^SIP\/2.0 403 /,
    );
    assert.equal(
      readStore((s) => s.getDeviceTrustReport('SEP00AABBCC7002')),
      undefined,
    );
    // The call control named as the phone's config names it (a host name): answered here all the same.
    assert.match(await f.send(refer(f, { server: 'cucm-pub.example.local' })), /^SIP\/2.0 202 /);
    // Another alarm name: answered, ignored.
    assert.match(await f.send(refer(f, { body: SPEC_BODY.replace('DeviceTLInfo', 'LastOutOfServiceInformation') })), /^SIP\/2.0 202 /);
    assert.equal(
      readStore((s) => s.getDeviceTrustReport('SEPC4B9CD808647')!.itlSignature),
      SPEC_ITL_SHA1,
    );
  } finally {
    f.close();
  }
});

test("a forged alarm from an unregistered source is challenged and changes nothing; with the line owner's credentials it counts", async () => {
  const f = await tcpFlow();
  try {
    const before = readStore((s) => ({ r: s.getDeviceTrustReport('SEPC4B9CD808647'), g: s.generation() }));
    const forged = SPEC_BODY.replace('3E 91 A3 5D', '00 00 00 00');
    const res = await f.send(refer(f, { body: forged }));
    assert.match(res, /^SIP\/2.0 407 /);
    const after1 = readStore((s) => ({ r: s.getDeviceTrustReport('SEPC4B9CD808647'), g: s.generation() }));
    assert.deepEqual(after1, before, 'nothing changed');
    // Wrong password: still nothing.
    const bad = answerChallenge({
      challenge: header(res, 'Proxy-Authenticate')!,
      method: 'REFER',
      uri: 'sip:127.0.0.1',
      username: 'ph7821',
      secret: { password: 'guess' },
      cnonce: 'aa',
      nc: 1,
    });
    const withBad = refer(f, { body: forged }).toString('latin1').replace('Content-Type:', `Proxy-Authorization: ${bad}\r\nContent-Type:`);
    assert.match(await f.send(Buffer.from(withBad, 'latin1')), /^SIP\/2.0 (407|403) /);
    assert.deepEqual(
      readStore((s) => s.getDeviceTrustReport('SEPC4B9CD808647')),
      before.r,
    );
    // A real phone sends the alarm before it registers: proxy digest of the line's owner authenticates it.
    const first = await f.send(refer(f));
    const good = answerChallenge({
      challenge: header(first, 'Proxy-Authenticate')!,
      method: 'REFER',
      uri: 'sip:127.0.0.1',
      username: 'ph7821',
      secret: { password: 'pw-ph7821' },
      cnonce: 'bb',
      nc: 1,
    });
    const withGood = refer(f).toString('latin1').replace('Content-Type:', `Proxy-Authorization: ${good}\r\nContent-Type:`);
    assert.match(await f.send(Buffer.from(withGood, 'latin1')), /^SIP\/2.0 202 /);
  } finally {
    f.close();
  }
});

test('the simulated phone: ITL fetched over TFTP, REGISTER, then the real DeviceTLInfo REFER → Match', async () => {
  const port = tftp.addresses()[0]!.port;
  const itl = (await fetchFile({ server: '127.0.0.1', port, name: 'ITLFile.tlv' })).data;
  const phone = await SipPhone.connect({
    flow: { transport: 'tcp', host: '127.0.0.1', port: ports.tcp },
    line: '7002',
    credentials: { username: 'ph7002', password: 'pw-ph7002' },
    trustLists: { deviceName: 'SEP00AABBCC7002', itl: { bytes: itl, tftpServer: '127.0.0.1' } },
  });
  try {
    await phone.register();
    assert.equal(phone.lastTrustReport?.status, 202);
    const row = readStore((s) => itlStatusRows(s).find((r) => r.device === 'SEP00AABBCC7002')!);
    assert.deepEqual([row.status, row.tftpServer], ['Match', '127.0.0.1']);
  } finally {
    phone.close();
  }
});
