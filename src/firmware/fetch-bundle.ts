/**
 * Where `utils system upgrade` takes its bundle from: a file already on the appliance, or an http(s) URL (the
 * administrator's machine serving it), fetched with Node's fetch into the firmware folder on the data partition.
 * The download is not trusted: RAUC checks its signature before a byte reaches a slot.
 * One download at a time, under one name: what an earlier one left (a power cut or a crash before the console
 * removed it; tmpfiles.d/sbd-firmware.conf also removes it at boot) is removed first, and a bundle larger than the
 * free space is refused before a byte is written — two copies of a bundle on the data partition filled it
 * (ENOSPC), and with it the store's and the daemons' writes (the RAUC image test after a cut mid-install).
 */
import { createWriteStream, renameSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FirmwareError, FirmwareErrorCode } from './errors.js';

export interface FetchBundleOptions {
  /** Where a download is written. Default /var/lib/sbd/firmware. */
  dir?: string;
  /** Largest bundle accepted, bytes. Default 1 GiB (a root slot image is ~100-300 MB). */
  maxBytes?: number;
  /** Longest download, ms. Default 1800000. */
  timeoutMs?: number;
}

export const FETCH_DEFAULTS = { dir: '/var/lib/sbd/firmware', maxBytes: 1 << 30, timeoutMs: 1_800_000 } as const;

/** The one name a download has in the firmware folder (`.partial` while it is written). */
export const DOWNLOAD_NAME = 'download.raucb';

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

/** Bytes an unprivileged writer may still use in the file system of `dir`. */
function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch (err) {
    throw new FirmwareError(FirmwareErrorCode.io, `cannot read the free space of ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

export function isBundleUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** The local file a source names: the file itself, or the downloaded copy (`downloaded` true: remove it after). */
export async function bundleFile(source: string, options: FetchBundleOptions = {}): Promise<{ file: string; downloaded: boolean }> {
  if (isBundleUrl(source)) return { file: await downloadBundle(source, options), downloaded: true };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new FirmwareError(FirmwareErrorCode.source, `"${source}": only http:// and https:// URLs or a file on the appliance`);
  }
  const file = resolve(source);
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    /* reported below */
  }
  if (!isFile) throw new FirmwareError(FirmwareErrorCode.source, `no bundle file ${file}`);
  return { file, downloaded: false };
}

export async function downloadBundle(url: string, options: FetchBundleOptions = {}): Promise<string> {
  const dir = options.dir ?? FETCH_DEFAULTS.dir;
  const maxBytes = options.maxBytes ?? FETCH_DEFAULTS.maxBytes;
  const target = join(dir, DOWNLOAD_NAME);
  const partial = `${target}.partial`;
  rmSync(target, { force: true });
  rmSync(partial, { force: true });
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? FETCH_DEFAULTS.timeoutMs), redirect: 'follow' });
  } catch (err) {
    throw new FirmwareError(FirmwareErrorCode.source, `cannot fetch ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (!response.ok || !response.body) throw new FirmwareError(FirmwareErrorCode.source, `cannot fetch ${url}: HTTP ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes)
    throw new FirmwareError(FirmwareErrorCode.source, `${url} is ${declared} bytes, more than the ${maxBytes} accepted`);
  const free = freeBytes(dir);
  if (declared > free) {
    await response.body.cancel();
    throw new FirmwareError(
      FirmwareErrorCode.space,
      `${url} is ${mb(declared)} MB, more than the ${mb(free)} MB free in ${dir}: nothing was downloaded`,
    );
  }
  let seen = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(
        seen > maxBytes ? new FirmwareError(FirmwareErrorCode.source, `${url} is more than the ${maxBytes} bytes accepted`) : null,
        chunk,
      );
    },
  });
  try {
    // 0644: RAUC refuses a bundle others may write to (it takes the file over as root before reading it).
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      limit,
      createWriteStream(partial, { mode: 0o644 }),
    );
    renameSync(partial, target);
  } catch (err) {
    rmSync(partial, { force: true });
    if (err instanceof FirmwareError) throw err;
    throw new FirmwareError(FirmwareErrorCode.source, `cannot download ${url} to ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return target;
}
