/** Writes that survive a power cut: data fsync'd before the rename that publishes it, then the folder fsync'd. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BackupError, BackupErrorCode } from './errors.js';

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `bytes` to a new file with `mode` and fsyncs it (the file must not exist). */
export function writeNewFileSynced(path: string, bytes: Buffer, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Temp file in the same folder, fsync, rename over `path`, fsync the folder: `path` is old or new, never half. */
export function writeFileAtomic(path: string, bytes: Buffer, mode: number): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeNewFileSynced(tmp, bytes, mode);
    renameSync(tmp, path);
    fsyncPath(dirname(path));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new BackupError(BackupErrorCode.io, `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
