/**
 * The pending CAPF operation's key and the result of each attempt, kept in the device's `capfStatus` text (the
 * store has no column for the key to ask for; CUCM shows the same facts as "Certificate Operation Status").
 *
 *   Operation Pending: install rsa-2048                     set by `sbd capf install … --key rsa-2048`
 *   Operation Pending: install ec-P-256; last attempt <ISO>: Authentication Failed (1 of 5): <why>
 *   Upgrade Success <ISO>: LSC serial <hex>                  after the phone stored its new LSC
 *   Fetch Success <ISO> / Delete Success <ISO>
 *   Operation Cancelled: install rsa-2048; last attempt <ISO>: Authentication Failed (5 of 5): <why>
 */
import type { CapfOperation } from '../store/index.js';
import { keySpecText, parseKeySpecText, type CapfKeySpec } from './core/key-spec.js';

const PENDING = 'Operation Pending: ';

export function pendingStatus(operation: Exclude<CapfOperation, 'none'>, keySpec?: CapfKeySpec): string {
  return `${PENDING}${operation}${operation === 'install' && keySpec ? ` ${keySpecText(keySpec)}` : ''}`;
}

/** The pending part of a status ('Operation Pending: install rsa-2048'), or undefined. */
export function pendingPart(status: string | null): string | undefined {
  if (!status?.startsWith(PENDING)) return undefined;
  return status.split(';')[0]!.trim();
}

/** The key spec a pending install asks for, when the status names one. */
export function pendingKeySpec(status: string | null): CapfKeySpec | undefined {
  const words = pendingPart(status)?.slice(PENDING.length).split(/\s+/) ?? [];
  return words[0] === 'install' && words[1] ? parseKeySpecText(words[1]) : undefined;
}

/** The store's bound on a CAPF status (DEVICE_LIMITS.maxCapfStatusChars; test/capf/operations.test.ts keeps them equal). */
export const MAX_CAPF_STATUS_CHARS = 256;

function fit(text: string): string {
  return text.length <= MAX_CAPF_STATUS_CHARS ? text : `${text.slice(0, MAX_CAPF_STATUS_CHARS - 1)}…`;
}

/** A failed attempt: the pending operation (and its key) stays, the reason is appended. */
export function failedAttemptStatus(current: string | null, operation: CapfOperation, at: Date, why: string): string {
  const pending = pendingPart(current) ?? (operation === 'none' ? 'No operation pending' : `${PENDING}${operation}`);
  return fit(`${pending}; last attempt ${at.toISOString()}: ${why}`);
}

export function successStatus(kind: 'Upgrade' | 'Fetch' | 'Delete', at: Date, detail?: string): string {
  return fit(`${kind} Success ${at.toISOString()}${detail ? `: ${detail}` : ''}`);
}

/** The Nth failed authentication cancelled the pending operation (auth-failures.ts). */
export function cancelledStatus(current: string | null, operation: CapfOperation, at: Date, why: string): string {
  const was = (pendingPart(current) ?? `${PENDING}${operation}`).slice(PENDING.length);
  return fit(`Operation Cancelled: ${was}; last attempt ${at.toISOString()}: ${why}`);
}
