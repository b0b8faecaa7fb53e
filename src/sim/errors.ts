import { SbdError } from '../lib/errors.js';

/** Stable codes for what can go wrong in the phone simulator (its folder, arguments, transport, TVS questions, SIP UA). */
export const SimErrorCode = {
  mac: 'ERR_SIM_MAC',
  model: 'ERR_SIM_MODEL',
  folder: 'ERR_SIM_FOLDER',
  server: 'ERR_SIM_SERVER',
  key: 'ERR_SIM_KEY',
  fetch: 'ERR_SIM_FETCH',
  /** A host name in the phone's config that it cannot resolve (no DNS server, or no answer). */
  resolve: 'ERR_SIM_RESOLVE',
  /** The installed trust lists name no TVS certificate to pin (tvs-hook.ts). */
  tvsNoCertificate: 'ERR_SIM_TVS_NO_CERT',
  /** The phone's config names no TVS server. */
  tvsNoServer: 'ERR_SIM_TVS_NO_SERVER',
  /** Every TVS server of the config failed (the message lists each one's failure). */
  tvsFailed: 'ERR_SIM_TVS_FAILED',
  // The SIP user agent (sip-ua/, SipUaError; SipUaErrorCode names these by their short names):
  /** The TLS/TCP connection to the SIP server failed or closed. */
  sipTransport: 'ERR_SIM_SIP_TRANSPORT',
  /** No final response in time (Timer B/F, or the UA's own wait). */
  sipTimeout: 'ERR_SIM_SIP_TIMEOUT',
  /** The server refused the request (final response ≥ 300 that credentials cannot fix). */
  sipRefused: 'ERR_SIM_SIP_REFUSED',
  /** A challenge we cannot answer (no credentials, unknown algorithm, the same challenge twice). */
  sipAuth: 'ERR_SIM_SIP_AUTH',
  /** The peer's SDP is not usable: no audio stream, no crypto line we offered, unparsable. */
  sipSdp: 'ERR_SIM_SIP_SDP',
  /** A call operation in the wrong state (hang up a call that is over, …). */
  sipState: 'ERR_SIM_SIP_STATE',
} as const;
export type SimErrorCode = (typeof SimErrorCode)[keyof typeof SimErrorCode];

export class SimError extends SbdError {
  declare readonly code: SimErrorCode;

  constructor(code: SimErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
