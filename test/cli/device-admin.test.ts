/**
 * The CLI front end of issue 18 item 7, as processes (`sbd …`): a phone added, shown, moved to a profile made with
 * a nonce validity and a CAPF authentication mode, given a config key, scheduled for CAPF with `--auth profile`
 * (the profile's mode is what gets stored), deleted; an application user's allowed requests. The console test
 * (test/admin/device-admin.test.ts) drives the same functions through the shell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withState } from '../../src/store/state.js';

const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const PHONE = 'SEP00AABBCCDDEE';

test('sbd device show|set|config-key|delete, security-profile set/show with nonce validity and CAPF mode, user allow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cli-device-'));
  try {
    const state = join(dir, 'state');
    const sbd = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', main, ...args, '--state', state], { encoding: 'utf8' });
    const ok = (...args: string[]) => {
      const r = sbd(...args);
      assert.equal(r.status, 0, `sbd ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    ok('init', '--hostname', 'sbd-test', '--ip', '127.0.0.1');
    assert.match(ok('device', 'add', PHONE, '--model', '8845', '--dn', '2001'), /digest password \(shown once/);
    assert.match(ok('device', 'show', PHONE), /^Directory number: 2001$/m);

    assert.match(
      ok(
        'security-profile',
        'set',
        'Desk',
        '--transport',
        'tcp',
        '--encrypted-config',
        'on',
        '--nonce-validity',
        '90',
        '--capf-auth',
        'lsc',
      ),
      /^Desk\tnon-secure\ttcp\tconfig encrypted\tdigest MD5$/m,
    );
    const show = ok('security-profile', 'show', 'Desk');
    assert.match(show, /^Nonce validity     : 90 s$/m);
    assert.match(show, /^CAPF authentication: lsc$/m);
    const bad = sbd('security-profile', 'set', 'Desk', '--nonce-validity', '4000');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--nonce-validity must be whole seconds from 15 to 3600/);

    const moved = sbd('device', 'set', PHONE, '--security-profile', 'Desk');
    assert.equal(moved.status, 0, moved.stderr);
    assert.match(moved.stderr, /WARNING: SEP00AABBCCDDEE has no LSC and no symmetric key/);
    const key = /config key \(shown once; enter it on the phone\): ([0-9a-f]{64})$/m.exec(
      ok('device', 'config-key', PHONE, '--generate', '--bits', '256'),
    )?.[1];
    assert.ok(key);
    assert.equal(sbd('device', 'config-key', PHONE, '--generate', '--clear').status, 2, 'one of --generate, --key, --clear');

    // --auth profile: the profile's CAPF authentication mode (lsc: no authentication string to type).
    const capf = ok('capf', 'install', PHONE, '--auth', 'profile');
    assert.match(capf, /authentication lsc/);
    assert.doesNotMatch(capf, /authentication string/);

    withState(state, ({ store }) => {
      const d = store.getDevice(PHONE)!;
      assert.deepEqual(
        { profile: d.securityProfile, key: d.symmetricKeyHex, capf: d.capfOperation, auth: d.capfAuthMode },
        { profile: 'Desk', key, capf: 'install', auth: 'lsc' },
      );
      store.putUser({ userid: 'pbx-app', kind: 'application', credentialHash: 'x', algorithm: 'scrypt' });
    });
    assert.match(
      ok('user', 'allow', 'pbx-app', '--requests', 'all'),
      /pbx-app may send: ood-refer,unsolicited-notify,replaces,presence-subscribe/,
    );
    assert.match(ok('user', 'allow', 'pbx-app', '--requests', 'none'), /pbx-app may send: none/);

    assert.match(ok('device', 'delete', PHONE), new RegExp(`deleted ${PHONE}`));
    const gone = sbd('device', 'show', PHONE);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /no device SEP00AABBCCDDEE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
