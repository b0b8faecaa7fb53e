/**
 * `sbd device add`, `sbd device digest-reset` and `sbd param set SipDigestPasswordInSignedConfig` as an
 * administrator runs them: a generated password is printed once and verifies against the stored HA1 (openssl);
 * where it travels is said loudly (stderr WARNING) when it does not travel or travels readable; the signed-only
 * config carries it only after the parameter; a refused password leaves the store as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { withState } from '../../src/store/state.js';

const root = new URL('../../', import.meta.url).pathname;

function sbd(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const A = 'SEP0000000000B1';
const B = 'SEP0000000000B2';

test('device add generates and prints once, warns; param set warns; digest-reset rotates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-digest-cli-'));
  const state = join(dir, 'state');
  assert.equal(sbd(['init', '--state', state, '--hostname', 'sbd-d', '--ip', '127.0.0.1']).code, 0);
  const read = <T>(fn: (s: Parameters<Parameters<typeof withState>[1]>[0]) => T): T => withState(state, fn, { readonly: true });

  // Default profile (digest required): generated, shown once, and the warning that it is not in the config.
  let r = sbd(['device', 'add', A, '--model', '8845', '--dn', '5001', '--state', state]);
  assert.equal(r.code, 0, r.err);
  const pwA = /digest password \(shown once, not stored in clear\): (\S+)/.exec(r.out)?.[1];
  assert.ok(pwA, r.out);
  assert.match(r.out, new RegExp(`digest user ${A} \\(realm ccmsipline\\), created`));
  assert.match(r.err, new RegExp(`WARNING: the password is NOT in ${A}'s config: .*only signed.*by hand.*encrypted configs`));
  assert.equal(
    read(({ store }) => store.getDigestCredential(A, 'ccmsipline')!.ha1Md5),
    md5(`${A}:ccmsipline:${pwA}`),
  );
  assert.equal(
    read(({ store }) => store.getDevice(A)!.digestUser),
    A,
  );

  // A refused password: exit 1, no device, no user, the store unchanged.
  const db = join(state, 'sbd.db');
  const before = createHash('sha256').update(readFileSync(db)).digest('hex');
  r = sbd(['device', 'add', B, '--model', '8845', '--dn', '5002', '--digest-password', 'short', '--state', state]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.err, /8 characters/);
  assert.equal(createHash('sha256').update(readFileSync(db)).digest('hex'), before);

  // The parameter: loud, naming the devices it exposes.
  r = sbd(['param', 'set', 'SipDigestPasswordInSignedConfig', 'true', '--state', state]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.err,
    new RegExp(`WARNING: SipDigestPasswordInSignedConfig is true: .*readable by anyone .*TFTP.*1 device\\(s\\) affected: ${A}`),
  );

  // A given password (from the environment) is not echoed; the warning now says it travels readable.
  r = sbd(['device', 'add', B, '--model', '8845', '--dn', '5002', '--digest-user', 'line5002', '--state', state], {
    SBD_DIGEST_PASSWORD: 'Given-Secret-5002',
  });
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out + r.err, /Given-Secret-5002/);
  assert.match(
    r.err,
    new RegExp(
      `WARNING: SipDigestPasswordInSignedConfig is true: this password goes out in ${B}\\.cnf\\.xml\\.sgn, which is signed but NOT encrypted`,
    ),
  );
  assert.equal(
    read(({ store }) => store.getDigestCredential('line5002', 'ccmsipline')!.ha1Md5),
    md5('line5002:ccmsipline:Given-Secret-5002'),
  );

  // itl build: the signed config carries it now, the unsigned one never.
  assert.equal(sbd(['itl', 'build', '--state', state, '--out', join(dir, 'out')]).code, 0);
  assert.ok(readFileSync(join(dir, 'out', `${B}.cnf.xml.sgn`)).includes('<authPassword>Given-Secret-5002</authPassword>'));
  assert.ok(!readFileSync(join(dir, 'out', `${B}.cnf.xml`)).includes('Given-Secret-5002'));

  // Rotation: a new password, shown once, the old one no longer verifies, the configs' generation moves, audited.
  const gen = read(({ store }) => store.generation());
  r = sbd(['device', 'digest-reset', A, '--state', state]);
  assert.equal(r.code, 0, r.err);
  const pwA2 = /digest password \(shown once, not stored in clear\): (\S+)/.exec(r.out)?.[1];
  assert.ok(pwA2 && pwA2 !== pwA, r.out);
  assert.equal(
    read(({ store }) => store.getDigestCredential(A, 'ccmsipline')!.ha1Md5),
    md5(`${A}:ccmsipline:${pwA2}`),
  );
  assert.ok(read(({ store }) => store.generation()) > gen);
  assert.ok(read(({ store }) => store.listAudit().some((e) => e.action === 'digest-reset' && e.detail === A && e.result === 'success')));

  // Back to false: a note about the phones that lose it.
  r = sbd(['param', 'set', 'SipDigestPasswordInSignedConfig', 'false', '--state', state]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /2 device\(s\) with signed-only configs no longer get their digest password/);

  // A profile without digest and no digest flags: no digest user, nothing generated.
  r = sbd([
    'device',
    'add',
    'SEP0000000000B3',
    '--model',
    '8845',
    '--dn',
    '5003',
    '--security-profile',
    'Authenticated Profile',
    '--state',
    state,
  ]);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /digest/);
  assert.equal(
    read(({ store }) => store.getDevice('SEP0000000000B3')!.digestUser),
    null,
  );

  // An existing end user as digest user: the password is not replaced behind anyone's back; a hash-only one
  // cannot be delivered, and device add says so.
  assert.equal(sbd(['user', 'add', 'alice', '--password', 'Alice-login-1', '--state', state]).code, 0);
  r = sbd(['device', 'add', 'SEP0000000000B4', '--model', '8845', '--dn', '5004', '--digest-user', 'alice', '--state', state]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /digest user alice \(realm ccmsipline\) exists: its digest password is kept/);
  assert.doesNotMatch(r.out, /shown once/);
  assert.match(r.err, /WARNING: alice's digest password is known only as a hash, so no config can carry it/);
  assert.equal(
    read(({ store }) => store.getDigestCredential('alice', 'ccmsipline')!.ha1Md5),
    md5('alice:ccmsipline:Alice-login-1'),
  );
  r = sbd(['device', 'add', 'SEP0000000000B5', '--model', '8845', '--dn', '5005', '--digest-user', 'line5002', '--state', state]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /digest user line5002 \(realm ccmsipline\) exists: its digest password is kept/);
  assert.match(r.err, /WARNING: the password is NOT in SEP0000000000B5's config/);
  assert.equal(
    read(({ store }) => store.getDigestCredential('line5002', 'ccmsipline')!.ha1Md5),
    md5('line5002:ccmsipline:Given-Secret-5002'),
  );
});
