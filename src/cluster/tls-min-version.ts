/**
 * Lowering the minimum TLS version (issue 18 item 9): the enterprise parameter TLSMinVersion lets SIP (5061), TVS
 * (2445) and CAPF (3804) accept TLS 1.0 or 1.1 with AES128-SHA, for 7900-series phones (spec cisco-trust-formats
 * §2.1, §3.1) and old gateways. It weakens every TLS listener for every peer, so the console says what is lost and
 * asks before storing a lower value; raising it again needs no question. The daemons take the new value for new
 * connections when they next see the store change (no restart).
 */
import { TLS_MIN_VERSIONS, tlsProtocolDefaults, type TlsMinVersion } from '../lib/tls-service.js';

export const TLS_MIN_VERSION_PARAM = 'TLSMinVersion';

function rank(v: string): number {
  return (TLS_MIN_VERSIONS as readonly string[]).indexOf(v.trim());
}

/** True when `next` is a valid version below `current` (an invalid value is left to the store to refuse). */
export function lowersTlsMinimum(current: string, next: string): boolean {
  const to = rank(next);
  return to >= 0 && to < rank(current);
}

/** What the owner must read before lowering the minimum to `version`. */
export function tlsMinVersionWarnings(version: TlsMinVersion | string): string[] {
  return [
    `TLS ${version.trim()} lets SIP (5061), TVS (2445) and CAPF (3804) accept every peer on TLS 1.0/1.1 with ${tlsProtocolDefaults.legacyCiphers}, not only the old phones that need it.`,
    `${tlsProtocolDefaults.legacyCiphers} has no forward secrecy (RSA key exchange: whoever later obtains the CallManager, TVS or CAPF key can read recorded sessions, SRTP keys in SIP included) and uses CBC with SHA-1 (BEAST and Lucky 13 class attacks).`,
    'OpenSSL runs at security level 0 for these listeners: SHA-1/MD5 handshake signatures and short client keys are accepted.',
    `Use it only for 7900-series phones or gateways that cannot speak TLS 1.2, and set ${TLS_MIN_VERSION_PARAM} back to ${tlsProtocolDefaults.minVersion} when they are gone. New connections use it within seconds; open ones keep theirs.`,
  ];
}

export function tlsMinVersionQuestion(version: string): string {
  return `Lower the minimum TLS version to ${version.trim()} for SIP, TVS and CAPF?`;
}
