/**
 * The CAPF server side of one connection, sans-I/O (spec §3.2): bytes in, events out; the shell (server.ts)
 * performs what an event asks (store lookups, issuing the LSC) and calls back. Its theory of operation is on
 * `CapfServerSession`.
 */
import { CapfError, CapfErrorCode, localError } from './errors.js';
import { CapfFrameReader, type CapfFrameReaderOptions } from './frame-reader.js';
import { CAPF_PROTOCOL_VERSION, CapfAuthType, CapfCertificateType, CapfCommand, CapfReason, commandName } from './frame.js';
import { keySpecElements, type CapfKeySpec } from './key-spec.js';
import { decodeMessage, encodeMessage, type CapfMessage } from './messages.js';

export type CapfServerState =
  | 'idle'
  | 'awaitAuth'
  | 'deciding'
  | 'awaitKey'
  | 'issuing'
  | 'awaitStore'
  | 'awaitFetch'
  | 'awaitDelete'
  | 'done';

/** What the phone presented in AUTH_RESPONSE. */
export interface CapfAuthResponse {
  deviceName: string;
  password: string | undefined;
  certificate: { type: number; der: Buffer } | undefined;
  signedData: Buffer | undefined;
  sha2SignedData: { hash: number; signature: Buffer } | undefined;
  sudiData: Buffer | undefined;
}

export type CapfDecision =
  | { kind: 'reject'; reason: number; why: string }
  | { kind: 'none' }
  | { kind: 'install'; keySpec: CapfKeySpec }
  | { kind: 'fetch' }
  | { kind: 'delete' };

export type CapfServerEvent =
  | { type: 'send'; bytes: Buffer }
  | { type: 'authenticate'; auth: CapfAuthResponse }
  | { type: 'publicKey'; spki: Buffer; keySpec: CapfKeySpec }
  | { type: 'stored'; reason: number }
  | { type: 'fetched'; reason: number; certificate: Buffer | undefined }
  | { type: 'deleted'; reason: number }
  | { type: 'phoneFailed'; command: number; reason: number | undefined }
  | { type: 'protocolError'; error: CapfError }
  | { type: 'end'; reason: number };

export interface CapfServerSessionOptions extends CapfFrameReaderOptions {
  sessionId: number;
  /** AUTH_TYPE in AUTH_REQUEST. Default 0: capfd sends 0 and the phone acts on its own capfAuthMode setting. */
  authType?: number;
  /** REQUEST_IN_PROGRESS frames tolerated while the phone makes its key. Default 4. */
  maxInProgress?: number;
}
export const CAPF_SERVER_SESSION_DEFAULTS = { authType: CapfAuthType.none, maxInProgress: 4 } as const;

const SEP = /^SEP[0-9A-F]{12}$/;

/**
 * Theory of operation. The server speaks first and picks the session id. Bytes in → events out; the shell
 * (server.ts) performs what an event asks (store lookups, issuing the LSC) and calls back with the result. Every
 * outgoing frame is a `send` event holding header and body in one buffer.
 *
 *   state          on                                   → send                                  next
 *   ─────────────  ───────────────────────────────────  ──────────────────────────────────────  ─────────────
 *   idle           start()                              AUTH_REQUEST{VERSION 3, AUTH_TYPE}      awaitAuth
 *   awaitAuth      AUTH_RESPONSE (version 3, name)      — event `authenticate`                  deciding
 *   deciding       decide(reject r)                     END_SESSION{r}                          done
 *                  decide(none)                         END_SESSION{0 no action}                done
 *                  decide(install spec)                 KEY_GENERATE_REQUEST{KEY_TYPE, SIZE|CURVE} awaitKey
 *                  decide(fetch)                        FETCH_CERTIFICATE_REQUEST               awaitFetch
 *                  decide(delete)                       DELETE_CERTIFICATE_REQUEST              awaitDelete
 *   awaitKey       REQUEST_IN_PROGRESS (≤ maxInProgress) —                                      awaitKey
 *                  KEY_GENERATE_RESPONSE{PUBLIC_KEY}    — event `publicKey`                     issuing
 *                  KEY_GENERATE_RESPONSE without key    END_SESSION{7}, event `phoneFailed`     done
 *   issuing        certificateIssued(der)               STORE_CERTIFICATE_REQUEST{LSC, cert}    awaitStore
 *                  fail(err)                            END_SESSION{err.reason}                 done
 *   awaitStore     STORE_CERTIFICATE_RESPONSE{r}        END_SESSION{1}, event `stored`          done
 *   awaitFetch     FETCH_CERTIFICATE_RESPONSE{r, cert}  END_SESSION{0}, event `fetched`         done
 *   awaitDelete    DELETE_CERTIFICATE_RESPONSE{r}       END_SESSION{1}, event `deleted`         done
 *   any            a frame that breaks the table above  END_SESSION{7}, event `protocolError`   done
 *
 * The END_SESSION reasons after fetch (0) and delete (1) are what usecallmanager's capfd sends and its clients
 * accept. Framing errors (wrong protocol id, oversized body) also end with END_SESSION{7} before the shell closes.
 */
export class CapfServerSession {
  readonly sessionId: number;
  state: CapfServerState = 'idle';
  /** The device named in AUTH_RESPONSE, once known. */
  deviceName: string | undefined;
  readonly #reader: CapfFrameReader;
  readonly #authType: number;
  readonly #maxInProgress: number;
  #inProgress = 0;
  #keySpec: CapfKeySpec | undefined;

  constructor(options: CapfServerSessionOptions) {
    if (!Number.isInteger(options.sessionId) || options.sessionId < 0 || options.sessionId > 0xffffffff)
      throw localError(CapfErrorCode.argument, 'sessionId must be a u32');
    this.sessionId = options.sessionId;
    this.#reader = new CapfFrameReader(options);
    this.#authType = options.authType ?? CAPF_SERVER_SESSION_DEFAULTS.authType;
    this.#maxInProgress = options.maxInProgress ?? CAPF_SERVER_SESSION_DEFAULTS.maxInProgress;
  }

  /** Bytes held that are not yet a whole frame: never more than a header plus `maxBodyBytes`. */
  get pendingBytes(): number {
    return this.#reader.pendingBytes;
  }

  #send(m: Omit<CapfMessage, 'sessionId'>): CapfServerEvent {
    return { type: 'send', bytes: encodeMessage({ ...m, sessionId: this.sessionId }) };
  }

  #end(reason: number): CapfServerEvent[] {
    this.state = 'done';
    return [this.#send({ command: CapfCommand.endSession, reason }), { type: 'end', reason }];
  }

  #expect(...states: CapfServerState[]): void {
    if (!states.includes(this.state)) throw localError(CapfErrorCode.state, `not allowed in state ${this.state}`);
  }

  start(): CapfServerEvent[] {
    this.#expect('idle');
    this.state = 'awaitAuth';
    return [this.#send({ command: CapfCommand.authRequest, version: CAPF_PROTOCOL_VERSION, authType: this.#authType })];
  }

  /** Bytes from the phone. Protocol errors come back as END_SESSION{7} + `protocolError`, never as a throw. */
  receive(chunk: Uint8Array): CapfServerEvent[] {
    if (this.state === 'done') return [];
    const out: CapfServerEvent[] = [];
    try {
      for (const frame of this.#reader.push(chunk)) {
        if ((this.state as CapfServerState) === 'done') break; // a frame after END_SESSION is ignored
        const m = decodeMessage(frame);
        if (m.sessionId !== this.sessionId)
          throw new CapfError(CapfErrorCode.session, `session id ${m.sessionId} is not this session's ${this.sessionId}`);
        out.push(...this.#onMessage(m));
      }
    } catch (err) {
      const error = err instanceof CapfError ? err : new CapfError(CapfErrorCode.element, (err as Error).message, { cause: err });
      out.push({ type: 'protocolError', error }, ...this.#end(error.reason));
    }
    return out;
  }

  /** The connection ended: mid-frame is a truncation; otherwise nothing to do. */
  closed(): CapfServerEvent[] {
    if (this.state === 'done') return [];
    this.state = 'done';
    try {
      this.#reader.end();
      return [{ type: 'end', reason: -1 }];
    } catch (err) {
      return [
        { type: 'protocolError', error: err as CapfError },
        { type: 'end', reason: -1 },
      ];
    }
  }

  #unexpected(m: CapfMessage): never {
    throw new CapfError(CapfErrorCode.command, `${commandName(m.command)} is not expected in state ${this.state}`);
  }

  #onMessage(m: CapfMessage): CapfServerEvent[] {
    switch (this.state) {
      case 'awaitAuth': {
        if (m.command !== CapfCommand.authResponse) this.#unexpected(m);
        if (m.version !== CAPF_PROTOCOL_VERSION)
          throw new CapfError(CapfErrorCode.version, `AUTH_RESPONSE VERSION ${m.version} is not ${CAPF_PROTOCOL_VERSION}`);
        if (m.deviceName === undefined || !SEP.test(m.deviceName)) {
          throw new CapfError(
            CapfErrorCode.deviceName,
            `DEVICE_NAME ${JSON.stringify(m.deviceName)} is not SEP followed by 12 upper-case hex digits`,
          );
        }
        this.deviceName = m.deviceName;
        this.state = 'deciding';
        return [
          {
            type: 'authenticate',
            auth: {
              deviceName: m.deviceName,
              password: m.password,
              certificate: m.certificate,
              signedData: m.signedData,
              sha2SignedData: m.sha2SignedData,
              sudiData: m.sudiData,
            },
          },
        ];
      }
      case 'awaitKey': {
        if (m.command === CapfCommand.requestInProgress) {
          if (++this.#inProgress > this.#maxInProgress)
            throw new CapfError(CapfErrorCode.command, `more than ${this.#maxInProgress} REQUEST_IN_PROGRESS`);
          return [];
        }
        if (m.command !== CapfCommand.keyGenerateResponse) this.#unexpected(m);
        if (!m.publicKey || m.publicKey.length === 0) {
          return [{ type: 'phoneFailed', command: m.command, reason: m.reason }, ...this.#end(CapfReason.invalidElement)];
        }
        this.state = 'issuing';
        return [{ type: 'publicKey', spki: m.publicKey, keySpec: this.#keySpec! }];
      }
      case 'awaitStore':
        if (m.command !== CapfCommand.storeCertificateResponse) this.#unexpected(m);
        return [{ type: 'stored', reason: m.reason ?? -1 }, ...this.#end(CapfReason.updateCertificate)];
      case 'awaitFetch':
        if (m.command !== CapfCommand.fetchCertificateResponse) this.#unexpected(m);
        return [{ type: 'fetched', reason: m.reason ?? -1, certificate: m.certificate?.der }, ...this.#end(CapfReason.noAction)];
      case 'awaitDelete':
        if (m.command !== CapfCommand.deleteCertificateResponse) this.#unexpected(m);
        return [{ type: 'deleted', reason: m.reason ?? -1 }, ...this.#end(CapfReason.updateCertificate)];
      default:
        // idle, deciding, issuing: the phone must wait for us.
        this.#unexpected(m);
    }
  }

  /** The shell's answer to `authenticate`. */
  decide(d: CapfDecision): CapfServerEvent[] {
    this.#expect('deciding');
    switch (d.kind) {
      case 'reject':
        return this.#end(d.reason);
      case 'none':
        return this.#end(CapfReason.noAction);
      case 'install':
        this.#keySpec = d.keySpec;
        this.state = 'awaitKey';
        return [this.#send({ command: CapfCommand.keyGenerateRequest, ...keySpecElements(d.keySpec) })];
      case 'fetch':
        this.state = 'awaitFetch';
        return [this.#send({ command: CapfCommand.fetchCertificateRequest })];
      case 'delete':
        this.state = 'awaitDelete';
        return [this.#send({ command: CapfCommand.deleteCertificateRequest })];
    }
  }

  /** The shell issued the LSC for the `publicKey` event. */
  certificateIssued(der: Buffer): CapfServerEvent[] {
    this.#expect('issuing');
    this.state = 'awaitStore';
    return [
      this.#send({
        command: CapfCommand.storeCertificateRequest,
        certificateType: CapfCertificateType.lsc,
        certificate: { type: CapfCertificateType.lsc, der },
      }),
    ];
  }

  /** The shell could not go on (wrong key, issuing failed, store error): END_SESSION with the error's reason. */
  fail(error: CapfError): CapfServerEvent[] {
    if (this.state === 'done') return [];
    return this.#end(error.reason);
  }
}
