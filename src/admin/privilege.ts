/**
 * The admin shell starts as root (sudo, from the admin account's login shell) and keeps root only as its *real*
 * uid: the effective uid/gid become the daemons' user, so every file it writes in the store belongs to `sbd`
 * exactly as if a daemon had written it. `asRoot` raises the effective ids back for one synchronous call
 * (a child process started inside inherits them) — used for systemctl only.
 */
import { readFileSync } from 'node:fs';
import { AdminError, AdminErrorCode } from './errors.js';

export interface Privilege {
  /** True when the shell can act as root (real uid 0). */
  readonly canRaise: boolean;
  asRoot<T>(fn: () => T): T;
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

/**
 * Drops the effective ids to `user` when running as root and the user exists; otherwise runs as is (host mode,
 * tests). Returns how to raise them again.
 */
export function dropToServiceUser(user = 'sbd', passwdFile = '/etc/passwd'): Privilege {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const ids = isRoot ? lookupUser(user, passwdFile) : undefined;
  if (!isRoot || !ids) {
    return {
      canRaise: isRoot,
      asRoot: (fn) => {
        if (!isRoot) throw new AdminError(AdminErrorCode.notPermitted, 'this needs root (run the admin shell through its login)');
        return fn();
      },
    };
  }
  const [uid, gid] = ids;
  const setegid = process.setegid!.bind(process);
  const seteuid = process.seteuid!.bind(process);
  setegid(gid);
  seteuid(uid);
  return {
    canRaise: true,
    asRoot: (fn) => {
      seteuid(0);
      setegid(0);
      try {
        return fn();
      } finally {
        setegid(gid);
        seteuid(uid);
      }
    },
  };
}
