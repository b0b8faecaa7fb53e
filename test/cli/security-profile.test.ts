/**
 * `sbd security-profile list|set` through the CLI: the digest challenge algorithms per profile (default MD5 on the
 * shipped default profile), bad input refused with nothing changed, and the registrar challenging a phone on a
 * SHA-256-first profile with SHA-256 first while everyone else gets MD5 alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeState } from '../sip/interop/harness.js';
import { openState } from '../../src/store/state.js';
import { DigestServer } from '../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import type { SipRequest } from '../../src/sip/core/messages/message.js';
import { Registrar } from '../../src/sip/registrar/registrar.js';
import { ApplianceDirectory } from '../../src/daemons/adapters/sip-store.js';
import { DEFAULT_SECURITY_PROFILE, StoreErrorCode } from '../../src/store/index.js';

const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const sbd = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8' });

const register = (aor: string) =>
  parseMessage(
    Buffer.from(
      [
        'REGISTER sip:sbd.test SIP/2.0',
        'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKsp1',
        `From: <sip:${aor}@sbd.test>;tag=f`,
        `To: <sip:${aor}@sbd.test>`,
        'Call-ID: sp@test',
        'CSeq: 1 REGISTER',
        'Max-Forwards: 70',
        `Contact: <sip:${aor}@127.0.0.1:5062>`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipRequest;

test('security-profile set/list: digest algorithms per profile, checked input, used by the registrar', { timeout: 120_000 }, () => {
  const { dir, state } = makeState();
  try {
    state.store.close();
    const ok = (...a: string[]) => {
      const r = sbd(...a, '--state', dir);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(
      ok('security-profile', 'list'),
      new RegExp(`^${DEFAULT_SECURITY_PROFILE}\\tnon-secure\\t[^\\t]+\\tconfig [a-z]+\\tdigest MD5$`, 'm'),
    );
    assert.match(
      ok('security-profile', 'set', 'SHA Phones', '--digest-algorithms', 'sha-256,md5'),
      /^SHA Phones\tnon-secure\t.*\tdigest SHA-256,MD5$/m,
    );
    for (const bad of [
      ['--digest-algorithms', 'SHA-512'],
      ['--digest-algorithms', 'MD5,MD5'],
      ['--digest', 'maybe'],
      ['--mode', 'authenticated'],
    ]) {
      const r = sbd('security-profile', 'set', 'SHA Phones', ...bad, '--state', dir);
      assert.notEqual(r.status, 0, bad.join(' '));
      assert.ok(r.stderr.length > 0);
    }
    const s = openState(dir);
    try {
      const p = s.store.getSecurityProfile('SHA Phones')!;
      assert.deepEqual([p.digestAlgorithms, p.deviceSecurityMode], [['SHA-256', 'MD5'], 'non-secure'], 'refused input changed nothing');
      // Replacing a profile without naming its algorithms keeps them.
      s.store.putSecurityProfile({ ...p, description: 'phones that answer SHA-256' });
      assert.deepEqual(s.store.getSecurityProfile('SHA Phones')!.digestAlgorithms, ['SHA-256', 'MD5']);
      assert.throws(() => s.store.putSecurityProfile({ ...p, digestAlgorithms: [] }), { code: StoreErrorCode.profileInvalid });

      s.store.addDevice({ name: 'SEP00AABBCC0101', model: '8845', directoryNumber: '3001', securityProfile: 'SHA Phones' });
      s.store.addDevice({ name: 'SEP00AABBCC0102', model: '8845', directoryNumber: '3002' });
      const registrar = new Registrar({
        digest: new DigestServer({ realm: s.store.getParam('SipStationRealm'), secret: Buffer.alloc(32, 2) }),
        directory: new ApplianceDirectory(s.store, { refreshMs: 0 }),
      });
      const algs = (aor: string) =>
        registrar
          .handleRegister(register(aor), { transport: 'udp', address: '127.0.0.1', port: 5062 }, Date.now())
          .response.getAll('WWW-Authenticate')
          .map((c) => /algorithm=([^,]+)/.exec(c)![1]);
      assert.deepEqual(algs('3001'), ['SHA-256', 'MD5']);
      assert.deepEqual(algs('3002'), ['MD5']);
      assert.deepEqual(algs('unknown'), ['MD5'], "an unknown AOR gets the default profile's challenge");
    } finally {
      s.store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
