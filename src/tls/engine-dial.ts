/**
 * The trunk dial-out on the TLS engine (issue 20 item 3; native/tls-dial.c): what a dial takes, and the engine's
 * failure reports turned into the errors node:tls gives for the same failure, so a daemon logs the same line on
 * either path: `connect ECONNREFUSED 127.0.0.1:5061` (code, errno, syscall as net's), OpenSSL's verify text with
 * node:tls's code (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, …), a name that does not match as
 * `tls.checkServerIdentity` words it (ERR_TLS_CERT_ALTNAME_INVALID), the deadline as the transport words it.
 */
import { X509Certificate } from 'node:crypto';
import { constants } from 'node:os';
import tls from 'node:tls';
import type { DialErrorFacts, DialFailure } from './stream-codec.js';

export interface EngineDialOptions {
  /** An IP address or a host name (resolved as net.connect does; each address tried in turn while refused). */
  address: string;
  port: number;
  /** SNI and the name the certificate must carry. Default: the address when it is a name; an IP is checked as an IP, without SNI. */
  servername?: string;
  /** CA certificates (PEM) the peer's certificate must chain to (the trunk's bundle). */
  ca: string;
  /** TCP connect and TLS handshake together, in ms. Default 10000. */
  timeoutMs?: number;
  /** Gives the dial up (the caller closes); rejects with the signal's reason. */
  signal?: AbortSignal;
}

export const engineDialDefaults = { timeoutMs: 10_000 } as const;

/** A failed dial: node:tls's error for the same failure, and how it failed. */
export type EngineDialError = Error & { code?: string; what: DialFailure };

/** node:tls's codes for OpenSSL's verify results (X509_V_ERR_*, openssl/x509_vfy.h). */
const VERIFY_CODES: Record<number, string> = {
  2: 'UNABLE_TO_GET_ISSUER_CERT',
  3: 'UNABLE_TO_GET_CRL',
  4: 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  5: 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  6: 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  7: 'CERT_SIGNATURE_FAILURE',
  8: 'CRL_SIGNATURE_FAILURE',
  9: 'CERT_NOT_YET_VALID',
  10: 'CERT_HAS_EXPIRED',
  11: 'CRL_NOT_YET_VALID',
  12: 'CRL_HAS_EXPIRED',
  13: 'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  14: 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  15: 'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  16: 'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  17: 'OUT_OF_MEM',
  18: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  19: 'SELF_SIGNED_CERT_IN_CHAIN',
  20: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  21: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  22: 'CERT_CHAIN_TOO_LONG',
  23: 'CERT_REVOKED',
  24: 'INVALID_CA',
  25: 'PATH_LENGTH_EXCEEDED',
  26: 'INVALID_PURPOSE',
  27: 'CERT_UNTRUSTED',
  28: 'CERT_REJECTED',
  62: 'HOSTNAME_MISMATCH',
};
const HOSTNAME_MISMATCH = 62;
const IP_ADDRESS_MISMATCH = 64;

function errnoName(n: number): string {
  for (const [name, v] of Object.entries(constants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/** The error node:tls gives for the failure the engine reported. `name`: what the certificate had to carry. */
export function engineDialError(f: DialErrorFacts, o: { address: string; port: number; name: string; timeoutMs: number }): EngineDialError {
  const made = (message: string, extra: Record<string, unknown> = {}): EngineDialError =>
    Object.assign(new Error(message), { what: f.what, ...extra });
  if (f.what === 'connect' && f.code > 0) {
    const code = errnoName(f.code);
    return made(`connect ${code} ${f.address}:${f.port}`, { code, errno: -f.code, syscall: 'connect', address: f.address, port: f.port });
  }
  if (f.what === 'timeout') return made(`no connection to ${o.address}:${o.port} within ${o.timeoutMs} ms`);
  if (f.what === 'verify') {
    if ((f.code === HOSTNAME_MISMATCH || f.code === IP_ADDRESS_MISMATCH) && f.peerCertificate) {
      const legacy = new X509Certificate(f.peerCertificate).toLegacyObject();
      const e = tls.checkServerIdentity(o.name, legacy as tls.PeerCertificate);
      // OpenSSL's X509_check_host refused a name node:tls would take: said so, not hidden.
      if (e) return Object.assign(e, { what: f.what });
      return made(`Hostname/IP does not match certificate's altnames: ${o.name} (OpenSSL's check; node:tls's accepts it)`, {
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
    }
    return made(f.reason, { code: VERIFY_CODES[f.code] ?? `X509_V_ERR_${f.code}` });
  }
  // The peer's FIN or reset before the handshake finished: node:tls's words for it.
  if (/^(peer closed during the handshake|Connection reset|Broken pipe)|unexpected eof while reading/.test(f.reason))
    return made('Client network socket disconnected before secure TLS connection was established', { code: 'ECONNRESET' });
  // OpenSSL's "error:0A000102:SSL routines::unsupported protocol": node:tls's code is the reason's words
  const words = f.reason.split(':').at(-1)?.trim() ?? '';
  return made(f.reason, words && f.reason.startsWith('error:') ? { code: `ERR_SSL_${words.toUpperCase().replace(/[ -]/g, '_')}` } : {});
}
