/** Shared pieces of the socket-level TFTP tests: a folder of files, a server on a dynamic port, peer commands. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TftpServer, type TftpServerOptions } from '../../src/tftp/server.js';
import { NativeTftpServer } from '../../src/tftp/native-server.js';
import type { TftpServerLike } from '../../src/tftp/server-like.js';
import { FolderFileSource } from '../../src/tftp/file-source.js';
import { createLogger } from '../../src/lib/log.js';

export const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Which sbd-tftpd the socket-level tests run against: the TypeScript server (default) or, with
 *  SBD_TFTP_ENGINE=native (test/tftp/native/*.test.ts set it), the native data plane. */
export const engine = process.env.SBD_TFTP_ENGINE === 'native' ? 'native' : 'node';

/** Either engine (src/tftp/server-like.ts). */
export type AnyTftpServer = TftpServerLike;

export function createServer(options: TftpServerOptions): TftpServerLike {
  return engine === 'native' ? new NativeTftpServer(options) : new TftpServer(options);
}

export interface Fixture {
  root: string;
  files: Map<string, Buffer>;
  server: AnyTftpServer;
  logLines: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Files at and around block boundaries, plus what phones fetch. */
export function standardFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const size of [0, 1, 511, 512, 513, 1024, 1428, 2856, 4096, 4097]) files.set(`f${size}.bin`, randomBytes(size));
  files.set('CTLSEP001122334455.tlv', randomBytes(7 * 1024));
  files.set('ITLSEP001122334455.tlv', randomBytes(10 * 1024));
  files.set('SEP001122334455.cnf.xml.sgn', randomBytes(6 * 1024));
  files.set('big.bin', randomBytes(1024 * 1024 + 333));
  files.set('ringlists/RingList.xml', Buffer.from('<CiscoIPPhoneRingList>\n</CiscoIPPhoneRingList>\n'));
  return files;
}

export async function startFixture(files: Map<string, Buffer>, options: Partial<TftpServerOptions> = {}): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'sbd-tftp-'));
  for (const [name, data] of files) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), data);
  }
  const logLines: Record<string, unknown>[] = [];
  const server = createServer({
    source: new FolderFileSource(root),
    port: 0,
    addresses: ['127.0.0.1', '::1'],
    logger: createLogger('tftpd', { write: (l) => logLines.push(JSON.parse(l) as Record<string, unknown>) }),
    ...options,
  });
  await server.listen();
  return {
    root,
    files,
    server,
    logLines,
    close: async () => {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function portOf(server: AnyTftpServer, family: 'IPv4' | 'IPv6'): number {
  return server.addresses().find((a) => a.family === family)!.port;
}

export function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
