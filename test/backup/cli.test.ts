/**
 * The administrator's path through the CLI, as separate processes on one state folder: users (password on stdin,
 * never in argv), legacy import and migration at login, reports in both forms, backup with the passphrase on
 * stdin, wipe, restore with it in the environment, and the audit log of it all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

function sbd(args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: root,
    input: opts.input ?? '',
    env: { ...process.env, SBD_ADMIN_USER: 'ops', SBD_PASSWORD: '', SBD_BACKUP_PASSPHRASE: '', ...opts.env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('users, reports, backup, wipe, restore and the audit log through the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-admin-cli-'));
  const state = join(dir, 'state');
  let r = sbd(['init', '--state', state, '--hostname', 'sbd-test', '--ip', '127.0.0.1']);
  assert.equal(r.code, 0, r.err);

  r = sbd(['user', 'add', 'alice', '--pin', '2468', '--state', state], { input: 'alice-password\n' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /user alice \(end\): password scrypt ln=15,r=8,p=1, PIN scrypt; digest HA1 \(MD5, SHA-256\) for realm ccmsipline/);
  const sha1 = createHash('sha1').update('Legacy-Pass1').digest('hex');
  r = sbd(['user', 'import', 'bob', '--legacy-sha1', sha1, '--kind', 'application', '--state', state]);
  assert.equal(r.code, 0, r.err);
  r = sbd(['user', 'import', 'bob', '--legacy-sha1', sha1, '--legacy-sha256', sha1, '--state', state]);
  assert.equal(r.code, 2);

  r = sbd(['report', 'credentials', '--csv', '--state', state]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'User ID,Kind,Credential,Algorithm,Parameters,Last Login\r\nbob,application,Password,sha1,-,-\r\n');

  r = sbd(['user', 'login', 'bob', '--state', state], { input: 'wrong-pass\n' });
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown user or wrong credentials \[ERR_CREDENTIAL_INVALID\]/);
  r = sbd(['user', 'login', 'bob', '--state', state], { input: 'Legacy-Pass1\n' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /login ok: bob \(application\)\ncredential re-hashed: sha1 -> scrypt/);
  r = sbd(['report', 'credentials', '--state', state]);
  assert.match(r.out, /^Users with out-of-date credential algorithms \(0;/);
  assert.match(r.out, /\(none\)/);
  r = sbd(['user', 'login', 'alice', '--pin', '--state', state], { env: { SBD_PIN: '2468' } });
  assert.equal(r.code, 0, r.err);

  r = sbd(['feature', 'set', '7965', '--ec-keys', 'yes', '--state', state]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '7965: Security by Default Yes, Encrypted Config Yes, EC Keys Yes\n');
  r = sbd(['report', 'features', '--model', '7965', '--csv', '--state', state]);
  assert.equal(r.out, 'Model,Security by Default,Encrypted Config,EC Keys\r\n7965,Yes,Yes,Yes\r\n');
  r = sbd(['device', 'add', 'SEP001122334455', '--model', '8845', '--state', state]);
  assert.equal(r.code, 0, r.err);
  r = sbd(['report', 'itl-status', '--state', state]);
  assert.match(r.out, /SEP001122334455  8845   MisMatch         -               -                -/);

  r = sbd(['backup', 'status', '--state', state]);
  assert.match(r.out, /last backup: never\na new backup is due: certificates changed since: /);
  const file = join(dir, 'drs.backup');
  r = sbd(['backup', 'create', file, '--state', state], { input: 'short\n' });
  assert.equal(r.code, 1);
  assert.match(r.err, /ERR_BACKUP_INPUT/);
  r = sbd(['backup', 'create', file, '--state', state], { input: 'a passphrase for the DRS\n' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /backup written: .*drs\.backup \(\d+ bytes, mode 0600\)\n  sbd\.db  \d+ bytes  sha256 [0-9a-f]{64}\n  keys\/CAPF-/);
  r = sbd(['backup', 'status', '--state', state]);
  assert.match(r.out, /no certificate changed since: no backup due/);
  r = sbd(['backup', 'show', file]);
  assert.match(r.out, /key derivation scrypt ln=17,r=8,p=1; AES-256-GCM/);

  r = sbd(['cert', 'regen', 'ITLRecovery', '--state', state]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /BACKUP: A new backup is required now: the ITLRecovery key changed/);
  r = sbd(['backup', 'status', '--state', state]);
  assert.match(r.out, /a new backup is due: certificates changed since: ITLRecovery/);

  const keysAtBackup = readdirSync(join(state, 'keys')).length - 1; // the regeneration added one
  rmSync(join(state, 'sbd.db'));
  rmSync(join(state, 'keys'), { recursive: true });
  r = sbd(['backup', 'restore', file, '--state', state], { env: { SBD_BACKUP_PASSPHRASE: 'not the right one' } });
  assert.equal(r.code, 1);
  assert.match(r.err, /ERR_BACKUP_PASSPHRASE/);
  r = sbd(['backup', 'restore', file, '--state', state], { env: { SBD_BACKUP_PASSPHRASE: 'a passphrase for the DRS' } });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /restart these services so they use the restored store and keys: sbd-capfd sbd-mediad sbd-sipd sbd-tftpd sbd-tvsd/);
  assert.equal(readdirSync(join(state, 'keys')).length, keysAtBackup);

  r = sbd(['audit', 'show', '--csv', '--state', state]);
  assert.equal(r.code, 0, r.err);
  const rows = r.out
    .trim()
    .split('\r\n')
    .slice(1)
    .map((l) => l.split(','));
  // The restored store's log: the restore on top, then what happened up to the backup (the backup's own row
  // was written after its snapshot, the regeneration after the backup: neither is in it).
  const actions = rows.map((c) => `${c[1]} ${c[2]} ${c[4]}`);
  assert.deepEqual(actions, [
    'ops restore success',
    'ops device-add success',
    'ops feature-set success',
    'alice login success',
    'bob login success',
    'bob login failure ERR_CREDENTIAL_INVALID',
    'ops user-import success',
    'ops user-set success',
  ]);
  r = sbd(['audit', 'show', '--limit', '1', '--state', state]);
  assert.match(
    r.out,
    /^Audit log \(1 newest entry\)\nTime +User +Action +Detail +Result\n[- ]+\n\S+Z  ops   restore  .*drs\.backup \(backup of \S+\)  success\n$/,
  );
  assert.ok(readFileSync(file).length > 0);
});
