/**
 * One phone boot as a sans-I/O generator: it yields what it needs (a file fetched, a TVS question) and is resumed
 * with the answer, so the same logic runs in memory in tests, over real TFTP for `sbd phone boot`, and by the
 * thousand in one process for `sbd phone storm`. Its theory of operation is on `bootPhone`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { decryptEncryptedConfig } from '../trust/enc-sgn.js';
import { privateKeyOpener } from '../pki/config-key.js';
import { decision, Verdict, type Decision } from './decisions.js';
import { tvsCertificates, type TrustListViewCache } from './trust-list-view.js';
import {
  assessList,
  assessListWithTvs,
  assessSignedConfig,
  assessUnsignedConfig,
  authenticatesConfigs,
  isEncryptedConfigStub,
  stubCertHash,
  type ListKind,
  type PhoneTrust,
  type TvsAnswer,
} from './trust-rules.js';

export type FetchResult = { kind: 'file'; bytes: Buffer } | { kind: 'not-found'; message: string } | { kind: 'error'; message: string };

export type BootStep =
  | { kind: 'fetch'; name: string }
  /** Ask TVS about `certDer`; `tvsCertificates` are the TVS records of the installed lists (the servers to trust). */
  | { kind: 'ask-tvs'; certDer: Buffer; file: string; tvsCertificates: Buffer[] };
export type BootAnswer = FetchResult | TvsAnswer;

export interface PhoneIdentity {
  /** SEP + 12 upper-case hex digits. */
  name: string;
  model: string;
  securityByDefault: boolean;
}

export interface PhoneKeys {
  /** The phone's private key (PEM), the one its LSC certifies; opens encrypted configs. */
  privateKeyPem: string | undefined;
  /** The phone's LSC (PEM), to compare with the stub's certHash. */
  lscPem: string | undefined;
}

export interface BootInput {
  phone: PhoneIdentity;
  trust: PhoneTrust;
  keys: PhoneKeys;
  views: TrustListViewCache;
  /** Whether a TVS hook exists (changes only the wording of a refusal). */
  tvsConfigured: boolean;
}

export interface BootedConfig {
  file: string;
  xml: Buffer;
  signed: boolean;
  encrypted: boolean;
}

export interface BootResult {
  decisions: Decision[];
  trust: PhoneTrust;
  /** The config the phone runs with, when one was accepted. */
  config: BootedConfig | undefined;
  /**
   * The verified encrypted-config stub, when there was one: it carries `<capfAuthMode>` and `<capfList>` so that
   * a phone that cannot open its encrypted config can still reach CAPF for a (new) key (spec §2.2).
   */
  stub: Buffer | undefined;
}

function* fetch(name: string): Generator<BootStep, FetchResult, BootAnswer> {
  return (yield { kind: 'fetch', name }) as FetchResult;
}

/** Fetches the first of `names` the server has; `undefined` name when every one was "not found". */
function* fetchFirst(names: readonly string[]): Generator<BootStep, { name: string; result: FetchResult }, BootAnswer> {
  let last: { name: string; result: FetchResult } = { name: names[names.length - 1]!, result: { kind: 'not-found', message: 'no names' } };
  for (const name of names) {
    last = { name, result: yield* fetch(name) };
    if (last.result.kind !== 'not-found') return last;
  }
  return last;
}

function* listStep(
  input: BootInput,
  trust: PhoneTrust,
  kind: ListKind,
  decisions: Decision[],
): Generator<BootStep, PhoneTrust, BootAnswer> {
  const { name, result } = yield* fetchFirst([`${kind}${input.phone.name}.tlv`, `${kind}File.tlv`]);
  const keep = trust[kind === 'CTL' ? 'ctl' : 'itl'] ? `; keeping the installed ${kind}` : '';
  if (result.kind === 'not-found') {
    decisions.push(
      decision(kind, name, Verdict.absent, `no ${kind} on the server${kind === 'CTL' ? ' (cluster not in mixed mode)' : ''}${keep}`),
    );
    return trust;
  }
  if (result.kind === 'error') {
    decisions.push(decision(kind, name, Verdict.failed, `could not fetch ${name}: ${result.message}${keep}`));
    return trust;
  }
  let view;
  try {
    view = input.views.view(result.bytes, kind); // one parse per distinct list, shared by every phone
  } catch (err) {
    decisions.push(
      decision(kind, name, Verdict.rejected, `rejected ${kind}: not a well-formed trust list (${(err as Error).message})${keep}`),
    );
    return trust;
  }
  let verdict = assessList(trust, kind, name, view);
  if (verdict.kind === 'ask-tvs') {
    const answer = (yield {
      kind: 'ask-tvs',
      certDer: verdict.certDer,
      file: name,
      tvsCertificates: tvsCertificates([trust.ctl, trust.itl]),
    }) as TvsAnswer;
    verdict = { kind: 'decided', ...assessListWithTvs(kind, name, view, answer, input.tvsConfigured) };
  }
  decisions.push(verdict.decision);
  if (!verdict.install) return trust;
  return kind === 'CTL' ? { ...trust, ctl: view } : { ...trust, itl: view };
}

function openEncrypted(input: BootInput, file: string, bytes: Buffer, stub: Buffer): { decision: Decision; xml?: Buffer } {
  const { privateKeyPem, lscPem } = input.keys;
  if (!privateKeyPem)
    return {
      decision: decision(
        'config',
        file,
        Verdict.rejected,
        'rejected encrypted config: this phone has no key of its own (no LSC installed)',
      ),
    };
  const wanted = stubCertHash(stub);
  const mine = lscPem ? createHash('md5').update(new X509Certificate(lscPem).raw).digest('hex') : undefined;
  const note = wanted && mine && wanted !== mine ? " (the stub names another certificate than this phone's LSC)" : '';
  try {
    const xml = decryptEncryptedConfig(bytes, privateKeyOpener(privateKeyPem));
    return {
      decision: decision('config', file, Verdict.accepted, `encrypted config decrypted with the phone's own key (${xml.length} bytes)`),
      xml,
    };
  } catch (err) {
    return { decision: decision('config', file, Verdict.rejected, `rejected encrypted config: ${(err as Error).message}${note}`) };
  }
}

function* configStep(
  input: BootInput,
  trust: PhoneTrust,
  decisions: Decision[],
  seen: { stub?: Buffer },
): Generator<BootStep, BootedConfig | undefined, BootAnswer> {
  const sep = input.phone.name;
  const signedFirst = input.phone.securityByDefault && authenticatesConfigs(trust);
  const names = signedFirst
    ? [`${sep}.cnf.xml.sgn`, 'XMLDefault.cnf.xml.sgn', 'XMLDefault.cnf.xml']
    : [`${sep}.cnf.xml`, `${sep}.cnf.xml.sgn`, 'XMLDefault.cnf.xml'];
  const { name, result } = yield* fetchFirst(names);
  if (result.kind !== 'file') {
    decisions.push(decision('config', name, result.kind === 'not-found' ? Verdict.absent : Verdict.failed, `no config: ${result.message}`));
    return undefined;
  }
  if (!name.endsWith('.sgn')) {
    const check = assessUnsignedConfig(trust, name, input.phone.securityByDefault);
    decisions.push(check.decision);
    return check.ok ? { file: name, xml: result.bytes, signed: false, encrypted: false } : undefined;
  }
  const check = assessSignedConfig(trust, name, result.bytes, 'sgn');
  decisions.push(check.decision);
  if (!check.ok || !check.body) return undefined;
  if (!isEncryptedConfigStub(check.body)) return { file: name, xml: check.body, signed: true, encrypted: false };
  seen.stub = check.body;
  const encName = `${sep}.cnf.xml.enc.sgn`;
  const enc = yield* fetch(encName);
  if (enc.kind !== 'file') {
    decisions.push(
      decision(
        'config',
        encName,
        enc.kind === 'not-found' ? Verdict.absent : Verdict.failed,
        `the stub says encrConfig but ${encName} could not be fetched: ${enc.message}`,
      ),
    );
    return undefined;
  }
  const encCheck = assessSignedConfig(trust, encName, enc.bytes, 'enc.sgn');
  decisions.push(encCheck.decision);
  if (!encCheck.ok) return undefined;
  const opened = openEncrypted(input, encName, enc.bytes, check.body);
  decisions.push(opened.decision);
  return opened.xml ? { file: encName, xml: opened.xml, signed: true, encrypted: true } : undefined;
}

/**
 * Theory of operation (the order a Security-by-Default phone asks in, spec §1.6)
 * -------------------------------------------------------------------------------
 *   1. CTLSEP<MAC>.tlv, else CTLFile.tlv        → assess (trust-rules), maybe ask TVS, install or keep
 *   2. ITLSEP<MAC>.tlv, else ITLFile.tlv        → the same (models with Security by Default only)
 *   3. config, when the lists authenticate configs (a TFTP record, spec §1.6 "the phone requests .sgn"):
 *        SEP<MAC>.cnf.xml.sgn → if it is the encrypted-config stub: SEP<MAC>.cnf.xml.enc.sgn, decrypted
 *        with the phone's own key; else XMLDefault.cnf.xml.sgn; else XMLDefault.cnf.xml (refused unsigned)
 *      otherwise (no list, rollback ITL, a model without Security by Default):
 *        SEP<MAC>.cnf.xml → SEP<MAC>.cnf.xml.sgn (unchecked) → XMLDefault.cnf.xml
 *   "file not found" moves to the next name; any other transfer failure ends that step (lists) or the boot
 *   (config). The result carries the new trust state; the shell persists it.
 */
export function* bootPhone(input: BootInput): Generator<BootStep, BootResult, BootAnswer> {
  const decisions: Decision[] = [];
  let trust = input.trust;
  trust = yield* listStep(input, trust, 'CTL', decisions);
  if (input.phone.securityByDefault) trust = yield* listStep(input, trust, 'ITL', decisions);
  const seen: { stub?: Buffer } = {};
  const config = yield* configStep(input, trust, decisions, seen);
  return { decisions, trust, config, stub: seen.stub };
}
