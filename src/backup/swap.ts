/**
 * Swapping a freshly written state folder in for the running one. Linux renameat2(2) with RENAME_EXCHANGE
 * exchanges two paths in one step, so at every instant the state path names either the complete old folder or
 * the complete new one. Where the kernel or filesystem refuses the flag (EINVAL, ENOSYS), two plain renames are
 * used: then a crash between them leaves the old folder at `<state>.previous-*` and none at the state path,
 * which `restoreBackup` reports.
 */
import { existsSync, renameSync } from 'node:fs';
import koffi from 'koffi';

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 1 << 1;
const EINVAL = 22;
const ENOSYS = 38;

type Renameat2 = (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
let renameat2: Renameat2 | null | undefined;

function binding(): Renameat2 | null {
  if (renameat2 !== undefined) return renameat2;
  try {
    const libc = koffi.load('libc.so.6');
    renameat2 = libc.func(
      'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
    ) as unknown as Renameat2;
  } catch {
    renameat2 = null; // not glibc ≥ 2.28: fall back to two renames
  }
  return renameat2;
}

/** How the swap was done, for the report. */
export type SwapMethod = 'exchange' | 'rename' | 'new';

/**
 * Puts `staged` at `target`. If `target` exists it ends up at `staged` (exchange) and the caller removes it.
 * Returns how it was done.
 */
export function swapIntoPlace(staged: string, target: string): SwapMethod {
  if (!existsSync(target)) {
    renameSync(staged, target);
    return 'new';
  }
  const fn = binding();
  if (fn) {
    if (fn(AT_FDCWD, staged, AT_FDCWD, target, RENAME_EXCHANGE) === 0) return 'exchange';
    const errno = koffi.errno();
    if (errno !== EINVAL && errno !== ENOSYS) {
      const err = new Error(`renameat2(${staged}, ${target}, RENAME_EXCHANGE) failed with errno ${errno}`) as NodeJS.ErrnoException;
      err.errno = errno;
      throw err;
    }
  }
  const aside = `${staged}.old`;
  renameSync(target, aside);
  renameSync(staged, target);
  renameSync(aside, staged);
  return 'rename';
}
