/**
 * Does each TVS and CAPF server the phone's config names present the certificate its trust lists hold for that
 * role? A phone checks this on every connection (spec §3.1: the TVS certificate must match an ITL record with role
 * TVS; §3.2: the CAPF certificate one with role CAPF). This helper makes the check on its own, without a request,
 * so an administrator (or a test) sees in words which servers a phone would talk to.
 */
import { createHash, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { Role, roleName } from '../trust/tags.js';
import { decision, shortName, Verdict, type Decision } from './decisions.js';
import type { EndpointRedirect, ServiceEndpoint } from './phone-config.js';
import { loadPhone } from './phone-folder.js';
import { reach, type HostResolver } from './name-resolution.js';
import { TrustListViewCache } from './trust-list-view.js';
import type { PhoneTrust } from './trust-rules.js';

export interface ServiceCheckOptions {
  stateDir: string;
  deviceName: string;
  redirect?: EndpointRedirect;
  /** How the phone resolves a server named by host name. Default: the system's resolver (name-resolution.ts). */
  resolver?: HostResolver;
  /** Per server. Default 10000 ms. */
  timeoutMs?: number;
  views?: TrustListViewCache;
}

/** The server's certificate (DER) after a TLS handshake that checks nothing (the caller compares). */
export function presentedCertificate(endpoint: ServiceEndpoint, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate(false);
      socket.destroy();
      if (peer && 'raw' in peer && peer.raw) resolve(Buffer.from(peer.raw));
      else reject(new Error('the server presented no certificate'));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

function recordsOf(trust: PhoneTrust, role: number): Array<{ list: string; der: Buffer }> {
  return [
    ['CTL', trust.ctl],
    ['ITL', trust.itl],
  ].flatMap(([list, view]) =>
    typeof view === 'object' && view
      ? view.records
          .filter((r) => r.role === role && r.certificate && r.certificate.length > 0)
          .map((r) => ({ list: list as string, der: r.certificate! }))
      : [],
  );
}

function describe(der: Buffer): string {
  try {
    const c = new X509Certificate(der);
    return `${shortName(c.subject.replace(/\n/g, ';'))} (serial ${c.serialNumber.toLowerCase()})`;
  } catch {
    return `a certificate with sha256 ${createHash('sha256').update(der).digest('hex').slice(0, 16)}…`;
  }
}

async function checkOne(
  subject: 'TVS' | 'CAPF',
  configured: ServiceEndpoint,
  trust: PhoneTrust,
  o: ServiceCheckOptions,
): Promise<Decision> {
  const where = `${configured.host}:${configured.port}`;
  let der: Buffer;
  try {
    const target = await reach(subject === 'TVS' ? 'tvs' : 'capf', configured, o);
    der = await presentedCertificate(target, o.timeoutMs ?? 10000);
  } catch (err) {
    return decision(subject, where, Verdict.failed, `${subject} ${where} could not be reached: ${(err as Error).message}`);
  }
  const role = subject === 'TVS' ? Role.TVS : Role.CAPF;
  const hit = recordsOf(trust, role).find((r) => r.der.equals(der));
  if (hit)
    return decision(
      subject,
      where,
      Verdict.accepted,
      `${subject} ${where} presents ${describe(der)}: the ${roleName(role)} record of the installed ${hit.list}`,
    );
  return decision(
    subject,
    where,
    Verdict.rejected,
    `${subject} ${where} presents ${describe(der)}, which is not a ${roleName(role)} record of the installed trust lists: the phone would not talk to it`,
  );
}

/** One decision per TVS member and per CAPF of the phone's config, in config order. */
export async function checkTrustServices(o: ServiceCheckOptions): Promise<Decision[]> {
  const phone = await loadPhone(o.stateDir, o.deviceName, o.views ?? new TrustListViewCache());
  const out: Decision[] = [];
  for (const ep of phone.services.tvs) out.push(await checkOne('TVS', ep, phone.trust, o));
  for (const ep of phone.services.capf) out.push(await checkOne('CAPF', ep, phone.trust, o));
  return out;
}
