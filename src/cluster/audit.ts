/**
 * The audit trail of administrative changes (certificate regeneration, parameters, ITL reset, backup, restore,
 * login): one store row per action with time, user and result. The CLI commands and the admin shell call these
 * wrappers, so the action, its outcome and the error code of a failure are recorded the same way everywhere.
 * Reading the log is `show audit` / `sbd audit show`.
 */
import { userInfo } from 'node:os';
import type { AuditEntry, Store } from '../store/index.js';
import { isSbdError, UsageError } from '../lib/errors.js';

/** Stable action names, as they appear in the log. */
export const AuditAction = {
  certRegen: 'cert-regen',
  paramSet: 'param-set',
  itlReset: 'itl-reset',
  ctlReset: 'ctl-reset',
  backup: 'backup',
  restore: 'restore',
  login: 'login',
  userSet: 'user-set',
  userImport: 'user-import',
  userUnlock: 'user-unlock',
  featureSet: 'feature-set',
  autoRegister: 'autoregister',
  digestReset: 'digest-reset',
  deviceAdd: 'device-add',
  deviceSet: 'device-set',
  deviceRemove: 'device-remove',
  profileSet: 'security-profile-set',
  trustImport: 'trust-import',
  trustRemove: 'trust-remove',
  appUserAllow: 'app-user-allow',
  cmGroupSet: 'cm-group-set',
  cmGroupRemove: 'cm-group-remove',
  deviceCmGroup: 'device-cm-group',
} as const;

export type AuditActionName = (typeof AuditAction)[keyof typeof AuditAction];

export const AUDIT_RESULT = { success: 'success', failure: 'failure' } as const;

/**
 * Who is acting: SBD_ADMIN_USER when set (the admin shell sets it to the logged-in administrator), otherwise the
 * account that ran sudo, otherwise the process's own account.
 */
export function currentAdminUser(env: NodeJS.ProcessEnv = process.env): string {
  const named = env.SBD_ADMIN_USER ?? env.SUDO_USER;
  if (named && /^[\x21-\x7e]{1,128}$/.test(named)) return named;
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}`;
  }
}

export interface AuditContext {
  user: string;
  action: AuditActionName;
  detail?: string;
  /**
   * Record a failure even when it is only a refusal of the input (see isInputRefusal). Default false: a command
   * refused for its arguments changed nothing, so it is not an administrative change and leaves the store as it
   * was. Logins set it: every failed authentication is recorded.
   */
  recordRefusals?: boolean;
}

/** A usage error, or a typed error saying the input was invalid, unknown or unacceptable: nothing was changed. */
export function isInputRefusal(err: unknown): boolean {
  return err instanceof UsageError || (isSbdError(err) && /_(INVALID|UNKNOWN|INPUT)$/.test(err.code));
}

function shouldRecord(ctx: AuditContext, err: unknown): boolean {
  return ctx.recordRefusals === true || !isInputRefusal(err);
}

function failureText(err: unknown): string {
  return isSbdError(err) ? `${AUDIT_RESULT.failure} ${err.code}` : AUDIT_RESULT.failure;
}

/** Records one outcome directly (for actions whose result is known without running a function). */
export function recordAudit(store: Store, ctx: AuditContext, result: string): AuditEntry {
  return store.appendAudit({ user: ctx.user, action: ctx.action, detail: ctx.detail ?? '', result });
}

/**
 * Runs `fn` and records its outcome: 'success', or 'failure <ERR_CODE>' with the error rethrown (input refusals
 * only with recordRefusals). `store` may be
 * a function, for actions (restore) after which the store to record into is a different one.
 */
export async function audited<T>(store: Store | (() => Store | undefined), ctx: AuditContext, fn: () => T | Promise<T>): Promise<T> {
  const target = (): Store | undefined => (typeof store === 'function' ? store() : store);
  let value: T;
  try {
    value = await fn();
  } catch (err) {
    const s = target();
    // A failed audit write must not hide the error that caused it.
    if (s?.isOpen && shouldRecord(ctx, err)) {
      try {
        recordAudit(s, ctx, failureText(err));
      } catch {
        /* the original error is what the administrator needs to see */
      }
    }
    throw err;
  }
  const s = target();
  if (s?.isOpen) recordAudit(s, ctx, AUDIT_RESULT.success);
  return value;
}

/** The synchronous form of `audited`, for store work that is synchronous (parameters, ITL reset, regeneration). */
export function auditedSync<T>(store: Store, ctx: AuditContext, fn: () => T): T {
  let value: T;
  try {
    value = fn();
  } catch (err) {
    if (store.isOpen && shouldRecord(ctx, err)) {
      try {
        recordAudit(store, ctx, failureText(err));
      } catch {
        /* keep the original error */
      }
    }
    throw err;
  }
  recordAudit(store, ctx, AUDIT_RESULT.success);
  return value;
}

/** Newest first, at most `limit` entries. */
export function listAuditEntries(store: Store, limit?: number): AuditEntry[] {
  return store.listAudit(limit === undefined ? {} : { limit });
}
