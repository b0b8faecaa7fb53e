import { SbdError } from '../lib/errors.js';

/** Stable codes for what can stop a phone configuration file from being built. */
export const ConfigErrorCode = {
  /** The node has no CallManager certificate (and key) to sign the .cnf.xml.sgn files with. */
  noSigner: 'ERR_CONFIG_NO_SIGNER',
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

export class ConfigError extends SbdError {
  declare readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
