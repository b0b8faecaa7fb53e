/**
 * The phone side of a CAPF session, sans-I/O (spec §3.2); the phone simulator and `sbd capf enroll` drive it.
 * Its theory of operation is on `CapfClientSession`.
 */
import { CapfError, CapfErrorCode, localError } from './errors.js';
import { CapfFrameReader, type CapfFrameReaderOptions } from './frame-reader.js';
import { CAPF_PROTOCOL_VERSION, CapfCertificateType, CapfCommand, CapfReason, commandName } from './frame.js';
import { keySpecFromElements, type CapfKeySpec } from './key-spec.js';
import { decodeMessage, encodeMessage, type CapfMessage } from './messages.js';

export type CapfClientState =
  | 'awaitAuthRequest'
  | 'awaitOperation'
  | 'generating'
  | 'awaitStore'
  | 'storing'
  | 'fetching'
  | 'deleting'
  | 'awaitEnd'
  | 'done';

export interface CapfClientAuth {
  /** SEP + 12 upper-case hex digits. */
  deviceName: string;
  /** The auth string typed on the phone; sent as an empty string when absent, as phones do. */
  password?: string | undefined;
  /** LSC or MIC authentication: the phone's certificate (DER), its type and the signatures (signed-data.ts). */
  certificate?: { type: number; der: Buffer } | undefined;
  signedData?: Buffer | undefined;
  sha2SignedData?: { hash: number; signature: Buffer } | undefined;
  sudiData?: Buffer | undefined;
}

export type CapfClientEvent =
  | { type: 'send'; bytes: Buffer }
  | { type: 'authRequest'; sessionId: number; authType: number | undefined }
  | { type: 'keyGenerate'; keySpec: CapfKeySpec }
  | { type: 'storeCertificate'; der: Buffer; certificateType: number | undefined }
  | { type: 'fetchCertificate' }
  | { type: 'deleteCertificate' }
  | { type: 'protocolError'; error: CapfError }
  | { type: 'end'; reason: number };

export interface CapfClientSessionOptions extends CapfFrameReaderOptions {
  auth: CapfClientAuth;
  /** Send REQUEST_IN_PROGRESS before making the key, as phones and capfc do. Default true. */
  sendInProgress?: boolean;
}

/**
 * Theory of operation. The server speaks first; the phone answers AUTH_REQUEST at once with what it was given
 * (device name, auth string, and for LSC/MIC authentication its certificate and the two signatures), then does
 * what the server asks. Work that takes the shell's help (making a key, keeping a certificate) is an event; the
 * shell calls back.
 *
 *   state             on                                   → send                                      next
 *   ────────────────  ───────────────────────────────────  ──────────────────────────────────────────  ──────────────
 *   awaitAuthRequest  AUTH_REQUEST{VERSION 3}               AUTH_RESPONSE{REASON 1, VERSION, NAME, …}   awaitOperation
 *   awaitOperation    KEY_GENERATE_REQUEST                  REQUEST_IN_PROGRESS, event `keyGenerate`    generating
 *                     FETCH_CERTIFICATE_REQUEST             event `fetchCertificate`                    fetching
 *                     DELETE_CERTIFICATE_REQUEST            event `deleteCertificate`                   deleting
 *                     END_SESSION{r}                        event `end`                                 done
 *   generating        keyGenerated(spki)                    KEY_GENERATE_RESPONSE{PUBLIC_KEY}           awaitStore
 *   awaitStore        STORE_CERTIFICATE_REQUEST{cert}       event `storeCertificate`                    storing
 *                     END_SESSION{r}                        event `end`                                 done
 *   storing           certificateStored(ok)                 STORE_CERTIFICATE_RESPONSE{1 | 0}           awaitEnd
 *   fetching          fetchResponse(der?)                   FETCH_CERTIFICATE_RESPONSE{1, cert | 0}     awaitEnd
 *   deleting          deleted(ok)                           DELETE_CERTIFICATE_RESPONSE{1 | 0}          awaitEnd
 *   awaitEnd          END_SESSION{r}                        event `end`                                 done
 *   any               a frame that breaks the table         event `protocolError` (the phone closes)    done
 */
export class CapfClientSession {
  state: CapfClientState = 'awaitAuthRequest';
  sessionId: number | undefined;
  readonly #reader: CapfFrameReader;
  readonly #auth: CapfClientAuth;
  readonly #sendInProgress: boolean;

  constructor(options: CapfClientSessionOptions) {
    if (!/^SEP[0-9A-F]{12}$/.test(options.auth.deviceName))
      throw localError(
        CapfErrorCode.deviceName,
        `device name ${JSON.stringify(options.auth.deviceName)} is not SEP + 12 upper-case hex digits`,
      );
    this.#reader = new CapfFrameReader(options);
    this.#auth = options.auth;
    this.#sendInProgress = options.sendInProgress ?? true;
  }

  /** Bytes held that are not yet a whole frame: never more than a header plus `maxBodyBytes`. */
  get pendingBytes(): number {
    return this.#reader.pendingBytes;
  }

  #send(m: Omit<CapfMessage, 'sessionId'>): CapfClientEvent {
    return { type: 'send', bytes: encodeMessage({ ...m, sessionId: this.sessionId! }) };
  }

  #expect(state: CapfClientState): void {
    if (this.state !== state) throw localError(CapfErrorCode.state, `not allowed in state ${this.state}`);
  }

  receive(chunk: Uint8Array): CapfClientEvent[] {
    if (this.state === 'done') return [];
    const out: CapfClientEvent[] = [];
    try {
      for (const frame of this.#reader.push(chunk)) {
        if ((this.state as CapfClientState) === 'done') break;
        const m = decodeMessage(frame);
        if (this.sessionId === undefined) this.sessionId = m.sessionId;
        else if (m.sessionId !== this.sessionId)
          throw new CapfError(CapfErrorCode.session, `session id ${m.sessionId} is not ${this.sessionId}`);
        out.push(...this.#onMessage(m));
      }
    } catch (err) {
      this.state = 'done';
      out.push({
        type: 'protocolError',
        error: err instanceof CapfError ? err : new CapfError(CapfErrorCode.element, (err as Error).message, { cause: err }),
      });
    }
    return out;
  }

  closed(): CapfClientEvent[] {
    if (this.state === 'done') return [];
    this.state = 'done';
    return [
      { type: 'protocolError', error: new CapfError(CapfErrorCode.connection, 'the server closed the connection before END_SESSION') },
    ];
  }

  #onMessage(m: CapfMessage): CapfClientEvent[] {
    const unexpected = (): never => {
      throw new CapfError(CapfErrorCode.command, `${commandName(m.command)} is not expected in state ${this.state}`);
    };
    if (m.command === CapfCommand.endSession && this.state !== 'awaitAuthRequest') {
      this.state = 'done';
      return [{ type: 'end', reason: m.reason ?? -1 }];
    }
    switch (this.state) {
      case 'awaitAuthRequest': {
        if (m.command !== CapfCommand.authRequest) unexpected();
        if (m.version !== CAPF_PROTOCOL_VERSION)
          throw new CapfError(CapfErrorCode.version, `AUTH_REQUEST VERSION ${m.version} is not ${CAPF_PROTOCOL_VERSION}`);
        this.state = 'awaitOperation';
        const a = this.#auth;
        return [
          { type: 'authRequest', sessionId: m.sessionId, authType: m.authType },
          this.#send({
            command: CapfCommand.authResponse,
            reason: CapfReason.updateCertificate,
            version: CAPF_PROTOCOL_VERSION,
            deviceName: a.deviceName,
            password: a.password ?? '',
            ...(a.certificate ? { certificate: a.certificate } : {}),
            ...(a.signedData ? { signedData: a.signedData } : {}),
            ...(a.sha2SignedData ? { sha2SignedData: a.sha2SignedData } : {}),
            ...(a.sudiData ? { sudiData: a.sudiData } : {}),
          }),
        ];
      }
      case 'awaitOperation':
        if (m.command === CapfCommand.keyGenerateRequest) {
          const keySpec = keySpecFromElements(m);
          this.state = 'generating';
          return [
            ...(this.#sendInProgress ? [this.#send({ command: CapfCommand.requestInProgress })] : []),
            { type: 'keyGenerate', keySpec },
          ];
        }
        if (m.command === CapfCommand.fetchCertificateRequest) {
          this.state = 'fetching';
          return [{ type: 'fetchCertificate' }];
        }
        if (m.command === CapfCommand.deleteCertificateRequest) {
          this.state = 'deleting';
          return [{ type: 'deleteCertificate' }];
        }
        return unexpected();
      case 'awaitStore':
        if (m.command !== CapfCommand.storeCertificateRequest) unexpected();
        if (!m.certificate || m.certificate.der.length === 0)
          throw new CapfError(CapfErrorCode.element, 'STORE_CERTIFICATE_REQUEST without CERTIFICATE');
        this.state = 'storing';
        return [{ type: 'storeCertificate', der: m.certificate.der, certificateType: m.certificateType }];
      default:
        // generating, storing, fetching, deleting: the server must wait for the phone; awaitEnd: only END_SESSION.
        return unexpected();
    }
  }

  keyGenerated(spki: Buffer): CapfClientEvent[] {
    this.#expect('generating');
    this.state = 'awaitStore';
    return [this.#send({ command: CapfCommand.keyGenerateResponse, publicKey: spki })];
  }

  certificateStored(ok: boolean): CapfClientEvent[] {
    this.#expect('storing');
    this.state = 'awaitEnd';
    return [this.#send({ command: CapfCommand.storeCertificateResponse, reason: ok ? CapfReason.updateCertificate : CapfReason.noAction })];
  }

  /** The certificate the phone holds (DER), or undefined when it has none. */
  fetchResponse(der: Buffer | undefined): CapfClientEvent[] {
    this.#expect('fetching');
    this.state = 'awaitEnd';
    return [
      this.#send(
        der
          ? {
              command: CapfCommand.fetchCertificateResponse,
              reason: CapfReason.updateCertificate,
              certificate: { type: CapfCertificateType.lsc, der },
            }
          : { command: CapfCommand.fetchCertificateResponse, reason: CapfReason.noAction },
      ),
    ];
  }

  deleted(ok: boolean): CapfClientEvent[] {
    this.#expect('deleting');
    this.state = 'awaitEnd';
    return [
      this.#send({ command: CapfCommand.deleteCertificateResponse, reason: ok ? CapfReason.updateCertificate : CapfReason.noAction }),
    ];
  }
}
