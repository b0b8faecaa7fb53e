/**
 * The trust rules of a Security-by-Default phone, sans-I/O (spec cisco-trust-formats §1.5, §1.7, §2.1; DESIGN §2):
 * which trust lists it installs (`assessList`) and which configs it accepts (`assessSignedConfig`).
 */
import { parseTrustFile } from '../trust/codec.js';
import { headerFields } from '../trust/fields.js';
import { roleName, Role } from '../trust/tags.js';
import { decision, shortName, Verdict, type Decision } from './decisions.js';
import { signerCertificate, verifiedBy, type TrustListView } from './trust-list-view.js';

/** What a phone holds between boots. */
export interface PhoneTrust {
  ctl: TrustListView | undefined;
  itl: TrustListView | undefined;
}

export type ListKind = 'CTL' | 'ITL';

/** Either a final verdict on a list, or the question the phone must first put to TVS. */
export type ListAssessment = { kind: 'decided'; decision: Decision; install: boolean } | { kind: 'ask-tvs'; certDer: Buffer };

/**
 * TVS's answer about a certificate: the roles it vouches for (empty: "invalid"), `error` when TVS could not be
 * asked (unreachable, its certificate not the one the phone's ITL lists), or undefined when there is no TVS hook.
 */
export type TvsAnswer = { roles: readonly number[]; error?: string } | undefined;

const headerName = { CTL: 'CTLFile.tlv', ITL: 'ITLFile.tlv' } as const;

function installed(trust: PhoneTrust, kind: ListKind): TrustListView | undefined {
  return kind === 'CTL' ? trust.ctl : trust.itl;
}

function signerText(view: TrustListView): string {
  return `${shortName(view.header.signerName)}, serial ${view.header.signerSerial.toString('hex')}`;
}

function rollbackNote(view: TrustListView): string {
  return view.rollback ? '; it is the empty (rollback) ITL: configs are no longer authenticated' : '';
}

/**
 * Trust lists (CTL, ITL). The header FILENAME must be CTLFile.tlv / ITLFile.tlv (also for the per-device
 * CTLSEP/ITLSEP copies, §1.6) and the file must verify with its own signer record. Then:
 *   no CTL and no ITL installed            → trusted on first use;
 *   the installed ITL is empty (rollback)  → any new list is taken (§1.7);
 *   a CTL is installed                     → the new list must be signed by one of its SASTs, else
 *   an ITL is installed                    → by one of its SASTs (the "same key" rule);
 *   otherwise                              → ask TVS about the signer's certificate (a hook; no TVS → reject).
 * A rejected list leaves the installed one in place.
 */
export function assessList(trust: PhoneTrust, kind: ListKind, file: string, view: TrustListView): ListAssessment {
  const done = (verdict: Verdict, text: string, install: boolean): ListAssessment => ({
    kind: 'decided',
    decision: decision(kind, file, verdict, text),
    install,
  });
  if (view.header.filename !== headerName[kind]) {
    return done(Verdict.rejected, `rejected ${kind}: header FILENAME "${view.header.filename}" is not ${headerName[kind]}`, false);
  }
  if (!view.selfSigned)
    return done(
      Verdict.rejected,
      `rejected ${kind}: signature invalid (it does not verify with its own signer record, ${signerText(view)})`,
      false,
    );
  const current = installed(trust, kind);
  if (current && current.sha256Hex === view.sha256Hex)
    return done(Verdict.unchanged, `${kind} unchanged (sha256 ${view.sha256Hex.slice(0, 16)}…)`, false);
  if (!trust.ctl && !trust.itl)
    return done(Verdict.trusted, `${kind} trusted (first use): signer ${signerText(view)}${rollbackNote(view)}`, true);
  if (trust.itl?.rollback)
    return done(
      Verdict.accepted,
      `${kind} accepted: the installed ITL is empty (rollback), so any new ${kind} is taken${rollbackNote(view)}`,
      true,
    );
  for (const [holder, list] of [
    ['CTL', trust.ctl],
    ['ITL', trust.itl],
  ] as const) {
    if (!list) continue;
    const by = verifiedBy(view.bytes, view.header, list.sast);
    if (by)
      return done(
        Verdict.accepted,
        `${kind} accepted: signed by known SAST ${signerText(view)} (in the installed ${holder})${rollbackNote(view)}`,
        true,
      );
  }
  const certDer = signerCertificate(view);
  if (!certDer)
    return done(
      Verdict.rejected,
      `rejected ${kind}: signer not trusted (${signerText(view)}; its certificate is not in the file, so TVS cannot be asked)`,
      false,
    );
  return { kind: 'ask-tvs', certDer };
}

export function assessListWithTvs(
  kind: ListKind,
  file: string,
  view: TrustListView,
  answer: TvsAnswer,
  tvsConfigured: boolean,
): { decision: Decision; install: boolean } {
  if (answer?.roles.includes(Role.SAST)) {
    const roles = answer.roles.map(roleName).join(', ');
    return {
      decision: decision(
        kind,
        file,
        Verdict.accepted,
        `${kind} accepted: signer ${signerText(view)} vouched for by TVS (roles ${roles})${rollbackNote(view)}`,
      ),
      install: true,
    };
  }
  const why =
    !tvsConfigured || !answer
      ? 'not a SAST the phone knows, and no TVS to ask'
      : answer.error
        ? `not a SAST the phone knows, and TVS could not be asked: ${answer.error}`
        : answer.roles.length
          ? `not a SAST the phone knows, and TVS vouches for it only as ${answer.roles.map(roleName).join(', ')}`
          : 'not a SAST the phone knows, and TVS does not vouch for it';
  return {
    decision: decision(kind, file, Verdict.rejected, `rejected ${kind}: signer not trusted (${signerText(view)}: ${why})`),
    install: false,
  };
}

/** Whether the phone's lists authenticate configs (and so it asks for .sgn files and refuses unsigned ones). */
export function authenticatesConfigs(trust: PhoneTrust): boolean {
  if (trust.itl?.rollback) return false;
  return (trust.ctl?.configSigners.length ?? 0) + (trust.itl?.configSigners.length ?? 0) > 0;
}

function whyUnauthenticated(trust: PhoneTrust): string {
  return trust.itl?.rollback
    ? 'the installed ITL is empty (rollback)'
    : trust.ctl || trust.itl
      ? 'the trust lists hold no TFTP record'
      : 'the phone has no trust list';
}

export interface SignedConfigCheck {
  decision: Decision;
  ok: boolean;
  body: Buffer | undefined;
}

/**
 * A .sgn or .enc.sgn config: parse, FILENAME, signature against the TFTP / CCM+TFTP records. Configs must be signed
 * by a TFTP or CCM+TFTP record of the installed CTL or ITL; FILENAME must be the requested name (§2.1). With no
 * such record (no list at all, or the rollback ITL) the phone takes unsigned configs and does not check signatures.
 */
export function assessSignedConfig(trust: PhoneTrust, file: string, bytes: Buffer, kind: 'sgn' | 'enc.sgn'): SignedConfigCheck {
  const reject = (text: string): SignedConfigCheck => ({
    decision: decision('config', file, Verdict.rejected, text),
    ok: false,
    body: undefined,
  });
  let parsed;
  let header;
  try {
    parsed = parseTrustFile(bytes, { kind });
    header = headerFields(parsed);
  } catch (err) {
    return reject(`rejected config: not a well-formed ${kind} file (${(err as Error).message})`);
  }
  if (header.filename !== file) return reject(`rejected config: header FILENAME "${header.filename}" is not the requested ${file}`);
  if (!authenticatesConfigs(trust)) {
    return {
      decision: decision('config', file, Verdict.accepted, `config accepted without signature check: ${whyUnauthenticated(trust)}`),
      ok: true,
      body: parsed.body,
    };
  }
  const candidates = [...(trust.ctl?.configSigners ?? []), ...(trust.itl?.configSigners ?? [])];
  const by = verifiedBy(bytes, header, candidates);
  if (!by) {
    return reject(
      `config signature invalid: ${file} is signed by ${shortName(header.signerName)} (serial ${header.signerSerial.toString('hex')}), which is not a TFTP or CCM+TFTP record of the installed trust lists`,
    );
  }
  return {
    decision: decision('config', file, Verdict.accepted, `config signature valid (signed by ${shortName(header.signerName)}, ${by.label})`),
    ok: true,
    body: parsed.body,
  };
}

/** An unsigned config is taken only when nothing authenticates configs (pre-SbD models, no list, rollback ITL). */
export function assessUnsignedConfig(trust: PhoneTrust, file: string, securityByDefault: boolean): { decision: Decision; ok: boolean } {
  if (!securityByDefault)
    return {
      decision: decision('config', file, Verdict.accepted, 'unsigned config accepted (this model has no Security by Default)'),
      ok: true,
    };
  if (!authenticatesConfigs(trust))
    return { decision: decision('config', file, Verdict.accepted, `unsigned config accepted: ${whyUnauthenticated(trust)}`), ok: true };
  return {
    decision: decision('config', file, Verdict.rejected, 'rejected config: unsigned, but the installed trust lists authenticate configs'),
    ok: false,
  };
}

/** The encrypted-config stub (spec §2.2): `<fullConfig>false</fullConfig>` and `<encrConfig>true</encrConfig>`. */
export function isEncryptedConfigStub(xml: Buffer): boolean {
  const text = xml.toString('utf8');
  return /<encrConfig>\s*true\s*<\/encrConfig>/.test(text) && !/<fullConfig>\s*true\s*<\/fullConfig>/.test(text);
}

/** The stub's `<certHash>` (MD5 hex of the phone's certificate DER), if any. */
export function stubCertHash(xml: Buffer): string | undefined {
  const m = /<certHash>\s*([0-9a-fA-F]{32})\s*<\/certHash>/.exec(xml.toString('utf8'));
  return m ? m[1]!.toLowerCase() : undefined;
}
