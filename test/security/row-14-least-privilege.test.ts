/**
 * Issue 16, row 14 (build item 9): from inside, every daemon ran as one user over one read-write state folder (the
 * anonymous-UDP TFTP process could read the ITLRecovery, CAPF, TVS and trunk keys), the admin shell dropped only
 * its effective uid, and a restore staged its folder in /var/lib, where the state's owner cannot write.
 *
 * What runs on the host (the booted image checks the same in test/image/least-privilege.test.ts):
 *  - the admin shell's drop, in a child process started as root: /proc/self/status shows no 0 in Uid, Gid or
 *    Groups afterwards, setuid(0) fails, and systemctl goes through `sudo -n`;
 *  - rootfs/: one user per daemon, each unit runs as its own, only the store writers may write the state, and the
 *    groups (sysusers.d) give each daemon the keys it uses and no other;
 *  - the key files of a real `sbd init` state, given their role groups (identity-store.ts), read by a child
 *    process holding exactly sbd-tftpd's ids and groups: the TFTP signing keys open, the CAPF/TVS/SIP keys do not;
 *  - the restore stages next to the state in a folder its owner writes, and keeps the layout's modes.
 * Root is needed (setuid, chown to arbitrary groups); the suite says so and skips as another user.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initAppliance } from '../../src/cluster/init.js';
import { fixedClock } from '../../src/lib/clock.js';
import { applyKeyAccess, keyRoleOf } from '../../src/pki/identity-store.js';
import { readKeyFile } from '../../src/pki/keys.js';
import { createBackup, restoreBackup } from '../../src/backup/index.js';

const repo = new URL('../../', import.meta.url).pathname;
const rootfs = join(repo, 'rootfs');
const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root (setuid/setgroups, chown to the role groups)';
const DAEMONS = ['sbd-tftpd', 'sbd-tvsd', 'sbd-capfd', 'sbd-sipd', 'sbd-mediad'] as const;

// ---- rootfs parsing ---------------------------------------------------------------------------------------------

interface SysUsers {
  users: string[];
  groups: string[];
  /** group → its members (`m` lines). */
  members: Map<string, Set<string>>;
}

function sysusers(): SysUsers {
  const out: SysUsers = { users: [], groups: [], members: new Map() };
  for (const line of readFileSync(join(rootfs, 'usr/lib/sysusers.d/sbd.conf'), 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!f[0] || f[0].startsWith('#')) continue;
    if (f[0] === 'u') out.users.push(f[1]!), out.groups.push(f[1]!);
    else if (f[0] === 'g') out.groups.push(f[1]!);
    else if (f[0] === 'm') {
      if (!out.members.has(f[2]!)) out.members.set(f[2]!, new Set());
      out.members.get(f[2]!)!.add(f[1]!);
    }
  }
  return out;
}

/** The groups a user is in: its own (sysusers gives each `u` a group of its name) and every `m` line naming it. */
function groupsOfUser(s: SysUsers, user: string): string[] {
  return [user, ...[...s.members].filter(([, m]) => m.has(user)).map(([g]) => g)].sort();
}

/** [Service] settings of a unit (every value of a key, in order). */
function unitService(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inService = false;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (/^\[.*\]$/.test(line.trim())) inService = line.trim() === '[Service]';
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (inService && m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

const units = join(rootfs, 'usr/lib/systemd/system');

interface TmpfilesLine {
  type: string;
  path: string;
  mode: string;
  user: string;
  group: string;
}

function tmpfiles(): TmpfilesLine[] {
  return readFileSync(join(rootfs, 'usr/lib/tmpfiles.d/sbd.conf'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => {
      const [type, path, mode, user, group] = l.trim().split(/\s+/);
      return { type: type!, path: path!, mode: mode!, user: user!, group: group! };
    });
}

function envValue(name: string): string {
  const m = new RegExp(`^${name}=(.*)$`, 'm').exec(readFileSync(join(rootfs, 'etc/sbd/sbd.env'), 'utf8'));
  assert.ok(m, `${name} in sbd.env`);
  return m[1]!;
}

// ---- the admin shell's privilege drop -----------------------------------------------------------------------------

test('admin shell: dropping root leaves no 0 in the real, effective, saved or filesystem ids, nor in the groups', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-row14-drop-'));
  const passwd = join(dir, 'passwd');
  const group = join(dir, 'group');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\nsbd:x:4242:4242:sbd:/var/lib/sbd:/usr/sbin/nologin\n');
  // root's group lists sbd too: a supplementary group 0 must still not survive.
  writeFileSync(group, 'root:x:0:sbd\nsbd:x:4242:\nsbd-key-tvs:x:4343:sbd,other\nunrelated:x:4444:other\n');
  const script = `
    import { dropToServiceUser, processIds } from ${JSON.stringify(join(repo, 'src/admin/privilege.ts'))};
    const p = dropToServiceUser('sbd', { passwdFile: ${JSON.stringify(passwd)}, groupFile: ${JSON.stringify(group)} });
    let regained = 'no';
    try { process.setuid(0); regained = 'yes'; } catch {}
    try { process.seteuid(0); regained = 'yes'; } catch {}
    console.log(JSON.stringify({ ids: processIds(), regained, canRaise: p.canRaise,
      restart: p.asRoot('/usr/bin/systemctl', ['restart', 'sbd-tftpd.service']) }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    ids: { uid: number[]; gid: number[]; groups: number[] };
    regained: string;
    canRaise: boolean;
    restart: { file: string; args: string[] };
  };
  assert.deepEqual(out.ids.uid, [4242, 4242, 4242, 4242], 'Uid: real, effective, saved, fs');
  assert.deepEqual(out.ids.gid, [4242, 4242, 4242, 4242], 'Gid: real, effective, saved, fs');
  assert.deepEqual(out.ids.groups.sort(), [4242, 4343], "Groups: the user's own, without root's");
  assert.equal(out.regained, 'no', 'setuid(0)/seteuid(0) must fail after the drop');
  assert.equal(out.canRaise, true);
  assert.deepEqual(out.restart, { file: '/usr/bin/sudo', args: ['-n', '/usr/bin/systemctl', 'restart', 'sbd-tftpd.service'] });
});

test('sudoers: the admin shell as root for admin; for sbd exactly the systemctl lines and the cluster entry the shell runs', () => {
  const text = readFileSync(join(rootfs, 'etc/sudoers.d/sbd-admin'), 'utf8').replace(/\\\n\s*/g, '');
  const rules = text.split('\n').filter((l) => l.trim() && !l.startsWith('#') && !l.startsWith('Defaults'));
  const alias = /^Cmnd_Alias SBD_SYSTEMCTL = (.*)$/m.exec(text)?.[1]?.split(/,\s*/) ?? [];
  const restarts = DAEMONS.map((d) => `/usr/bin/systemctl restart ${d}.service`);
  assert.deepEqual(alias.sort(), [...restarts, '/usr/bin/systemctl reboot', '/usr/bin/systemctl poweroff'].sort());
  // The console's cluster words (src/admin/commands/cluster-membership.ts): one entry, its verbs only; the two
  // without operands allow none (sudoers: a command listed with arguments matches only those).
  const cluster = /^Cmnd_Alias SBD_CLUSTER = (.*)$/m.exec(text)?.[1]?.split(/,\s*/) ?? [];
  const entry = '/usr/bin/sbd cluster appliance';
  assert.deepEqual(
    cluster.sort(),
    [`${entry} migrate`, `${entry} promote`, ...['add-node', 'remove-node', 'join', 'repoint'].map((v) => `${entry} ${v} *`)].sort(),
  );
  assert.deepEqual(rules.filter((l) => !l.startsWith('Cmnd_Alias')).sort(), [
    'admin ALL=(root) NOPASSWD: /usr/lib/sbd/bin/sbd-admin-shell',
    'sbd ALL=(root) NOPASSWD: SBD_SYSTEMCTL, SBD_CLUSTER',
  ]);
});

// ---- users, units, groups ----------------------------------------------------------------------------------------

test('rootfs: one system user per daemon, each unit runs as its own, the shared drop-in names no user', () => {
  const s = sysusers();
  for (const d of DAEMONS) {
    assert.ok(s.users.includes(d), `sysusers.d: user ${d}`);
    const svc = unitService(join(units, `${d}.service`));
    assert.deepEqual(svc.get('User'), [d], `${d}.service User=`);
    assert.deepEqual(svc.get('Group'), [d], `${d}.service Group=`);
  }
  const shared = unitService(join(units, 'sbd-.service.d/50-hardening.conf'));
  assert.equal(shared.get('User'), undefined, 'no shared User= in the drop-in every unit gets');
  assert.equal(shared.get('ReadWritePaths'), undefined, 'no shared writable path');
  assert.deepEqual(shared.get('ExecStartPre'), ['+/usr/lib/sbd/bin/state-permissions']);
});

test('rootfs: only the store writers may write the state; TVS reads it; media cannot see it', () => {
  const s = sysusers();
  const state = envValue('SBD_STATE');
  const writers = ['sbd-tftpd', 'sbd-capfd', 'sbd-sipd'];
  for (const d of DAEMONS) {
    const svc = unitService(join(units, `${d}.service`));
    assert.deepEqual(svc.get('ReadWritePaths') ?? [], writers.includes(d) ? [state] : [], `${d} ReadWritePaths=`);
    // The store's group is `sbd` (tmpfiles.d: 0664 sbd sbd): its members can write it.
    assert.equal(groupsOfUser(s, d).includes('sbd'), writers.includes(d), `${d} in the store writers' group`);
  }
  const media = unitService(join(units, 'sbd-mediad.service'));
  assert.deepEqual(media.get('InaccessiblePaths'), ['/var/lib/sbd']);
  assert.deepEqual(groupsOfUser(s, 'sbd-mediad'), ['sbd-mediad'], 'media: no sbd group at all');
  const t = tmpfiles();
  const line = (path: string) => t.find((l) => l.path === path);
  assert.deepEqual(line('/var/lib/sbd'), { type: 'd', path: '/var/lib/sbd', mode: '0750', user: 'sbd', group: 'sbd-state' });
  assert.deepEqual(line(state), { type: 'd', path: state, mode: '3771', user: 'sbd', group: 'sbd' });
  for (const f of ['sbd.db', 'sbd.db-wal', 'sbd.db-shm', 'sbd.db-generation']) assert.equal(line(`${state}/${f}`)?.mode, '0664', f);
  // "other" read on the store reaches only who may enter /var/lib/sbd: the four store daemons.
  const gate = [...(s.members.get('sbd-state') ?? [])].filter((u) => u !== 'sbd').sort();
  assert.deepEqual(gate, ['sbd-capfd', 'sbd-sipd', 'sbd-tftpd', 'sbd-tvsd']);
});

test('rootfs: each daemon is in the key groups of the keys it uses and no other', () => {
  const s = sysusers();
  const keyGroups = (d: string) => groupsOfUser(s, d).filter((g) => g.startsWith('sbd-key-'));
  assert.deepEqual(keyGroups('sbd-tftpd'), ['sbd-key-callmanager', 'sbd-key-itlrecovery', 'sbd-key-phone']);
  assert.deepEqual(keyGroups('sbd-tvsd'), ['sbd-key-tvs']);
  assert.deepEqual(keyGroups('sbd-capfd'), ['sbd-key-capf']);
  assert.deepEqual(keyGroups('sbd-sipd'), ['sbd-key-callmanager', 'sbd-key-sip']);
  assert.deepEqual(keyGroups('sbd-mediad'), []);
  // tmpfiles.d gives each key file the group identity-store.ts gives it (the two must agree).
  for (const l of tmpfiles().filter((x) => x.path.includes('/keys/'))) {
    const sample = l.path.slice(l.path.lastIndexOf('/') + 1).replace('*', 'node-0a1b.key');
    const role = keyRoleOf(sample);
    assert.equal(l.group, role ? `sbd-key-${role}` : 'sbd', `${l.path}: group`);
    assert.equal(l.mode, role ? '0640' : '0600', `${l.path}: mode`);
    if (role) assert.ok(s.groups.includes(`sbd-key-${role}`), `group sbd-key-${role} exists`);
  }
});

// ---- key files of a real state, read with sbd-tftpd's ids -------------------------------------------------------

let state: string;

before(() => {
  state = join(mkdtempSync(join(tmpdir(), 'sbd-row14-')), 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: fixedClock(Date.parse('2026-12-06T06:00:00Z')) });
});

test("key files: per-role group and 0640; a process with sbd-tftpd's groups reads only the TFTP signing keys", { skip }, () => {
  const s = sysusers();
  // A group file for the image's groups (gids from 4300), users from 4200, as sysusers would make them.
  const gid = new Map(s.groups.map((g, i) => [g, 4300 + i]));
  const uid = new Map(s.users.map((u, i) => [u, 4200 + i]));
  const groupFile = join(dirname(state), 'group');
  writeFileSync(groupFile, [...gid].map(([g, id]) => `${g}:x:${id}:${[...(s.members.get(g) ?? [])].join(',')}`).join('\n') + '\n');
  const keys = join(state, 'keys');
  writeFileSync(join(keys, 'sip-trunk.key'), 'ab'.repeat(32) + '\n', { mode: 0o600 });
  const names = readdirSync(keys).sort();
  for (const n of names) applyKeyAccess(join(keys, n), { groupFile });
  for (const n of names) {
    const st = statSync(join(keys, n));
    const role = keyRoleOf(n);
    assert.equal(st.mode & 0o777, role ? 0o640 : 0o600, `${n} mode`);
    if (role) assert.equal(st.gid, gid.get(`sbd-key-${role}`), `${n} group`);
    if (n.endsWith('.key') && !n.startsWith('sip-')) readKeyFile(join(keys, n)); // 0640 is a valid key file mode
  }
  assert.deepEqual(
    new Set(names.map((n) => keyRoleOf(n) ?? 'owner')),
    new Set(['callmanager', 'itlrecovery', 'tvs', 'capf', 'sip', 'owner']),
  );
  // The folders as tmpfiles.d lays them out, with the parents open to traversal only.
  chmodSync(dirname(dirname(state)), 0o711);
  chmodSync(dirname(state), 0o711);
  chownSync(state, 0, gid.get('sbd')!);
  chmodSync(state, 0o3771);
  chownSync(keys, 0, gid.get('sbd-keys')!);
  chmodSync(keys, 0o750);
  const groups = groupsOfUser(s, 'sbd-tftpd').map((g) => gid.get(g)!);
  const script = `
    const fs = require('node:fs');
    process.setgroups(${JSON.stringify(groups)}); process.setgid(${gid.get('sbd-tftpd')}); process.setuid(${uid.get('sbd-tftpd')});
    const out = {};
    for (const n of fs.readdirSync(${JSON.stringify(keys)})) {
      try { fs.readFileSync(${JSON.stringify(keys)} + '/' + n); out[n] = 'read'; } catch (e) { out[n] = e.code; }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as Record<string, string>;
  for (const n of names) {
    const role = keyRoleOf(n);
    const expected = role === 'callmanager' || role === 'itlrecovery' || role === 'phone' ? 'read' : 'EACCES';
    assert.equal(seen[n], expected, `sbd-tftpd reading ${n}`);
  }
});

// ---- restore ------------------------------------------------------------------------------------------------------

test("restore: the image's state folder has a parent its owner writes (the staging place), and the layout survives", { skip }, async () => {
  const stateDir = envValue('SBD_STATE');
  const parent = tmpfiles().find((l) => l.path === dirname(stateDir));
  assert.ok(parent, `tmpfiles.d lays out ${dirname(stateDir)}, where the restore stages`);
  assert.equal(parent.user, 'sbd', "the state's owner owns the staging place");
  assert.match(parent.mode, /^07[0-7][0-7]$/);

  chmodSync(state, 0o3771);
  chmodSync(join(state, 'keys'), 0o750);
  chmodSync(join(state, 'sbd.db'), 0o664);
  const file = join(dirname(state), 'backup.sbdbak');
  await createBackup({ stateDir: state, file, passphrase: 'a long enough passphrase' });
  const r = await restoreBackup({ stateDir: state, file, passphrase: 'a long enough passphrase' });
  assert.ok(r.manifest.files.length > 1);
  assert.equal(statSync(state).mode & 0o7777, 0o3771, 'state folder mode kept (setgid, sticky, traversal)');
  assert.equal(statSync(join(state, 'keys')).mode & 0o777, 0o750, 'keys/ mode kept');
  assert.equal(statSync(join(state, 'sbd.db')).mode & 0o777, 0o664, "the store keeps the layout's mode");
  assert.deepEqual(
    readdirSync(dirname(state)).filter((n) => n.includes('.restore-')),
    [],
    'no staging folder left',
  );
});
