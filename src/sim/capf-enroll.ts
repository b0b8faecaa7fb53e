/**
 * CAPF enrollment of a simulated phone (spec §3.2), when its config's `<capfAuthMode>` is not 0 (`<capfList>`: where)
 *   - connects to each CAPF of the list in turn (a server it cannot reach is skipped), and accepts only a server
 *     certificate its installed CTL/ITL lists with the CAPF role;
 *   - proves itself as the mode says: 1 the authentication string typed on its keypad, 2 nothing (empty
 *     string), 3 its LSC (falling back to its MIC when it has none), 4 its MIC;
 *   - lets CAPF lead (src/capf/client.ts `enrollWithCapf`): install (it makes the key pair asked for and keeps
 *     key + LSC in its folder), fetch (hands over its LSC), delete (forgets its LSC).
 * The result is a decision in words, like every other thing the phone decides.
 */
import { X509Certificate } from 'node:crypto';
import { enrollWithCapf, type CapfClientAuthInput, type EnrollResult } from '../capf/client.js';
import { CapfError, CapfErrorCode } from '../capf/core/errors.js';
import { keySpecText } from '../capf/core/key-spec.js';
import { Role } from '../trust/tags.js';
import { decision, shortName, Verdict, type Decision } from './decisions.js';
import { CapfAuthModeCode, type EndpointRedirect, type PhoneConfigServices } from './phone-config.js';
import { reach, type HostResolver } from './name-resolution.js';
import { deleteLsc, readMic, storeEnrollment, type LoadedPhone } from './phone-folder.js';
import { phoneSourceAddress } from './phone-address.js';
import type { PhoneTrust } from './trust-rules.js';

export interface CapfPhoneOptions {
  /** The authentication string an installer types on the phone (capfAuthMode 1). */
  authString?: string;
  /** Where a configured CAPF really listens (tests: port 0). */
  redirect?: EndpointRedirect;
  /** How the phone resolves a CAPF named by host name. Default: the system's resolver (name-resolution.ts). */
  resolver?: HostResolver;
  /** One whole session. Default 120000 ms (the CAPF client's default). */
  timeoutMs?: number;
}

export interface CapfOutcome {
  decision: Decision;
  /** The phone now holds a new LSC (a real phone resets after this). */
  installed: boolean;
}

/** CAPF certificates of the phone's lists: the only CAPF servers it talks to. */
export function capfCertificates(trust: PhoneTrust): Buffer[] {
  return [trust.ctl, trust.itl].flatMap(
    (v) => v?.records.filter((r) => r.role === Role.CAPF && r.certificate && r.certificate.length > 0).map((r) => r.certificate!) ?? [],
  );
}

function authFor(
  mode: number,
  phone: LoadedPhone,
  mic: { certPem: string; keyPem: string } | undefined,
  options: CapfPhoneOptions,
): CapfClientAuthInput | string {
  switch (mode) {
    case CapfAuthModeCode.password:
      return options.authString
        ? { type: 'password', password: options.authString }
        : 'CAPF asks for an authentication string and none was typed on the phone';
    case CapfAuthModeCode.nullString:
      return { type: 'none' };
    case CapfAuthModeCode.lscOrMic:
      if (phone.keys.lscPem && phone.keys.privateKeyPem)
        return { type: 'lsc', certPem: phone.keys.lscPem, keyPem: phone.keys.privateKeyPem };
      return mic ? { type: 'mic', ...mic } : 'CAPF asks for the LSC or the MIC, and the phone has neither';
    case CapfAuthModeCode.mic:
      return mic ? { type: 'mic', ...mic } : 'CAPF asks for the MIC, and the phone has none';
    default:
      return `capfAuthMode ${mode} is not one the phone knows (1 to 4)`;
  }
}

function describe(result: EnrollResult, server: string, auth: CapfClientAuthInput): { text: string; installed: boolean } {
  const method =
    auth.type === 'password'
      ? 'the authentication string'
      : auth.type === 'none'
        ? 'the empty authentication string'
        : `its ${auth.type.toUpperCase()}`;
  switch (result.operation) {
    case 'install': {
      const cert = new X509Certificate(result.lscPem);
      return {
        text: `LSC installed by CAPF ${server}: serial ${cert.serialNumber.toLowerCase()}, issuer ${shortName(cert.issuer.replace(/\n/g, ';'))}, key ${keySpecText(result.keySpec)} made by the phone (authenticated with ${method})`,
        installed: true,
      };
    }
    case 'fetch':
      return {
        text: result.sent ? `CAPF ${server} fetched the phone's LSC` : `CAPF ${server} asked for the LSC; the phone has none`,
        installed: false,
      };
    case 'delete':
      return { text: `LSC deleted at the request of CAPF ${server}`, installed: false };
    case 'none':
      return { text: `CAPF ${server} has no operation for this phone (reason ${result.reason})`, installed: false };
  }
}

/** Runs the pending CAPF operation the config names, if any; undefined when the config asks for none. */
export async function runCapfOperation(
  stateDir: string,
  deviceName: string,
  phone: LoadedPhone,
  services: PhoneConfigServices,
  options: CapfPhoneOptions,
): Promise<CapfOutcome | undefined> {
  const mode = services.capfAuthMode;
  if (mode === undefined || mode === CapfAuthModeCode.none) return undefined;
  const fail = (verdict: typeof Verdict.failed | typeof Verdict.rejected, text: string): CapfOutcome => ({
    decision: decision('CAPF', 'capfList', verdict, text),
    installed: false,
  });
  if (services.capf.length === 0)
    return fail(Verdict.failed, 'CAPF enrollment not possible: the config asks for a CAPF operation but names no CAPF server');
  const pins = capfCertificates(phone.trust);
  if (pins.length === 0) return fail(Verdict.failed, 'CAPF enrollment not possible: the installed trust lists name no CAPF certificate');
  const auth = authFor(mode, phone, await readMic(stateDir, deviceName), options);
  if (typeof auth === 'string') return fail(Verdict.failed, `CAPF enrollment not possible: ${auth}`);
  const failures: string[] = [];
  for (const configured of services.capf) {
    const server = `${configured.host}:${configured.port}`;
    let target;
    try {
      target = await reach('capf', configured, options);
    } catch (err) {
      failures.push(`${server}: ${(err as Error).message}`);
      continue; // a name the phone cannot resolve: the next CAPF of the list
    }
    let result: EnrollResult;
    try {
      result = await enrollWithCapf({
        host: target.host,
        port: target.port,
        localAddress: phoneSourceAddress(deviceName, target.host),
        deviceName,
        auth,
        trustedServerCerts: pins,
        ...(phone.keys.lscPem ? { currentLscPem: phone.keys.lscPem } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
    } catch (err) {
      const unreachable = err instanceof CapfError && (err.code === CapfErrorCode.connection || err.code === CapfErrorCode.timeout);
      failures.push(`${server}: ${(err as Error).message}`);
      if (unreachable) continue; // the next CAPF of the list
      const refused =
        err instanceof CapfError && (err.code === CapfErrorCode.serverRefused || err.code === CapfErrorCode.serverCertificate);
      return fail(refused ? Verdict.rejected : Verdict.failed, `CAPF enrollment failed: ${failures.join('; ')}`);
    }
    if (result.operation === 'install') await storeEnrollment(stateDir, deviceName, result.privateKeyPem, result.lscPem);
    if (result.operation === 'delete') await deleteLsc(stateDir, deviceName);
    const { text, installed } = describe(result, server, auth);
    return { decision: decision('CAPF', 'capfList', result.operation === 'none' ? Verdict.unchanged : Verdict.accepted, text), installed };
  }
  return fail(Verdict.failed, `CAPF enrollment failed: no CAPF server could be reached (${failures.join('; ')})`);
}
