/**
 * A TVS client as a phone uses it (spec §3.1): TLS to the TVS server, check the server's certificate the way the
 * phone does (it must be a certificate the phone's ITL lists with the TVS role), send one VERIFY_REQUEST in one
 * write, read one VERIFY_RESPONSE. The phone simulator and `sbd tvs query` use this function.
 */
import { X509Certificate, randomInt } from 'node:crypto';
import tls from 'node:tls';
import { parseTrustFile } from '../trust/codec.js';
import { allRecordFields } from '../trust/fields.js';
import { Role } from '../trust/tags.js';
import { TvsError, TvsErrorCode } from './core/errors.js';
import { TvsFrameReader } from './core/frame-reader.js';
import { buildVerifyRequest, parseVerifyResponse, TvsStatus } from './core/verify.js';

export interface QueryTvsOptions {
  host: string;
  /** Default 2445. */
  port?: number;
  /** `CP-<model>-SEP<MAC>`. */
  deviceName: string;
  /** The certificate to ask about, DER. */
  certDer: Uint8Array;
  /**
   * Server certificates the client accepts (DER or PEM), e.g. the TVS records of the phone's ITL. The server's
   * certificate must be byte-identical to one of them (phones pin, they do not build chains).
   */
  trustedServerCerts?: ReadonlyArray<Uint8Array | string>;
  /** Or a callback deciding on the server's certificate (DER); return false or throw to refuse. */
  checkServerCert?: (der: Buffer) => boolean;
  /** Default: a random u32 (the client picks it, the server echoes it). */
  sessionId?: number;
  /** Whole exchange, connect to answer. Default 10000 ms (tvsc's default). */
  timeoutMs?: number;
  /** SNI to send; default none (phones connect by address). */
  servername?: string;
  /** Source address to connect from (a simulated phone's own address). Default: the system's choice. */
  localAddress?: string | undefined;
  /** Reuse a TLS session (bench: resumption), and receive the new one. */
  session?: Buffer;
  onSession?: (session: Buffer) => void;
}

export interface TvsAnswer {
  status: 'valid' | 'invalid';
  roles: number[];
  ttl: number;
  /** The server certificate presented (DER). */
  serverCert: Buffer;
}

export const QUERY_TVS_DEFAULTS = { port: 2445, timeoutMs: 10000 } as const;

function toDer(c: Uint8Array | string): Buffer {
  return typeof c === 'string' ? new X509Certificate(c).raw : Buffer.from(c);
}

/** The certificates an ITL or CTL lists with the TVS role (what a phone accepts as its TVS server). */
export function tvsCertificatesFromTrustList(bytes: Buffer): Buffer[] {
  return allRecordFields(parseTrustFile(bytes, { kind: 'tlv' }))
    .filter((r) => r.role === Role.TVS && r.certificate !== undefined && r.certificate.length > 0)
    .map((r) => Buffer.from(r.certificate!));
}

export function queryTvs(opts: QueryTvsOptions): Promise<TvsAnswer> {
  const trusted = opts.trustedServerCerts?.map(toDer);
  if (!trusted && !opts.checkServerCert) {
    return Promise.reject(
      new TvsError(
        TvsErrorCode.argument,
        'queryTvs needs trustedServerCerts or checkServerCert: a phone never talks to an unverified TVS',
        { remote: false },
      ),
    );
  }
  let request: Buffer;
  const sessionId = opts.sessionId ?? randomInt(0, 0x100000000);
  try {
    request = buildVerifyRequest({ sessionId, deviceName: opts.deviceName, certificate: opts.certDer });
  } catch (err) {
    return Promise.reject(err);
  }
  const timeoutMs = opts.timeoutMs ?? QUERY_TVS_DEFAULTS.timeoutMs;
  return new Promise<TvsAnswer>((resolve, reject) => {
    let settled = false;
    let serverCert = Buffer.alloc(0);
    const reader = new TvsFrameReader({ maxBodyBytes: 1024 });
    const socket = tls.connect({
      host: opts.host,
      port: opts.port ?? QUERY_TVS_DEFAULTS.port,
      rejectUnauthorized: false, // checked below against the pinned certificates, as a phone does
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.session ? { session: opts.session } : {}),
    });
    const finish = (err: Error | undefined, answer?: TvsAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(
      () => finish(new TvsError(TvsErrorCode.timeout, `no answer from TVS ${opts.host} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (opts.onSession) socket.on('session', opts.onSession);
    socket.on('secureConnect', () => {
      const peer = socket.getPeerCertificate(false);
      serverCert = peer && 'raw' in peer && peer.raw ? Buffer.from(peer.raw) : Buffer.alloc(0);
      let ok = false;
      try {
        // A resumed session (TLS 1.3 tickets carry no certificate) was pinned on the handshake that created it.
        ok =
          (opts.session !== undefined && socket.isSessionReused()) ||
          (serverCert.length > 0 && (trusted ? trusted.some((t) => t.equals(serverCert)) : opts.checkServerCert!(serverCert)));
      } catch (err) {
        return finish(
          new TvsError(TvsErrorCode.serverCertificate, `TVS server certificate refused: ${(err as Error).message}`, { cause: err }),
        );
      }
      if (!ok)
        return finish(
          new TvsError(TvsErrorCode.serverCertificate, 'the TVS server presented a certificate that is not a trusted TVS certificate'),
        );
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        const frames = reader.push(chunk);
        if (frames.length === 0) return;
        const res = parseVerifyResponse(frames[0]!);
        if (res.sessionId !== sessionId)
          throw new TvsError(TvsErrorCode.session, `response session id ${res.sessionId} is not ${sessionId}`);
        finish(
          undefined,
          res.status === TvsStatus.valid
            ? { status: 'valid', roles: res.roles, ttl: res.ttl, serverCert }
            : { status: 'invalid', roles: [], ttl: 0, serverCert },
        );
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.on('error', (err) => finish(new TvsError(TvsErrorCode.connection, `TVS ${opts.host}: ${err.message}`, { cause: err })));
    socket.on('close', () => finish(new TvsError(TvsErrorCode.connection, `TVS ${opts.host} closed the connection without an answer`)));
  });
}
