/**
 * The phone-control service inside sbd-sipd: turns a reset request into a paced wave of NOTIFYs over each phone's
 * registered flow (wave.ts decides, notify.ts builds the bytes) and reports progress to whoever asked. The daemon
 * wires it in with three calls: `onResponse` for responses (true: it was an answer to our NOTIFY), `registered`
 * after each successful REGISTER, and `start` from the control socket.
 *
 * One wave at a time: a second request while one runs is refused (ERR_PHONE_CONTROL_BUSY), so two administrators
 * cannot double the TFTP load the pacing is sized for.
 */
import { randomBytes } from 'node:crypto';
import type { BindingTable } from '../registrar/bindings.js';
import type { MessageSource, TransportKind } from '../transports/types.js';
import type { SipResponse } from '../core/messages/message.js';
import { makeBranch, makeTag } from '../core/transactions/branch.js';
import { buildResetNotify, PhoneControlCode, PhoneControlError, resetMethodFor } from './notify.js';
import type { ControlEvent, ResetRequest } from './control-protocol.js';
import type { PhoneControlDirectory } from './directory.js';
import { ResetWave, type WaveOptions, type WaveTarget } from './wave.js';

export interface PhoneControlDeps {
  bindings: BindingTable;
  directory: PhoneControlDirectory;
  /** Sends over the phone's flow; false when the flow is gone (a closed TCP/TLS connection). */
  send(flow: MessageSource, bytes: Buffer): boolean;
  /** Where sbd listens on that transport (our Via; its host also names sbd in From), undefined when it does not. */
  listener(transport: TransportKind): { host: string; port: number } | undefined;
  now?: () => number;
}

export interface PhoneControlOptions extends Omit<WaveOptions, 'phonesPerSecond'> {
  /** Least interval between two progress events, ms; default 1000 (the last state is always sent). */
  progressIntervalMs?: number;
}

interface Running {
  wave: ResetWave;
  emit: (e: ControlEvent) => void;
  flows: Map<string, { flow: MessageSource; bytes: Buffer }>;
  /** NOTIFY Call-ID → line. */
  calls: Map<string, string>;
  lastProgress: string;
  lastProgressAt: number;
  timer: NodeJS.Timeout | undefined;
  immediate: NodeJS.Immediate | undefined;
}

export class PhoneControl {
  private readonly d: PhoneControlDeps;
  private readonly opts: PhoneControlOptions;
  private readonly now: () => number;
  /** The User-Agent of each line's last successful REGISTER (chooses the method); bounded by the bindings. */
  private readonly userAgents = new Map<string, string>();
  private running: Running | undefined;

  constructor(d: PhoneControlDeps, o: PhoneControlOptions = {}) {
    this.d = d;
    this.opts = o;
    this.now = d.now ?? Date.now;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** After a REGISTER that bound (or refreshed) `line`. */
  registered(line: string, userAgent: string | undefined): void {
    if (userAgent !== undefined) this.userAgents.set(line, userAgent.slice(0, 256));
    else this.userAgents.delete(line);
    if (this.userAgents.size > this.d.bindings.maxAors) this.pruneUserAgents();
    this.running?.wave.registered(line);
    this.soon();
  }

  /** One pump per turn of the event loop however many answers and REGISTERs arrived in it (a pump is O(phones)). */
  private soon(): void {
    const r = this.running;
    if (!r || r.immediate) return;
    r.immediate = setImmediate(() => {
      r.immediate = undefined;
      if (this.running === r) this.pump();
    });
  }

  /** A response sbd received: true when it answered one of our NOTIFYs (then nobody else should see it). */
  onResponse(res: SipResponse): boolean {
    const r = this.running;
    if (!r) return false;
    let callId: string;
    try {
      callId = res.callId();
      if (res.cseq().method !== 'NOTIFY') return false;
    } catch {
      return false;
    }
    const line = r.calls.get(callId);
    if (line === undefined) return false;
    r.wave.answered(line, res.status);
    this.soon();
    return true;
  }

  /** Starts a wave; events go to `emit` until `done` (or an `error` at once). */
  start(req: ResetRequest, emit: (e: ControlEvent) => void): void {
    if (this.running) {
      emit({ event: 'error', code: PhoneControlCode.busy, message: 'a reset wave is running; try again when it is done' });
      return;
    }
    const now = this.now();
    const devices = this.d.directory.select(req.select);
    if ('device' in req.select && devices.length === 0) {
      emit({ event: 'error', code: PhoneControlCode.unknown, message: `no device ${req.select.device}` });
      return;
    }
    const targets: WaveTarget[] = [];
    const flows = new Map<string, { flow: MessageSource; bytes: Buffer }>();
    const calls = new Map<string, string>();
    const unregistered: string[] = [];
    for (const dev of devices) {
      const b =
        dev.directoryNumber === null
          ? undefined
          : this.d.bindings.lookup(dev.directoryNumber, now).find((x) => x.device === undefined || x.device === dev.name);
      const line = dev.directoryNumber;
      const via = b && this.d.listener(b.source.transport);
      if (!b || line === null || !via || flows.has(line)) {
        unregistered.push(dev.name);
        continue;
      }
      const method = resetMethodFor(this.userAgents.get(line), this.d.directory.resetMethodOverride(dev.model));
      const callId = `${randomBytes(12).toString('hex')}@sbd`;
      let bytes: Buffer;
      try {
        bytes = buildResetNotify({
          kind: req.kind,
          method,
          contact: b.contact,
          line,
          domain: via.host,
          registerCallId: b.callId,
          via: { transport: b.source.transport, host: via.host, port: via.port, branch: makeBranch() },
          callId,
          fromTag: makeTag(),
          cseq: 1,
        });
      } catch {
        // A contact or Call-ID sbd cannot put on the wire: listed as failed at once, not sent.
        targets.push({ device: dev.name, line, contact: b.contact, registerCallId: b.callId, reliable: true, method });
        flows.set(line, { flow: b.source, bytes: Buffer.alloc(0) });
        continue;
      }
      targets.push({
        device: dev.name,
        line,
        contact: b.contact,
        registerCallId: b.callId,
        reliable: b.source.transport !== 'udp',
        method,
      });
      flows.set(line, { flow: b.source, bytes });
      calls.set(callId, line);
    }
    const wave = new ResetWave(req.kind, targets, unregistered, now, { ...this.opts, phonesPerSecond: req.phonesPerSecond });
    this.running = { wave, emit, flows, calls, lastProgress: '', lastProgressAt: -Infinity, timer: undefined, immediate: undefined };
    emit({ event: 'started', total: targets.length, unregistered, phonesPerSecond: req.phonesPerSecond });
    this.pump();
  }

  /** Sends what is due, reports progress, rearms the timer, finishes the wave. */
  private pump(): void {
    const r = this.running;
    if (!r) return;
    const now = this.now();
    for (const t of r.wave.due(now)) {
      const f = r.flows.get(t.line)!;
      if (f.bytes.length === 0 || !this.d.send(f.flow, f.bytes))
        r.wave.failed(t.line, f.bytes.length === 0 ? 'the registration cannot be addressed' : "the phone's flow is closed");
    }
    const p = r.wave.progress();
    const text = JSON.stringify(p);
    const interval = this.opts.progressIntervalMs ?? 1000;
    if (text !== r.lastProgress && (now - r.lastProgressAt >= interval || r.wave.done)) {
      r.lastProgress = text;
      r.lastProgressAt = now;
      r.emit({ event: 'progress', ...p });
    }
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    const next = r.wave.nextAt(now);
    if (r.wave.done) {
      this.running = undefined;
      r.emit({ event: 'done', ...r.wave.summary(now) });
      return;
    }
    // The next send/resend/timeout, and the next progress report when something changed since the last one.
    let at = next ?? now + interval;
    if (text !== r.lastProgress) at = Math.min(at, r.lastProgressAt + interval);
    r.timer = setTimeout(() => this.pump(), Math.max(0, at - now));
    r.timer.unref();
  }

  private pruneUserAgents(): void {
    const now = this.now();
    for (const line of this.userAgents.keys()) if (this.d.bindings.lookup(line, now).length === 0) this.userAgents.delete(line);
  }

  close(): void {
    const r = this.running;
    if (!r) return;
    if (r.timer) clearTimeout(r.timer);
    if (r.immediate) clearImmediate(r.immediate);
    this.running = undefined;
    r.emit({ event: 'error', code: PhoneControlCode.stopped, message: 'sbd-sipd is stopping; the wave ended early' });
  }
}

export { PhoneControlError };
