/**
 * Users with out-of-date credential algorithms: a password or PIN still held as an imported legacy hash (SHA-1,
 * SHA-2), or as scrypt with parameters weaker than the current policy. Each is re-hashed at the user's next
 * successful login; until then it is listed here.
 */
import { isOutdated, parseScryptRecord, SCRYPT_POLICY, CURRENT_ALGORITHM, type ScryptPolicy } from '../credentials/secret-hash.js';
import type { Store } from '../store/index.js';
import { NONE, type Report } from './table.js';

export interface OutdatedCredentialRow {
  userid: string;
  kind: string;
  credential: 'Password' | 'PIN';
  algorithm: string;
  params: string;
  lastLogin: string | null;
}

function paramsOf(algorithm: string, hash: string): string {
  if (algorithm !== CURRENT_ALGORITHM) return NONE;
  try {
    const r = parseScryptRecord(hash);
    return `ln=${r.log2N},r=${r.r},p=${r.p}`;
  } catch {
    return 'damaged';
  }
}

export function outdatedCredentialRows(store: Store, policy: ScryptPolicy = SCRYPT_POLICY): OutdatedCredentialRow[] {
  const rows: OutdatedCredentialRow[] = [];
  for (const u of store.listUsers()) {
    const base = { userid: u.userid, kind: u.kind, lastLogin: u.lastLogin };
    if (isOutdated({ algorithm: u.algorithm, hash: u.credentialHash }, policy)) {
      rows.push({ ...base, credential: 'Password', algorithm: u.algorithm, params: paramsOf(u.algorithm, u.credentialHash) });
    }
    if (u.pinHash && u.pinAlgorithm && isOutdated({ algorithm: u.pinAlgorithm, hash: u.pinHash }, policy)) {
      rows.push({ ...base, credential: 'PIN', algorithm: u.pinAlgorithm, params: paramsOf(u.pinAlgorithm, u.pinHash) });
    }
  }
  return rows;
}

export function outdatedCredentialsReport(store: Store, policy: ScryptPolicy = SCRYPT_POLICY): Report {
  const rows = outdatedCredentialRows(store, policy);
  return {
    title: `Users with out-of-date credential algorithms (${rows.length}; current: scrypt ln=${policy.log2N},r=${policy.r},p=${policy.p})`,
    columns: [
      { name: 'User ID' },
      { name: 'Kind' },
      { name: 'Credential' },
      { name: 'Algorithm' },
      { name: 'Parameters' },
      { name: 'Last Login' },
    ],
    rows: rows.map((r) => [r.userid, r.kind, r.credential, r.algorithm, r.params, r.lastLogin ?? NONE]),
  };
}
