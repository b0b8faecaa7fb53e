import { StoreError, type StoreErrorCode } from './errors.js';

/**
 * Small input checks shared by the table modules. Each throws a StoreError with the caller's code, naming the
 * field, so a bad value never reaches SQL and the message says what was wrong.
 */

// C0 controls and DEL: never useful in names or descriptions, and they break the admin console's columns.
const CONTROL = /[\u0000-\u001f\u007f]/;

export function text(code: StoreErrorCode, field: string, value: unknown, max: number, options: { empty?: boolean } = {}): string {
  if (typeof value !== 'string') throw new StoreError(code, `${field} must be a string, got ${typeof value}`);
  if (!options.empty && value.length === 0) throw new StoreError(code, `${field} must not be empty`);
  if (value.length > max) throw new StoreError(code, `${field} is ${value.length} characters long; the limit is ${max}`);
  if (CONTROL.test(value)) throw new StoreError(code, `${field} contains a control character`);
  return value;
}

export function optionalText(code: StoreErrorCode, field: string, value: unknown, max: number): string | null {
  if (value === null || value === undefined) return null;
  return text(code, field, value, max, { empty: true });
}

export function hex(code: StoreErrorCode, field: string, value: unknown, lengths: readonly number[]): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]*$/.test(value) || !lengths.includes(value.length)) {
    throw new StoreError(code, `${field} must be ${lengths.join(' or ')} hex digits`);
  }
  return value.toLowerCase();
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** ISO-8601 UTC (`…Z`), normalised to what Date#toISOString prints so string order is time order. */
export function isoTime(code: StoreErrorCode, field: string, value: unknown): string {
  if (typeof value !== 'string' || !ISO_UTC.test(value) || Number.isNaN(Date.parse(value))) {
    throw new StoreError(code, `${field} must be an ISO-8601 UTC time like 2026-11-25T10:00:00.000Z`);
  }
  return new Date(value).toISOString();
}

export function oneOf<T extends string>(code: StoreErrorCode, field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new StoreError(code, `${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

export function bool(code: StoreErrorCode, field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new StoreError(code, `${field} must be true or false`);
  return value;
}

/** Rejects keys a patch object may not carry, so a typo is an error rather than a silent no-op. */
export function onlyKeys(code: StoreErrorCode, what: string, value: object, allowed: readonly string[]): void {
  for (const k of Object.keys(value)) {
    if (!allowed.includes(k)) throw new StoreError(code, `${what} has no field '${k}'`);
  }
}
