/**
 * The admin shell starts as root (sudo, from the admin account's login shell) and gives root up for good before
 * it reads a single command: supplementary groups, then the real, effective and saved gid, then the real,
 * effective and saved uid all become those of the state's owner (`sbd`), so every file it writes in the store
 * belongs to `sbd` exactly as first boot wrote it, and nothing it runs can get root back by itself.
 * The one thing that needs root afterwards — `systemctl restart|reboot|poweroff` — goes through `sudo -n`, which
 * rootfs/etc/sudoers.d/sbd-admin allows the `sbd` user for exactly those systemctl command lines and nothing else.
 */
import { readFileSync } from 'node:fs';
import { AdminError, AdminErrorCode } from './errors.js';

export interface RootCommand {
  file: string;
  args: string[];
}

export interface Privilege {
  /** True when the shell can have a command run as root (it started as root). */
  readonly canRaise: boolean;
  /** The command line that runs `file args` as root: through `sudo -n` once root was dropped. */
  asRoot(file: string, args: readonly string[]): RootCommand;
}

export interface DropOptions {
  /** passwd(5) file the user is looked up in. Default /etc/passwd. */
  passwdFile?: string;
  /** group(5) file the user's supplementary groups come from. Default /etc/group. */
  groupFile?: string;
  /** sudo binary used for root commands after the drop. Default /usr/bin/sudo. */
  sudo?: string;
}

/** Looks a user up in an /etc/passwd-format file: [uid, gid], or undefined. */
export function lookupUser(name: string, passwdFile = '/etc/passwd'): [number, number] | undefined {
  let text: string;
  try {
    text = readFileSync(passwdFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return [Number(f[2]), Number(f[3])];
  }
  return undefined;
}

/** The primary gid and every group of an /etc/group-format file that lists `name` as a member (initgroups(3)). */
export function groupsOf(name: string, gid: number, groupFile = '/etc/group'): number[] {
  const out = new Set<number>([gid]);
  let text = '';
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    /* no group file: the primary group only */
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 4 && f[3]!.split(',').includes(name)) out.add(Number(f[2]));
  }
  return [...out].filter((g) => Number.isInteger(g) && g >= 0);
}

/** The Uid:/Gid: lines (real, effective, saved, filesystem) and Groups: of /proc/self/status. */
export function processIds(statusFile = '/proc/self/status'): { uid: number[]; gid: number[]; groups: number[] } {
  const text = readFileSync(statusFile, 'utf8');
  const line = (key: string) => (new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
  return { uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
}

/**
 * Drops every id to `user` when running as root and the user exists; otherwise runs as is (host mode, tests).
 * Fails closed: if /proc/self/status still shows uid or gid 0 anywhere, or group 0, it throws.
 */
export function dropToServiceUser(user = 'sbd', options: DropOptions = {}): Privilege {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const ids = isRoot ? lookupUser(user, options.passwdFile) : undefined;
  if (!isRoot || !ids) {
    return {
      canRaise: isRoot,
      asRoot: (file, args) => {
        if (!isRoot) throw new AdminError(AdminErrorCode.notPermitted, 'this needs root (run the admin shell through its login)');
        return { file, args: [...args] };
      },
    };
  }
  const [uid, gid] = ids;
  if (uid === 0 || gid === 0) throw new AdminError(AdminErrorCode.notPermitted, `refusing to "drop" to ${user}, which is root`);
  const groups = groupsOf(user, gid, options.groupFile).filter((g) => g !== 0);
  // Order matters: groups and gid can only change while the uid is still 0. As root, setgid(2)/setuid(2) set the
  // real, effective and saved ids together (what setresgid/setresuid would do with three equal arguments).
  process.setgroups!(groups);
  process.setgid!(gid);
  process.setuid!(uid);
  const now = processIds();
  if ([...now.uid, ...now.gid].some((id) => id === 0) || now.groups.includes(0)) {
    throw new AdminError(AdminErrorCode.notPermitted, `root was not fully dropped (Uid ${now.uid.join(' ')}, Gid ${now.gid.join(' ')})`);
  }
  const sudo = options.sudo ?? '/usr/bin/sudo';
  return {
    canRaise: true,
    // -n: never prompt; sudoers allows `sbd` only the exact systemctl lines the shell runs.
    asRoot: (file, args) => ({ file: sudo, args: ['-n', file, ...args] }),
  };
}
