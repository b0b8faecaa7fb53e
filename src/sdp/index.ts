/** SDES (RFC 4568) for SRTP: `a=crypto` codec and the negotiation the SIP daemon and media sources use. */
export {
  SdesError,
  SdesErrorCode,
  formatCryptoAttribute,
  generateCryptoAttribute,
  mkiBytes,
  parseCryptoAttribute,
  type CryptoAttribute,
  type CryptoParseOptions,
  type SdesKey,
} from './crypto-attribute.js';
export {
  CALL_PRIORITY,
  MEDIA_STREAMING_PRIORITY,
  acceptCryptoAnswer,
  createCryptoOffer,
  negotiateCrypto,
  unusableReason,
  type NegotiateOptions,
  type NegotiationPurpose,
  type NegotiationResult,
} from './negotiate.js';
