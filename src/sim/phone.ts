/**
 * The I/O shell around one simulated phone: loads its folder, runs the boot generator (boot.ts) against a file
 * fetcher (TFTP in practice) and a TVS hook, and saves what changed. Nothing here decides anything about trust.
 */
import type { BootAnswer, BootResult, BootStep, FetchResult } from './boot.js';
import { bootPhone } from './boot.js';
import { Verdict, type Decision } from './decisions.js';
import { DEFAULT_MODEL, modelHasSecurityByDefault, normaliseModel } from './models.js';
import { loadPhone, savePhone } from './phone-folder.js';
import { TrustListViewCache } from './trust-list-view.js';

/** Where the phone's files come from. `not-found` is TFTP error 1; any other failure is `error`. */
export interface FileFetcher {
  fetch(name: string): Promise<FetchResult>;
}

/**
 * TVS as the phone's remote trust store (DESIGN §1): the roles TVS vouches for a certificate in, or undefined.
 * The TVS client comes with its own issue; without a hook a phone rejects what it cannot verify itself.
 */
export type VerifyUnknownSigner = (certDer: Buffer) => Promise<{ roles: readonly number[] } | undefined>;

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
}

export async function driveBoot(gen: Generator<BootStep, BootResult, BootAnswer>, fetcher: FileFetcher, tvs: VerifyUnknownSigner | undefined): Promise<{ result: BootResult; fetches: number }> {
  let fetches = 0;
  let step = gen.next();
  while (!step.done) {
    const s = step.value;
    let answer: BootAnswer;
    if (s.kind === 'fetch') {
      fetches++;
      answer = await fetcher.fetch(s.name);
    } else {
      answer = tvs ? await tvs(s.certDer) : undefined;
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
  const { result, fetches } = await driveBoot(gen, opts.fetcher, opts.verifyUnknownSigner);
  await savePhone(opts.stateDir, opts.deviceName, loaded.trust, result);
  return {
    deviceName: opts.deviceName,
    model,
    decisions: result.decisions,
    configTrusted: result.config !== undefined,
    configFile: result.config?.file,
    itlSha256: result.trust.itl?.sha256Hex,
    ctlSha256: result.trust.ctl?.sha256Hex,
    fetches,
  };
}

export function rejectedAny(report: PhoneBootReport): boolean {
  return report.decisions.some((d) => d.verdict === Verdict.rejected);
}
