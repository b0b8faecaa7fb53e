/**
 * A CAPF client as a phone uses it (spec §3.2): TLS to CAPF, check the server certificate the way the phone does
 * (a certificate its ITL lists with the CAPF role), then let the server lead: authenticate, and install (make the
 * key pair asked for, receive the LSC), hand over the current LSC (fetch), or forget it (delete). The phone
 * simulator and `sbd capf enroll` use this function; it keeps no files itself.
 */
import crypto, { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { parseTrustFile } from '../trust/codec.js';
import { allRecordFields } from '../trust/fields.js';
import { Role } from '../trust/tags.js';
import { CapfClientSession, type CapfClientAuth, type CapfClientEvent } from './core/client-session.js';
import { CapfError, CapfErrorCode, localError } from './core/errors.js';
import { CapfCertificateType, CapfReason } from './core/frame.js';
import { keySpecText, type CapfKeySpec } from './core/key-spec.js';
import { signAuthData } from './core/signed-data.js';

export type CapfClientAuthInput =
  | { type: 'none' }
  | { type: 'password'; password: string }
  /** LSC or MIC authentication: the phone's certificate and its private key (PEM). */
  | { type: 'lsc' | 'mic'; certPem: string; keyPem: string };

export interface EnrollOptions {
  host: string;
  /** Default 3804. */
  port?: number;
  /** Source address to connect from (a simulated phone's own address). Default: the system's choice. */
  localAddress?: string | undefined;
  deviceName: string;
  auth: CapfClientAuthInput;
  /** Server certificates to accept (DER or PEM), e.g. the CAPF records of the phone's ITL; byte-identical match. */
  trustedServerCerts?: ReadonlyArray<Uint8Array | string>;
  checkServerCert?: (der: Buffer) => boolean;
  /** The LSC the phone holds, PEM: what a fetch hands over. */
  currentLscPem?: string;
  /** Whole session. Default 120000 ms (RSA 4096 key generation takes seconds). */
  timeoutMs?: number;
  /** Key maker; default node:crypto generateKeyPair (async, off the event loop). */
  generateKey?: (spec: CapfKeySpec) => Promise<{ privateKeyPem: string; spkiDer: Buffer }>;
}

export type EnrollResult =
  | { operation: 'install'; lscPem: string; privateKeyPem: string; keySpec: CapfKeySpec; sessionId: number }
  | { operation: 'fetch'; sent: boolean; sessionId: number }
  | { operation: 'delete'; sessionId: number }
  | { operation: 'none'; reason: number; sessionId: number };

export const ENROLL_DEFAULTS = { port: 3804, timeoutMs: 120000 } as const;

const generateKeyPairAsync = promisify(crypto.generateKeyPair);

export async function defaultGenerateKey(spec: CapfKeySpec): Promise<{ privateKeyPem: string; spkiDer: Buffer }> {
  const { privateKey, publicKey } =
    spec.type === 'rsa'
      ? await generateKeyPairAsync('rsa', { modulusLength: spec.bits, publicExponent: 0x10001 })
      : await generateKeyPairAsync('ec', { namedCurve: spec.curve });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** The certificates an ITL or CTL lists with the CAPF role. */
export function capfCertificatesFromTrustList(bytes: Buffer): Buffer[] {
  return allRecordFields(parseTrustFile(bytes, { kind: 'tlv' }))
    .filter((r) => r.role === Role.CAPF && r.certificate !== undefined && r.certificate.length > 0)
    .map((r) => Buffer.from(r.certificate!));
}

/** AUTH_RESPONSE contents for an auth input (signatures made here, before connecting: they do not use the session). */
export function clientAuth(deviceName: string, auth: CapfClientAuthInput): CapfClientAuth {
  if (auth.type === 'none') return { deviceName };
  if (auth.type === 'password') return { deviceName, password: auth.password };
  const cert = new X509Certificate(auth.certPem);
  const key = crypto.createPrivateKey(auth.keyPem);
  const signed = signAuthData(key, deviceName, cert.raw);
  return {
    deviceName,
    certificate: { type: auth.type === 'mic' ? CapfCertificateType.mic : CapfCertificateType.lsc, der: cert.raw },
    signedData: signed.signedData,
    sha2SignedData: signed.sha2SignedData,
  };
}

const reasonText: Record<number, string> = { 0: 'no action', 1: 'success', 7: 'invalid element (refused)', 9: 'unknown device' };

export function enrollWithCapf(opts: EnrollOptions): Promise<EnrollResult> {
  const trusted = opts.trustedServerCerts?.map((c) => (typeof c === 'string' ? new X509Certificate(c).raw : Buffer.from(c)));
  if (!trusted && !opts.checkServerCert)
    return Promise.reject(localError(CapfErrorCode.argument, 'enrollWithCapf needs trustedServerCerts or checkServerCert'));
  let session: CapfClientSession;
  try {
    session = new CapfClientSession({ auth: clientAuth(opts.deviceName, opts.auth) });
  } catch (err) {
    return Promise.reject(err);
  }
  const generateKey = opts.generateKey ?? defaultGenerateKey;
  const timeoutMs = opts.timeoutMs ?? ENROLL_DEFAULTS.timeoutMs;
  return new Promise<EnrollResult>((resolve, reject) => {
    let settled = false;
    let operation: 'install' | 'fetch' | 'delete' | undefined;
    let key: { privateKeyPem: string; spkiDer: Buffer; spec: CapfKeySpec } | undefined;
    let lscPem: string | undefined;
    let sent = false;
    const socket = tls.connect({
      host: opts.host,
      port: opts.port ?? ENROLL_DEFAULTS.port,
      rejectUnauthorized: false,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const finish = (err: Error | undefined, result?: EnrollResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(
      () => finish(new CapfError(CapfErrorCode.timeout, `CAPF session with ${opts.host} did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const handle = (events: CapfClientEvent[]): void => {
      for (const e of events) {
        if (settled) return;
        switch (e.type) {
          case 'send':
            socket.write(e.bytes);
            break;
          case 'authRequest':
            break;
          case 'keyGenerate':
            operation = 'install';
            generateKey(e.keySpec).then(
              (k) => {
                key = { ...k, spec: e.keySpec };
                handle(session.keyGenerated(k.spkiDer));
              },
              (err: Error) =>
                finish(
                  new CapfError(CapfErrorCode.keySpec, `cannot make a ${keySpecText(e.keySpec)} key: ${err.message}`, {
                    remote: false,
                    cause: err,
                  }),
                ),
            );
            break;
          case 'storeCertificate': {
            let ok = false;
            try {
              const cert = new X509Certificate(e.der);
              // The LSC must carry the key this phone just made.
              ok = key !== undefined && cert.publicKey.export({ type: 'spki', format: 'der' }).equals(key.spkiDer);
              if (ok) lscPem = cert.toString();
            } catch {
              ok = false;
            }
            handle(session.certificateStored(ok));
            if (!ok)
              finish(
                new CapfError(CapfErrorCode.element, 'the certificate CAPF sent is not an X.509 certificate for the key this phone made'),
              );
            break;
          }
          case 'fetchCertificate':
            operation = 'fetch';
            sent = opts.currentLscPem !== undefined;
            handle(session.fetchResponse(opts.currentLscPem ? new X509Certificate(opts.currentLscPem).raw : undefined));
            break;
          case 'deleteCertificate':
            operation = 'delete';
            handle(session.deleted(true));
            break;
          case 'protocolError':
            finish(e.error);
            break;
          case 'end': {
            const sessionId = session.sessionId!;
            if (operation === 'install') {
              if (lscPem && key && e.reason === CapfReason.updateCertificate)
                finish(undefined, { operation, lscPem, privateKeyPem: key.privateKeyPem, keySpec: key.spec, sessionId });
              else
                finish(
                  new CapfError(
                    CapfErrorCode.serverRefused,
                    `CAPF ended the install with reason ${e.reason} (${reasonText[e.reason] ?? 'unknown'})`,
                  ),
                );
            } else if (operation === 'fetch') finish(undefined, { operation, sent, sessionId });
            else if (operation === 'delete') finish(undefined, { operation, sessionId });
            else if (e.reason === CapfReason.noAction || e.reason === CapfReason.updateCertificate)
              finish(undefined, { operation: 'none', reason: e.reason, sessionId });
            else
              finish(
                new CapfError(
                  CapfErrorCode.serverRefused,
                  `CAPF ended the session with reason ${e.reason} (${reasonText[e.reason] ?? 'unknown'})`,
                  { reason: e.reason },
                ),
              );
            break;
          }
        }
      }
    };
    socket.on('secureConnect', () => {
      const peer = socket.getPeerCertificate(false);
      const der = peer && 'raw' in peer && peer.raw ? Buffer.from(peer.raw) : Buffer.alloc(0);
      let ok = false;
      try {
        ok = der.length > 0 && (trusted ? trusted.some((t) => t.equals(der)) : opts.checkServerCert!(der));
      } catch {
        ok = false;
      }
      if (!ok)
        finish(
          new CapfError(CapfErrorCode.serverCertificate, 'the CAPF server presented a certificate that is not a trusted CAPF certificate'),
        );
    });
    socket.on('data', (chunk: Buffer) => handle(session.receive(chunk)));
    socket.on('error', (err) => finish(new CapfError(CapfErrorCode.connection, `CAPF ${opts.host}: ${err.message}`, { cause: err })));
    socket.on('close', () => handle(session.closed()));
  });
}
