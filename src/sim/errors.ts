import { SbdError } from '../lib/errors.js';

/** Stable codes for what can go wrong in the phone simulator (its own folder, its arguments, its transport). */
export const SimErrorCode = {
  mac: 'ERR_SIM_MAC',
  model: 'ERR_SIM_MODEL',
  folder: 'ERR_SIM_FOLDER',
  server: 'ERR_SIM_SERVER',
  key: 'ERR_SIM_KEY',
  fetch: 'ERR_SIM_FETCH',
  /** A host name in the phone's config that it cannot resolve (no DNS server, or no answer). */
  resolve: 'ERR_SIM_RESOLVE',
} as const;
export type SimErrorCode = (typeof SimErrorCode)[keyof typeof SimErrorCode];

export class SimError extends SbdError {
  constructor(code: SimErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
