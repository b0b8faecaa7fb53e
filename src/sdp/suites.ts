/**
 * SRTP crypto suites by their SDES names (RFC 4568 §6.2, RFC 6188 §7, RFC 7714 §14.2) with the lengths the
 * engine and the `a=crypto` codec need. `id` is the native helper's number for the suite (native/srtp.h).
 */
export const SUITES = {
  AES_CM_128_HMAC_SHA1_80: { id: 0, cipher: 'cm', keyLength: 16, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10 },
  AES_CM_128_HMAC_SHA1_32: { id: 1, cipher: 'cm', keyLength: 16, saltLength: 14, rtpTagLength: 4, rtcpTagLength: 10 },
  AEAD_AES_128_GCM: { id: 2, cipher: 'gcm', keyLength: 16, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16 },
  AEAD_AES_256_GCM: { id: 3, cipher: 'gcm', keyLength: 32, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16 },
  F8_128_HMAC_SHA1_80: { id: 4, cipher: 'f8', keyLength: 16, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10 },
  AES_192_CM_HMAC_SHA1_80: { id: 5, cipher: 'cm', keyLength: 24, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10 },
  AES_192_CM_HMAC_SHA1_32: { id: 6, cipher: 'cm', keyLength: 24, saltLength: 14, rtpTagLength: 4, rtcpTagLength: 10 },
  AES_256_CM_HMAC_SHA1_80: { id: 7, cipher: 'cm', keyLength: 32, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10 },
  AES_256_CM_HMAC_SHA1_32: { id: 8, cipher: 'cm', keyLength: 32, saltLength: 14, rtpTagLength: 4, rtcpTagLength: 10 },
} as const;

export type Suite = keyof typeof SUITES;
export type SuiteParams = (typeof SUITES)[Suite];

export const SUITE_NAMES = Object.keys(SUITES) as Suite[];

export function isSuite(name: string): name is Suite {
  return Object.hasOwn(SUITES, name);
}

/** Bytes a protected RTP packet grows by (tag, MKI). */
export function rtpOverhead(suite: Suite, mkiLength = 0): number {
  return SUITES[suite].rtpTagLength + mkiLength;
}

/** Bytes a protected RTCP packet grows by (E|index word, tag, MKI). */
export function rtcpOverhead(suite: Suite, mkiLength = 0): number {
  return 4 + SUITES[suite].rtcpTagLength + mkiLength;
}
