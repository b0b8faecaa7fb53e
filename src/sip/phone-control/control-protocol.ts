/**
 * The control socket's protocol (sans-I/O): JSON lines over a Unix stream socket between the running sbd-sipd
 * and `sbd phone reset|restart` / the console's `utils phone reset|restart`. One request per connection, then
 * `started`, `progress` and `done` (or `error` with a PhoneControlCode) events. Who may ask is decided by the
 * socket file's mode and group; the daemon still validates every field, and a line longer than `maxLineBytes`
 * ends the connection. The lines, field by field: docs/sip-theory.md "Control socket protocol".
 */
import { PhoneControlCode, PhoneControlError, ResetKind } from './notify.js';
import { resetPacingDefaults, type WaveProgress, type WaveSummary } from './wave.js';

export const controlProtocolLimits = {
  /** Longest request or event line, bytes; default 64 KiB (a request is ~150 bytes). */
  maxLineBytes: 65_536,
  /** Highest pace a request may ask for, phones per second. */
  maxPhonesPerSecond: 10_000,
} as const;

export type ResetSelect = { device: string } | { model: string } | { partition: string } | { all: true };

export interface ResetRequest {
  op: 'reset';
  kind: ResetKind;
  select: ResetSelect;
  phonesPerSecond: number;
}

export type ControlEvent =
  | { event: 'started'; total: number; unregistered: string[]; phonesPerSecond: number }
  | ({ event: 'progress' } & WaveProgress)
  | ({ event: 'done' } & WaveSummary)
  | { event: 'error'; code: PhoneControlCode; message: string };

const NAME = /^[A-Za-z0-9 ._+-]{1,64}$/;

function bad(message: string): PhoneControlError {
  return new PhoneControlError(PhoneControlCode.request, message);
}

/** One request line → a validated request (typed error naming what is wrong). */
export function parseRequest(line: string): ResetRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw bad('the request is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the request is not a JSON object');
  const r = v as Record<string, unknown>;
  if (r.op !== 'reset') throw bad(`unknown op ${JSON.stringify(r.op)}: reset`);
  if (r.kind !== ResetKind.reset && r.kind !== ResetKind.restart) throw bad('kind must be reset or restart');
  const rate = r.phonesPerSecond ?? resetPacingDefaults.phonesPerSecond;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0 || rate > controlProtocolLimits.maxPhonesPerSecond) {
    throw bad(`phonesPerSecond must be a number above 0 and at most ${controlProtocolLimits.maxPhonesPerSecond}`);
  }
  return { op: 'reset', kind: r.kind, select: parseSelect(r.select), phonesPerSecond: rate };
}

function parseSelect(s: unknown): ResetSelect {
  if (typeof s !== 'object' || s === null) throw bad('select must be an object');
  const o = s as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1) throw bad('select names exactly one of device, model, partition, all');
  const key = keys[0]!;
  const value = o[key];
  if (key === 'all') {
    if (value !== true) throw bad('select.all must be true');
    return { all: true };
  }
  if (key !== 'device' && key !== 'model' && key !== 'partition') throw bad(`unknown select key ${JSON.stringify(key)}`);
  if (typeof value !== 'string' || !NAME.test(value)) throw bad(`select.${key} must be a name of 1 to 64 letters, digits, spaces or ._+-`);
  if (key === 'device') {
    if (!/^SEP[0-9A-F]{12}$/i.test(value)) throw bad('select.device must be SEP followed by 12 hex digits');
    return { device: value.toUpperCase() };
  }
  return key === 'model' ? { model: value } : { partition: value };
}

export function encodeLine(v: ResetRequest | ControlEvent): Buffer {
  return Buffer.from(JSON.stringify(v) + '\n');
}

/** Splits a byte stream into lines; bytes past `maxLineBytes` without a newline are an error (sans-I/O). */
export class LineSplitter {
  private buf: Buffer = Buffer.alloc(0);
  private readonly max: number;

  constructor(maxLineBytes: number = controlProtocolLimits.maxLineBytes) {
    this.max = maxLineBytes;
  }

  push(chunk: Buffer): string[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const lines: string[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf(0x0a)) >= 0) {
      if (nl > this.max) throw new PhoneControlError(PhoneControlCode.line, `a line is longer than ${this.max} bytes`);
      const line = this.buf.subarray(0, nl).toString('utf8').replace(/\r$/, '');
      this.buf = this.buf.subarray(nl + 1);
      if (line.trim() !== '') lines.push(line);
    }
    if (this.buf.length > this.max) throw new PhoneControlError(PhoneControlCode.line, `a line is longer than ${this.max} bytes`);
    return lines;
  }
}

/** One event line from the daemon (the client side); undefined for a line that is not an event. */
export function parseEvent(line: string): ControlEvent | undefined {
  try {
    const v = JSON.parse(line) as { event?: unknown };
    return typeof v === 'object' && v !== null && typeof v.event === 'string' ? (v as ControlEvent) : undefined;
  } catch {
    return undefined;
  }
}
