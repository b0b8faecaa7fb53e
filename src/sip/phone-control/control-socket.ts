/**
 * The control socket: a Unix stream socket (Node 20 has no Unix datagram sockets) under the state folder where
 * the running sbd-sipd takes reset requests (control-protocol.ts). Access is the file system's: the socket is
 * created mode 0660 inside a folder whose group is the control group (rootfs/usr/lib/tmpfiles.d/sbd.conf: owner
 * sbd-sipd, group sbd-phonectl, setgid so the socket takes that group); the admin user `sbd` is a member, no
 * other daemon is. The client side (`requestReset`) is what the CLI and the console use.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { encodeLine, LineSplitter, parseEvent, parseRequest, type ControlEvent, type ResetRequest } from './control-protocol.js';
import { PhoneControlCode, PhoneControlError } from './notify.js';

/** `<state>/sipd-control/sipd.sock`: its own folder, so its group and mode are the socket's alone. */
export function controlSocketPath(stateDir: string): string {
  return join(stateDir, 'sipd-control', 'sipd.sock');
}

export interface ControlServerOptions {
  path: string;
  /** Socket file mode; default 0o660 (owner and the control group). */
  mode?: number;
  /** Connections at once; default 8. */
  maxConnections?: number;
  /** A connection that sends no complete request within this many ms is closed; default 10000. */
  requestTimeoutMs?: number;
}

export const controlServerDefaults = { mode: 0o660, maxConnections: 8, requestTimeoutMs: 10_000 } as const;

export type ControlHandler = (req: ResetRequest, emit: (e: ControlEvent) => void) => void;

export class ControlServer {
  private readonly opts: ControlServerOptions;
  private readonly handler: ControlHandler;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(o: ControlServerOptions, handler: ControlHandler) {
    this.opts = o;
    this.handler = handler;
  }

  async listen(): Promise<string> {
    const path = this.opts.path;
    // The folder exists in the image (tmpfiles.d); elsewhere (tests, a state folder made by hand) we make it.
    if (!existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    // A socket left by a previous run (a crash) is replaced; anything else at that name is not ours to remove.
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new PhoneControlError(PhoneControlCode.socket, `${path} exists and is not a socket`);
      unlinkSync(path);
    }
    const server = createServer((s) => this.accept(s));
    server.maxConnections = this.opts.maxConnections ?? controlServerDefaults.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, this.opts.mode ?? controlServerDefaults.mode);
    this.server = server;
    return path;
  }

  private accept(s: Socket): void {
    this.sockets.add(s);
    const splitter = new LineSplitter();
    let taken = false;
    const send = (e: ControlEvent) => {
      if (!s.destroyed) s.write(encodeLine(e));
      if (e.event === 'done' || e.event === 'error') s.end();
    };
    const timer = setTimeout(() => s.destroy(), this.opts.requestTimeoutMs ?? controlServerDefaults.requestTimeoutMs);
    timer.unref();
    s.on('data', (chunk: Buffer) => {
      if (taken) return; // one request per connection; later bytes are ignored
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        send({ event: 'error', code: (err as PhoneControlError).code, message: (err as Error).message });
        return;
      }
      if (lines.length === 0) return;
      taken = true;
      clearTimeout(timer);
      try {
        this.handler(parseRequest(lines[0]!), send);
      } catch (err) {
        send({
          event: 'error',
          code: err instanceof PhoneControlError ? err.code : PhoneControlCode.failed,
          message: (err as Error).message,
        });
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(s);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.opts.path);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Sends one request to the daemon and passes every event to `onEvent`; resolves with the last one (`done` or
 * `error`). A daemon that is not running is a typed error naming the socket.
 */
export function requestReset(path: string, req: ResetRequest, onEvent: (e: ControlEvent) => void): Promise<ControlEvent> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    const splitter = new LineSplitter();
    let last: ControlEvent | undefined;
    s.on('connect', () => s.write(encodeLine(req)));
    s.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        s.destroy(err as Error);
        return;
      }
      for (const line of lines) {
        const e = parseEvent(line);
        if (!e) continue;
        last = e;
        onEvent(e);
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? 'sbd-sipd is not running (no control socket)'
          : err.code === 'EACCES'
            ? 'permission denied (the control socket is for the admin user)'
            : err.message;
      reject(new PhoneControlError(PhoneControlCode.connect, `${path}: ${why} (${err.code ?? 'error'})`, { cause: err }));
    });
    s.on('close', () => {
      if (last && (last.event === 'done' || last.event === 'error')) resolve(last);
      else reject(new PhoneControlError(PhoneControlCode.connect, `${path}: sbd-sipd closed the connection before the wave ended`));
    });
  });
}
