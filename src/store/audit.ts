import { nowIso, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { isoTime, text } from './fields.js';

/** The administrative audit log: who did what, when, with which result. Append-only through this API. */

export interface AuditEntry {
  id: number;
  at: string;
  user: string;
  action: string;
  detail: string;
  result: string;
}

export interface AuditInput {
  /** Default: now, from the store's clock. */
  at?: string;
  user: string;
  action: string;
  detail?: string;
  result: string;
}

/** Bounds on audit entries and listings. */
export const AUDIT_LIMITS = { maxDetailChars: 4096, defaultListLimit: 100, maxListLimit: 10_000 } as const;

const E = StoreErrorCode.auditInvalid;

export function appendAudit(ctx: StoreContext, a: AuditInput): AuditEntry {
  const at = a.at === undefined ? nowIso(ctx.clock) : isoTime(E, 'at', a.at);
  const user = text(E, 'user', a.user, 128);
  const action = text(E, 'action', a.action, 256);
  // Details may span lines (a command's arguments); only the one-line fields refuse control characters.
  const detail = a.detail ?? '';
  if (typeof detail !== 'string' || detail.length > AUDIT_LIMITS.maxDetailChars) {
    throw new StoreError(E, `detail must be a string of at most ${AUDIT_LIMITS.maxDetailChars} characters`);
  }
  const result = text(E, 'result', a.result, 64);
  return ctx.write(() => {
    const id = Number(
      ctx.stmt('INSERT INTO audit_log (at, user_name, action, detail, result) VALUES (?, ?, ?, ?, ?)').run(at, user, action, detail, result)
        .lastInsertRowid,
    );
    return { id, at, user, action, detail, result };
  });
}

/** Newest first. */
export function listAudit(ctx: StoreContext, options: { limit?: number } = {}): AuditEntry[] {
  const limit = options.limit ?? AUDIT_LIMITS.defaultListLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIMITS.maxListLimit) {
    throw new StoreError(E, `limit must be an integer from 1 to ${AUDIT_LIMITS.maxListLimit}`);
  }
  return ctx
    .stmt('SELECT id, at, user_name AS user, action, detail, result FROM audit_log ORDER BY id DESC LIMIT ?')
    .all(limit) as AuditEntry[];
}
