/**
 * The admin surface the seeds' procedures assume (issue 18 item 7), through the real admin shell (src/admin/shell.ts
 * over pipes, answers to its questions typed as the next lines): a phone added, listed, shown, moved to a new
 * security profile, given a symmetric config key (its .enc.sgn then opens with exactly that key), and deleted;
 * profiles created and edited field by field; an application user's allowed requests; `show cert own ITLRecovery`
 * printing the certificate's validity. Each change leaves an audit row; refused input changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandTable } from '../../src/admin/command-table.js';
import { runShell } from '../../src/admin/shell.js';
import { deviceCommands } from '../../src/admin/commands/devices.js';
import { securityProfileCommands } from '../../src/admin/commands/security-profiles.js';
import { appUserCommands } from '../../src/admin/commands/app-users.js';
import { trustCommands } from '../../src/admin/commands/trust.js';
import { initAppliance } from '../../src/cluster/init.js';
import { listAuditEntries } from '../../src/cluster/audit.js';
import { systemClock } from '../../src/lib/clock.js';
import { withState } from '../../src/store/state.js';
import { deviceConfigFile } from '../../src/config/cluster-configs.js';
import { decryptEncryptedConfig } from '../../src/trust/enc-sgn.js';

function table(state: string): CommandTable {
  return new CommandTable([
    ...deviceCommands(state),
    ...securityProfileCommands(state),
    ...appUserCommands(state),
    ...trustCommands(state, systemClock),
  ]);
}

/** Types each line once the shell waits for one (its prompt, or a question's "(yes/no) "), as an administrator does. */
async function consoleRun(state: string, lines: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  const queue = [...lines];
  output.on('data', (d: Buffer) => {
    text += d.toString();
    if (/(admin: |\(yes\/no\) )$/.test(text)) {
      const next = queue.shift();
      if (next === undefined) input.end();
      else input.write(`${next}\n`);
    }
  });
  await runShell({ input, output, table: table(state), terminal: false });
  assert.equal(queue.length, 0, `lines left unread: ${queue.join(' | ')}\n${text}`);
  return text.replaceAll('admin: ', '');
}

function freshState(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-device-admin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock });
  return state;
}

const PHONE = 'SEP001122334455';

test('console: device add/list/show, profile create/edit, set device security-profile, config key, delete', async (t) => {
  const state = freshState(t);
  let out = await consoleRun(state, [
    `device add ${PHONE.toLowerCase()} 8845 dn 1001 description "Lobby phone"`,
    'device list',
    `device show ${PHONE}`,
  ]);
  assert.match(out, new RegExp(`added ${PHONE} \\(8845, Universal Device Template`));
  const password = /digest password \(shown once, not stored in clear\): (\S+)/.exec(out)?.[1];
  assert.ok(password && password.length >= 12, out);
  assert.match(out, new RegExp(`^${PHONE}  8845  1001  Universal Device Template`, 'm'));
  assert.match(out, /^Description     : Lobby phone$/m);
  assert.match(out, new RegExp(`^Digest user     : ${PHONE}$`, 'm'));
  assert.match(out, /^Config key      : none$/m);

  // A profile created field by field, edited again (unnamed fields keep their values), shown in full.
  out = await consoleRun(state, [
    'set security-profile "Lobby Encrypted" transport tcp encrypted-config on nonce-validity 60 capf-auth lsc',
    'set security-profile "Lobby Encrypted" nonce-validity 45',
    'show security-profile "Lobby Encrypted"',
    'show security-profile',
    'set security-profile "Lobby Encrypted" nonce-validity 5',
    'set security-profile "Lobby Encrypted" mode encrypted',
  ]);
  assert.match(out, /^Nonce validity     : 45 s$/m);
  assert.match(out, /^Transport          : tcp$/m);
  assert.match(out, /^TFTP encrypted cfg : on$/m);
  assert.match(out, /^CAPF authentication: lsc$/m);
  assert.match(out, /^Lobby Encrypted\tnon-secure\ttcp\tconfig encrypted\tdigest MD5$/m);
  assert.match(out, /error: nonce-validity must be whole seconds from 15 to 3600/);
  assert.match(out, /error: a encrypted profile needs transport 'tls'/);
  withState(
    state,
    ({ store }) => {
      const p = store.getSecurityProfile('Lobby Encrypted')!;
      assert.equal(p.nonceValiditySeconds, 45, 'refused edits changed nothing');
      assert.equal(p.deviceSecurityMode, 'non-secure');
    },
    { readonly: true },
  );

  // Moved to the profile: no key yet, so the console says what is missing; then a generated key, shown once.
  out = await consoleRun(state, [
    `set device security-profile ${PHONE} "Lobby Encrypted"`,
    `set device config-key ${PHONE} generate`,
    `device show ${PHONE}`,
    `set device security-profile ${PHONE} "No Such Profile"`,
  ]);
  assert.match(out, new RegExp(`${PHONE}: security profile Lobby Encrypted`));
  assert.match(out, /WARNING: SEP001122334455 has no LSC and no symmetric key/);
  const keyHex = /config key \(shown once; enter it on the phone\): ([0-9a-f]{32})$/m.exec(out)?.[1];
  assert.ok(keyHex, out);
  assert.match(out, /^Config key      : symmetric \(128-bit\)$/m);
  assert.match(out, /error: no security profile named 'No Such Profile'/);

  // The non-PKI .enc.sgn path: the served config opens with the key the console showed, and names the phone.
  withState(
    state,
    ({ store }) => {
      const d = store.getDevice(PHONE)!;
      assert.equal(d.securityProfile, 'Lobby Encrypted');
      assert.equal(d.symmetricKeyHex, keyHex);
      const enc = deviceConfigFile(store, d, '.cnf.xml.enc.sgn', systemClock);
      assert.ok(enc, 'an encrypted config is served once the phone has a key');
      const xml = decryptEncryptedConfig(enc, { kind: 'symmetric', key: Buffer.from(keyHex!, 'hex') }).toString('utf8');
      assert.match(xml, /<device/);
      assert.equal(deviceConfigFile(store, d, '.cnf.xml', systemClock), undefined, 'no plain config for an encrypted profile');
    },
    { readonly: true },
  );

  // Clear, then delete (asked first: "no" keeps it, "yes" deletes it).
  out = await consoleRun(state, [
    `set device config-key ${PHONE} clear`,
    `device delete ${PHONE}`,
    'no',
    'device list',
    `device delete ${PHONE}`,
    'yes',
    'device list',
    `device show ${PHONE}`,
  ]);
  assert.match(out, new RegExp(`${PHONE}: config key cleared`));
  assert.match(out, /cancelled/);
  assert.match(out, new RegExp(`deleted ${PHONE} \\(digest user ${PHONE} kept\\)`));
  assert.match(out, /\(no devices\)/);
  assert.match(out, new RegExp(`error: no device ${PHONE}`));

  const audit = withState(state, ({ store }) => listAuditEntries(store), { readonly: true });
  const actions = audit.map((a) => `${a.action} ${a.result}`);
  for (const a of ['device-add success', 'security-profile-set success', 'device-set success', 'device-remove success'])
    assert.ok(actions.includes(a), `${a} in ${actions.join('; ')}`);
});

test('console: an application user allowed requests; an end user refused', async (t) => {
  const state = freshState(t);
  withState(state, ({ store }) => {
    store.putUser({ userid: 'cti-app', kind: 'application', credentialHash: 'x', algorithm: 'scrypt' });
    store.putUser({ userid: 'alice', kind: 'end', credentialHash: 'x', algorithm: 'scrypt' });
  });
  const out = await consoleRun(state, [
    'show user allowed-requests cti-app',
    'set user allowed-requests cti-app all',
    'set user allowed-requests cti-app ood-refer,replaces',
    'show user allowed-requests cti-app',
    'set user allowed-requests alice all',
    'set user allowed-requests cti-app invite',
  ]);
  assert.match(out, /cti-app may send: none\n/);
  assert.match(out, /cti-app may send: ood-refer,unsolicited-notify,replaces,presence-subscribe\n/);
  assert.match(out, /cti-app may send: ood-refer,replaces\n[\s\S]*cti-app may send: ood-refer,replaces\n/);
  assert.match(out, /error: user 'alice' is a end user, not an application user/);
  assert.match(out, /error: 'invite' is not a request kind/);
  withState(
    state,
    ({ store }) =>
      assert.deepEqual(store.sip.getAppUserPermissions('cti-app'), {
        'ood-refer': true,
        'unsolicited-notify': false,
        replaces: true,
        'presence-subscribe': false,
      }),
    { readonly: true },
  );
});

test('console: show cert own ITLRecovery prints its validity', async (t) => {
  const state = freshState(t);
  const cert = withState(state, ({ store }) => store.listCertificates({ name: 'ITLRecovery' })[0]!, { readonly: true });
  const x = new X509Certificate(cert.pem);
  const out = await consoleRun(state, ['show cert own ITLRecovery']);
  const m = /^Valid      : (\S+) to (\S+)$/m.exec(out);
  assert.ok(m, out);
  assert.equal(Date.parse(m[1]!), Date.parse(x.validFrom), 'not before, as in the certificate');
  assert.equal(Date.parse(m[2]!), Date.parse(x.validTo), 'not after, as in the certificate');
  assert.ok(Date.parse(m[2]!) > Date.parse(m[1]!) + 365 * 86400_000, 'ITLRecovery is long-lived');
  assert.match(out, /^\[ITLRecovery\]$/m);
});
