/**
 * A phone opening an HTTPS phone service (directory, services URL, extension mobility; DESIGN §1 "TVS … used for
 * HTTPS servers"). The phone does not build certificate chains: it connects with TLS, takes the server's
 * certificate, and trusts it when
 *   1. its installed CTL/ITL lists that very certificate with the APP-SERVER role (7), or else
 *   2. TVS — the `<TVS>` servers of its config, pinned to the TVS records of its lists — says it is valid with the
 *      APP-SERVER role (spec §3.1 "HTTPS application servers").
 * Only then does it send the request. With the rollback ITL the lists hold no TVS certificate, so the phone cannot
 * ask TVS and HTTPS services stop (spec §1.7; calls are not affected).
 */
import { createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { Role, roleName } from '../trust/tags.js';
import { decision, shortName, Verdict, type Decision } from './decisions.js';
import { SimError, SimErrorCode } from './errors.js';
import { DEFAULT_MODEL, normaliseModel } from './models.js';
import { loadPhone } from './phone-folder.js';
import type { VerifyUnknownSigner } from './phone.js';
import { tvsCertificates, TrustListViewCache } from './trust-list-view.js';
import type { PhoneTrust } from './trust-rules.js';

export interface PhoneServiceOptions {
  stateDir: string;
  deviceName: string;
  /** Default 8845. */
  model?: string;
  /** `https://HOST[:PORT]/PATH`. */
  url: string;
  /** TVS, as during a boot (tvs-hook.ts). No hook: only certificates of the lists are trusted. */
  verifyUnknownSigner?: VerifyUnknownSigner;
  views?: TrustListViewCache;
  /** Connect, verify and answer. Default 10000 ms. */
  timeoutMs?: number;
  /** Largest response body kept. Default 1 MiB. */
  maxBodyBytes?: number;
}

export const PHONE_SERVICE_DEFAULTS = { timeoutMs: 10000, maxBodyBytes: 1024 * 1024 } as const;

export interface PhoneServiceResult {
  decision: Decision;
  /** The HTTP status, when the phone trusted the server and sent the request. */
  status: number | undefined;
  body: Buffer | undefined;
  serverCertificate: Buffer | undefined;
}

type CertCheck = { trusted: true; how: string } | { trusted: false; why: string };

function subjectOf(der: Buffer): string {
  try {
    return shortName(new X509Certificate(der).subject.replace(/\n/g, ';'));
  } catch {
    return `sha256 ${createHash('sha256').update(der).digest('hex').slice(0, 16)}…`;
  }
}

/** Rule 1: the certificate itself is an APP-SERVER record of the installed lists. */
export function appServerInLists(trust: PhoneTrust, der: Buffer): string | undefined {
  for (const [name, list] of [
    ['CTL', trust.ctl],
    ['ITL', trust.itl],
  ] as const) {
    if (list?.records.some((r) => r.role === Role.APP_SERVER && r.certificate?.equals(der))) return name;
  }
  return undefined;
}

async function checkCertificate(
  der: Buffer,
  trust: PhoneTrust,
  ask: () => Promise<{ roles: readonly number[] } | undefined> | undefined,
): Promise<CertCheck> {
  const list = appServerInLists(trust, der);
  if (list) return { trusted: true, how: `in the installed ${list} with role APP-SERVER` };
  const pending = ask();
  if (!pending) return { trusted: false, why: 'not in the installed trust lists, and no TVS to ask' };
  let answer;
  try {
    answer = (await pending) ?? { roles: [] };
  } catch (err) {
    return { trusted: false, why: `not in the installed trust lists, and TVS could not be asked: ${(err as Error).message}` };
  }
  if (answer.roles.includes(Role.APP_SERVER))
    return { trusted: true, how: `vouched for by TVS (roles ${answer.roles.map(roleName).join(', ')})` };
  return {
    trusted: false,
    why: answer.roles.length
      ? `not in the installed trust lists, and TVS vouches for it only as ${answer.roles.map(roleName).join(', ')}`
      : 'not in the installed trust lists, and TVS does not vouch for it',
  };
}

function parseServiceUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SimError(SimErrorCode.server, `"${text}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new SimError(SimErrorCode.server, `"${text}" is not an https:// URL`);
  return url;
}

export async function openPhoneService(o: PhoneServiceOptions): Promise<PhoneServiceResult> {
  const url = parseServiceUrl(o.url);
  const model = normaliseModel(o.model ?? DEFAULT_MODEL);
  const phone = await loadPhone(o.stateDir, o.deviceName, o.views ?? new TrustListViewCache());
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 443;
  const timeoutMs = o.timeoutMs ?? PHONE_SERVICE_DEFAULTS.timeoutMs;
  const maxBody = o.maxBodyBytes ?? PHONE_SERVICE_DEFAULTS.maxBodyBytes;
  const done = (
    verdict: (typeof Verdict)[keyof typeof Verdict],
    text: string,
    extra: Partial<PhoneServiceResult> = {},
  ): PhoneServiceResult => ({
    decision: decision('HTTPS', o.url, verdict, text),
    status: undefined,
    body: undefined,
    serverCertificate: undefined,
    ...extra,
  });

  return new Promise<PhoneServiceResult>((resolve) => {
    let settled = false;
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const finish = (r: PhoneServiceResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(done(Verdict.failed, `HTTPS service did not answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => finish(done(Verdict.failed, `could not open the HTTPS service: ${err.message}`)));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(false);
      const der = peer && 'raw' in peer && peer.raw ? Buffer.from(peer.raw) : undefined;
      if (!der) return finish(done(Verdict.rejected, 'rejected HTTPS server: it presented no certificate'));
      const ask = o.verifyUnknownSigner
        ? () =>
            o.verifyUnknownSigner!(der, {
              deviceName: o.deviceName,
              model,
              tvsCertificates: tvsCertificates([phone.trust.ctl, phone.trust.itl]),
              tvsServers: phone.services.tvs,
            })
        : () => undefined;
      void checkCertificate(der, phone.trust, ask).then((check) => {
        if (settled) return;
        if (!check.trusted)
          return finish(
            done(Verdict.rejected, `rejected HTTPS server: certificate ${subjectOf(der)} is ${check.why}`, { serverCertificate: der }),
          );
        // The request goes over the very connection whose certificate was checked.
        const req = http.request(
          {
            host,
            port,
            path: `${url.pathname}${url.search}`,
            method: 'GET',
            createConnection: () => socket,
            headers: { host: url.host, 'user-agent': `Cisco-CP${model}` },
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > maxBody)
                return finish(done(Verdict.failed, `HTTPS service answered more than ${maxBody} bytes`, { serverCertificate: der }));
              chunks.push(c);
            });
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              finish(
                done(
                  Verdict.accepted,
                  `HTTPS server certificate ${subjectOf(der)} ${check.how}; GET ${url.pathname} → ${res.statusCode} (${body.length} bytes)`,
                  { status: res.statusCode, body, serverCertificate: der },
                ),
              );
            });
            res.on('error', (err) => finish(done(Verdict.failed, `HTTPS response broke off: ${err.message}`, { serverCertificate: der })));
          },
        );
        req.on('error', (err) => finish(done(Verdict.failed, `HTTPS request failed: ${err.message}`, { serverCertificate: der })));
        req.end();
      });
    });
  });
}
