/**
 * The I/O shell around one simulated phone: loads its folder, runs the boot generator (boot.ts) against a file
 * fetcher (TFTP in practice) and a TVS hook, saves what changed, and then — when the config it accepted asks for
 * a CAPF operation and the caller lets the phone talk to CAPF — enrolls (capf-enroll.ts). Nothing here decides
 * anything about trust.
 */
import type { BootAnswer, BootResult, BootStep, FetchResult } from './boot.js';
import { bootPhone } from './boot.js';
import type { Decision } from './decisions.js';
import { DEFAULT_MODEL, modelHasSecurityByDefault, normaliseModel } from './models.js';
import { loadPhone, savePhone } from './phone-folder.js';
import { phoneConfigServices, phoneLineCredentials, type ServiceEndpoint } from './phone-config.js';
import { runCapfOperation, type CapfPhoneOptions } from './capf-enroll.js';
import { TrustListViewCache } from './trust-list-view.js';
import type { TvsAnswer } from './trust-rules.js';

/** Where the phone's files come from. `not-found` is TFTP error 1; any other failure is `error`. */
export interface FileFetcher {
  fetch(name: string): Promise<FetchResult>;
}

export interface TvsQueryContext {
  /** SEP<MAC>. */
  deviceName: string;
  model: string;
  /** TVS certificates of the phone's installed lists: a phone talks only to a TVS presenting one of them. */
  tvsCertificates: Buffer[];
  /** The `<TVS>` members of the config the phone holds, in the order it tries them. */
  tvsServers: ServiceEndpoint[];
}

/**
 * TVS as the phone's remote trust store (DESIGN §1): the roles TVS vouches for a certificate in (empty: not
 * vouched for), or undefined. Throwing means TVS could not be asked; the phone then rejects, saying why.
 * Default: no hook, and a phone rejects what it cannot verify itself. `tvs-hook.ts` makes one from the TVS client.
 */
export type VerifyUnknownSigner = (certDer: Buffer, context: TvsQueryContext) => Promise<{ roles: readonly number[] } | undefined>;

export interface SimPhoneOptions {
  stateDir: string;
  /** SEP + 12 hex digits. */
  deviceName: string;
  /** Default 8845. */
  model?: string;
  fetcher: FileFetcher;
  verifyUnknownSigner?: VerifyUnknownSigner;
  /** Shared parsed-list cache (a storm passes one for all its phones). */
  views?: TrustListViewCache;
  /** Let the phone run a CAPF operation its new config asks for. Default: the phone does not contact CAPF. */
  capf?: CapfPhoneOptions;
}

export interface PhoneBootReport {
  deviceName: string;
  model: string;
  decisions: Decision[];
  /** The phone ended with a config it accepted (signed and valid, decrypted, or unsigned where allowed). */
  configTrusted: boolean;
  configFile: string | undefined;
  itlSha256: string | undefined;
  ctlSha256: string | undefined;
  fetches: number;
  /** CAPF installed a new LSC during this boot (a real phone resets next). */
  lscInstalled: boolean;
  /** The line of the accepted config: its number, digest user, and whether the config delivered the password. */
  line: { number: string; authName: string; passwordDelivered: boolean } | undefined;
}

async function askTvs(tvs: VerifyUnknownSigner | undefined, certDer: Buffer, context: TvsQueryContext): Promise<TvsAnswer> {
  if (!tvs) return undefined;
  try {
    return (await tvs(certDer, context)) ?? { roles: [] };
  } catch (err) {
    return { roles: [], error: (err as Error).message };
  }
}

export async function driveBoot(
  gen: Generator<BootStep, BootResult, BootAnswer>,
  fetcher: FileFetcher,
  tvs: VerifyUnknownSigner | undefined,
  phone: { deviceName: string; model: string; tvsServers: ServiceEndpoint[] },
): Promise<{ result: BootResult; fetches: number }> {
  let fetches = 0;
  let step = gen.next();
  while (!step.done) {
    const s = step.value;
    let answer: BootAnswer;
    if (s.kind === 'fetch') {
      fetches++;
      answer = await fetcher.fetch(s.name);
    } else {
      answer = await askTvs(tvs, s.certDer, { ...phone, tvsCertificates: s.tvsCertificates });
    }
    step = gen.next(answer);
  }
  return { result: step.value, fetches };
}

export async function bootSimPhone(opts: SimPhoneOptions): Promise<PhoneBootReport> {
  const model = normaliseModel(opts.model ?? DEFAULT_MODEL);
  const views = opts.views ?? new TrustListViewCache();
  const loaded = await loadPhone(opts.stateDir, opts.deviceName, views);
  const gen = bootPhone({
    phone: { name: opts.deviceName, model, securityByDefault: modelHasSecurityByDefault(model) },
    trust: loaded.trust,
    keys: loaded.keys,
    views,
    tvsConfigured: opts.verifyUnknownSigner !== undefined,
  });
  const { result, fetches } = await driveBoot(gen, opts.fetcher, opts.verifyUnknownSigner, {
    deviceName: opts.deviceName,
    model,
    tvsServers: loaded.services.tvs,
  });
  await savePhone(opts.stateDir, opts.deviceName, loaded.trust, result);
  let lscInstalled = false;
  // The CAPF settings of the config just accepted, or of the verified stub of a config the phone cannot open.
  const capfSource = result.config?.xml ?? result.stub;
  if (opts.capf && capfSource) {
    const services = phoneConfigServices(capfSource);
    const outcome = await runCapfOperation(
      opts.stateDir,
      opts.deviceName,
      { ...loaded, trust: result.trust, services },
      services,
      opts.capf,
    );
    if (outcome) {
      result.decisions.push(outcome.decision);
      lscInstalled = outcome.installed;
      await savePhone(opts.stateDir, opts.deviceName, result.trust, result); // decisions.json with the CAPF line
    }
  }
  return {
    deviceName: opts.deviceName,
    model,
    decisions: result.decisions,
    configTrusted: result.config !== undefined,
    configFile: result.config?.file,
    itlSha256: result.trust.itl?.sha256Hex,
    ctlSha256: result.trust.ctl?.sha256Hex,
    fetches,
    lscInstalled,
    line: lineOf(result.config?.xml),
  };
}

function lineOf(xml: Buffer | undefined): PhoneBootReport['line'] {
  const c = xml ? phoneLineCredentials(xml) : undefined;
  return c ? { number: c.line, authName: c.authName, passwordDelivered: c.authPassword !== '' } : undefined;
}

/**
 * A phone's reset as the SIP user agent runs it (`SipPhoneOptions.refetch`): boot again against the same TFTP
 * server and TVS — new trust lists, new config — as after power-on. `onBoot` sees each boot's report; a boot that
 * ends without a trusted config is an error (the phone would not register).
 */
export function refetchOnReset(opts: SimPhoneOptions, onBoot?: (r: PhoneBootReport) => void): () => Promise<void> {
  return async () => {
    const report = await bootSimPhone(opts);
    onBoot?.(report);
    if (!report.configTrusted) throw new Error(`${opts.deviceName} found no trusted config after its reset`);
  };
}
