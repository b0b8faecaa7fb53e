/** The SRTP/SRTCP engine: contexts, batches, suites, errors. */
export {
  SrtpContext,
  BACKENDS,
  DEFAULT_MAX_SSRCS,
  DEFAULT_REPLAY_WINDOW,
  type Backend,
  type EvpGcm,
  type SrtpPolicy,
  type SrtpStats,
} from './context.js';
export { PacketBatch, type PacketBatchOptions } from './batch.js';
export { SUITES, SUITE_NAMES, isSuite, rtcpOverhead, rtpOverhead, type Suite, type SuiteParams } from '../../sdp/suites.js';
export { SrtpError, SRTP_ERROR_CODES, srtpCodeOf, srtpErrorFromNative } from './errors.js';
export { deriveSessionKey, KDF_LABELS } from './kdf.js';
export { PacketBuffer } from './packet-buffer.js';
export { checkBackend, type BackendCheckResult } from './backend-check.js';
