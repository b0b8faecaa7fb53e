/**
 * What TVS answers, from the store: every certificate the cluster trusts, with the roles the ITL/CTL would give
 * it (`rolesOfRow`), looked up by SHA-256 of the DER (as tvsd does, spec §3.1). Certificates kept as history after
 * a regeneration are included: a phone holding an ITL signed by the old key asks TVS about the new signer, and a
 * phone that got a file signed by a replaced key must still be told it was the cluster's (DESIGN §2).
 */
import { createHash } from 'node:crypto';
import type { CertRow, NodeRow } from '../store/index.js';
import type { TvsTrustView } from './trust-view.js';
import { Role } from '../trust/tags.js';
import { assertTtl, TvsStatus } from './core/verify.js';

export interface TrustAnswerOptions {
  /** Seconds a phone may cache a valid answer (TTL element). Default 86400 (tvsctl's default); 1..2592000. */
  ttlSeconds?: number;
  /** Roles of trusted imports, by store certificate name (case-insensitive). Default: see TRUST_ANSWER_DEFAULTS. */
  importRoles?: Readonly<Record<string, readonly number[]>>;
}

export const TRUST_ANSWER_DEFAULTS = {
  ttlSeconds: 86400,
  importRoles: {
    'phone-sast-trust': [Role.SAST],
    'tomcat-trust': [Role.APP_SERVER],
    'app-server-trust': [Role.APP_SERVER],
  } as Readonly<Record<string, readonly number[]>>,
} as const;

export type TrustAnswer =
  | { status: typeof TvsStatus.valid; roles: number[]; ttl: number; names: string[] }
  | { status: typeof TvsStatus.invalid };

export interface TrustEntry {
  roles: number[];
  /** The store names behind the answer (`CallManager@node (history)`), for the log line. */
  names: string[];
}

function hasService(node: NodeRow | undefined, ...services: string[]): boolean {
  return node !== undefined && services.some((s) => (node.services as string[]).includes(s));
}

/**
 * The roles one store row gives its certificate; empty when the cluster does not vouch for it.
 * Roles per certificate name (DESIGN §2, spec §1.4):
 *   CallManager  of a TFTP node: CCM+TFTP (the node also does call control) or TFTP, and SAST (it signs the ITL
 *                during `utils itl reset` and the CTL); of a call-control-only node: CCM
 *   ITLRecovery  SAST            TVS   TVS            CAPF   CAPF            tomcat  APP-SERVER
 *   trusted imports, by name (`importRoles`): phone-sast-trust → SAST; tomcat-trust, app-server-trust → APP-SERVER
 * Anything else (MIC-CA, CAPF-trust, unknown imports, unknown certificates) is not vouched for: STATUS invalid.
 */
export function rolesOfRow(
  row: CertRow,
  nodes: ReadonlyMap<string, NodeRow>,
  importRoles: Readonly<Record<string, readonly number[]>>,
): number[] {
  if (row.kind === 'trust') {
    const key = Object.keys(importRoles).find((k) => k.toLowerCase() === row.name.toLowerCase());
    return key ? [...importRoles[key]!] : [];
  }
  const node = row.node === null ? undefined : nodes.get(row.node);
  switch (row.name) {
    case 'CallManager':
      if (hasService(node, 'tftp')) return [hasService(node, 'callmanager', 'sip') ? Role.CCM_TFTP : Role.TFTP, Role.SAST];
      return [Role.CCM];
    case 'ITLRecovery':
      return [Role.SAST];
    case 'TVS':
      return [Role.TVS];
    case 'CAPF':
      return [Role.CAPF];
    case 'tomcat':
      return [Role.APP_SERVER];
    default:
      return [];
  }
}

/** SHA-256 (lower-case hex) → roles for every certificate the store vouches for, current and history. */
export function buildTrustMap(
  store: TvsTrustView,
  importRoles: Readonly<Record<string, readonly number[]>> = TRUST_ANSWER_DEFAULTS.importRoles,
): Map<string, TrustEntry> {
  return store.snapshot(() => {
    const nodes = new Map(store.listNodes().map((n) => [n.name, n]));
    const map = new Map<string, TrustEntry>();
    for (const row of store.listCertificates({ includeHistory: true })) {
      const roles = rolesOfRow(row, nodes, importRoles);
      if (roles.length === 0) continue;
      const entry = map.get(row.sha256Hex) ?? { roles: [], names: [] };
      for (const r of roles) if (!entry.roles.includes(r)) entry.roles.push(r);
      entry.names.push(`${row.name}${row.node ? `@${row.node}` : ''}${row.current ? '' : ' (history)'}`);
      map.set(row.sha256Hex, entry);
    }
    return map;
  });
}

/** Answers VERIFY_REQUESTs from the store; cheap per call (one generation read) until the store changes. */
export class TrustAnswerer {
  readonly ttlSeconds: number;
  readonly #store: TvsTrustView;
  readonly #importRoles: Readonly<Record<string, readonly number[]>>;
  #generation = -1;
  #map = new Map<string, TrustEntry>();

  constructor(store: TvsTrustView, options: TrustAnswerOptions = {}) {
    this.ttlSeconds = options.ttlSeconds ?? TRUST_ANSWER_DEFAULTS.ttlSeconds;
    assertTtl(this.ttlSeconds);
    this.#store = store;
    this.#importRoles = options.importRoles ?? TRUST_ANSWER_DEFAULTS.importRoles;
  }

  #fresh(): Map<string, TrustEntry> {
    const g = this.#store.generation();
    if (g !== this.#generation) {
      this.#map = buildTrustMap(this.#store, this.#importRoles);
      this.#generation = g;
    }
    return this.#map;
  }

  /** The answer for a certificate given as DER bytes (any bytes: what is not in the store is invalid). */
  answer(certificateDer: Uint8Array): TrustAnswer {
    return this.answerBySha256(createHash('sha256').update(certificateDer).digest('hex'));
  }

  answerBySha256(sha256Hex: string): TrustAnswer {
    const entry = this.#fresh().get(sha256Hex.toLowerCase());
    if (!entry) return { status: TvsStatus.invalid };
    return { status: TvsStatus.valid, roles: [...entry.roles], ttl: this.ttlSeconds, names: [...entry.names] };
  }
}
