/** The TLS engine's error codes (src/tls), one table as every room has. */
import { SbdError } from '../lib/errors.js';

export const TlsEngineErrorCode = {
  /** libsbdtls.so is not built here (`make -C native`). */
  missing: 'ERR_TLS_ENGINE_MISSING',
  /** The engine refused its config or could not listen. */
  start: 'ERR_TLS_ENGINE_START',
  /** The certificate, key, CA list, version or cipher list was refused by OpenSSL. */
  identity: 'ERR_TLS_ENGINE_IDENTITY',
  /** An engine option out of its range. */
  option: 'ERR_TLS_ENGINE_OPTION',
  /** A trunk's CA bundle the engine could not load (no certificate in it). */
  trust: 'ERR_TLS_ENGINE_TRUST',
  /** A dial while the engine is not running (no TLS listener on it, or closing). */
  notRunning: 'ERR_TLS_ENGINE_NOT_RUNNING',
  /** A frame on the engine's stream that the engine would not write (src/tls/stream-codec.ts). */
  control: 'ERR_TLS_ENGINE_CONTROL',
} as const;
export type TlsEngineErrorCode = (typeof TlsEngineErrorCode)[keyof typeof TlsEngineErrorCode];

export class TlsEngineError extends SbdError {
  declare readonly code: TlsEngineErrorCode;

  constructor(code: TlsEngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
