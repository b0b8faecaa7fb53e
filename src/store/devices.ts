import { nowIso, sqliteCode, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { hex, oneOf, onlyKeys, optionalText, text } from './fields.js';
import { parseCertificatePem } from './certificates.js';
import { modelKey } from './model-features.js';
import { DEFAULT_SECURITY_PROFILE } from './security-profiles.js';

/** Phones, keyed by their device name SEP + MAC. */

export const CAPF_OPERATIONS = ['none', 'install', 'delete', 'fetch'] as const;
export const CAPF_AUTH_MODES = ['none', 'password', 'lsc', 'mic'] as const;
export type CapfOperation = (typeof CAPF_OPERATIONS)[number];
export type CapfAuthMode = (typeof CAPF_AUTH_MODES)[number];

export interface DeviceRow {
  id: number;
  name: string;
  model: string;
  description: string;
  securityProfile: string;
  lscPem: string | null;
  symmetricKeyHex: string | null;
  digestUser: string | null;
  directoryNumber: string | null;
  capfOperation: CapfOperation;
  capfAuthMode: CapfAuthMode;
  capfAuthString: string | null;
  capfStatus: string | null;
  /** Failed CAPF authentications against the pending operation (schema 6); reset when an operation is scheduled. */
  capfAuthFailures: number;
  createdAt: string;
  updatedAt: string;
}

export interface DeviceInput {
  name: string;
  model: string;
  description?: string;
  securityProfile?: string;
  digestUser?: string | null;
  directoryNumber?: string | null;
}

const PATCH_KEYS = [
  'model',
  'description',
  'securityProfile',
  'lscPem',
  'symmetricKeyHex',
  'digestUser',
  'directoryNumber',
  'capfOperation',
  'capfAuthMode',
  'capfAuthString',
  'capfStatus',
  'capfAuthFailures',
] as const;

/** The fields an update may change: the row's own types, so the two never drift apart. */
export type DevicePatch = Partial<Pick<DeviceRow, (typeof PATCH_KEYS)[number]>>;

/** Bounds on device fields (CUCM's own limits where it has one). */
export const DEVICE_LIMITS = {
  maxDescriptionChars: 128,
  maxDigestUserChars: 128,
  maxCapfStatusChars: 256,
  maxCapfAuthFailures: 1_000_000,
} as const;

/**
 * CAPF authentication strings, typed on the phone's keypad. CUCM allows 4 to 10 digits; 4 digits fall to 10,000
 * guesses, so sbd asks for at least 8 (with 5 tries per operation, a 1 in 20 million chance) and allows up to 16.
 */
export const CAPF_AUTH_STRING_DIGITS = { min: 8, max: 16 } as const;

const E = StoreErrorCode.deviceInvalid;

/** 'sep00112233aabb' → 'SEP00112233AABB'; anything but SEP + 12 hex digits is ERR_DEVICE_INVALID. */
export function normaliseDeviceName(name: unknown): string {
  if (typeof name !== 'string' || !/^SEP[0-9A-F]{12}$/i.test(name)) {
    throw new StoreError(E, `device name must be SEP followed by the 12 hex digits of the MAC address, got '${String(name)}'`);
  }
  return name.toUpperCase();
}

interface Raw {
  id: number;
  name: string;
  model: string;
  description: string;
  security_profile: string;
  lsc_pem: string | null;
  symmetric_key_hex: string | null;
  digest_user: string | null;
  directory_number: string | null;
  capf_operation: CapfOperation;
  capf_auth_mode: CapfAuthMode;
  capf_auth_string: string | null;
  capf_status: string | null;
  capf_auth_failures: number;
  created_at: string;
  updated_at: string;
}

const SELECT = `SELECT id, name, model, description, security_profile, lsc_pem, symmetric_key_hex, digest_user, directory_number,
  capf_operation, capf_auth_mode, capf_auth_string, capf_status, capf_auth_failures, created_at, updated_at FROM devices`;

function row(r: Raw): DeviceRow {
  return {
    id: r.id,
    name: r.name,
    model: r.model,
    description: r.description,
    securityProfile: r.security_profile,
    lscPem: r.lsc_pem,
    symmetricKeyHex: r.symmetric_key_hex,
    digestUser: r.digest_user,
    directoryNumber: r.directory_number,
    capfOperation: r.capf_operation,
    capfAuthMode: r.capf_auth_mode,
    capfAuthString: r.capf_auth_string,
    capfStatus: r.capf_status,
    capfAuthFailures: r.capf_auth_failures,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function model(value: unknown): string {
  try {
    return modelKey(value);
  } catch (err) {
    throw new StoreError(E, (err as Error).message);
  }
}

function directoryNumber(value: unknown): string | null {
  const dn = optionalText(E, 'directoryNumber', value, 25);
  if (dn !== null && !/^\+?[0-9*#]{1,24}$/.test(dn))
    throw new StoreError(E, `directory number '${dn}' must be digits, '*' or '#', optionally after '+'`);
  return dn;
}

function profileExists(ctx: StoreContext, name: string): void {
  if (!ctx.stmt('SELECT 1 FROM security_profiles WHERE name = ?').get(name)) {
    throw new StoreError(StoreErrorCode.profileUnknown, `no security profile named '${name}'`);
  }
}

export function addDevice(ctx: StoreContext, d: DeviceInput): DeviceRow {
  const name = normaliseDeviceName(d.name);
  const m = model(d.model);
  const description = text(E, 'description', d.description ?? '', DEVICE_LIMITS.maxDescriptionChars, { empty: true });
  const profile = text(E, 'securityProfile', d.securityProfile ?? DEFAULT_SECURITY_PROFILE, 128);
  const digestUser = optionalText(E, 'digestUser', d.digestUser, DEVICE_LIMITS.maxDigestUserChars);
  const dn = directoryNumber(d.directoryNumber);
  return ctx.write(() => {
    profileExists(ctx, profile);
    const now = nowIso(ctx.clock);
    try {
      ctx
        .stmt(
          `INSERT INTO devices (name, model, description, security_profile, digest_user, directory_number, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(name, m, description, profile, digestUser, dn, now, now);
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_UNIQUE') throw new StoreError(StoreErrorCode.deviceExists, `device ${name} exists`);
      throw err;
    }
    return getDevice(ctx, name)!;
  });
}

export function getDevice(ctx: StoreContext, name: string): DeviceRow | undefined {
  if (typeof name !== 'string' || !/^SEP[0-9A-F]{12}$/i.test(name)) return undefined;
  const r = ctx.stmt(`${SELECT} WHERE name = ?`).get(name.toUpperCase()) as Raw | undefined;
  return r && row(r);
}

export function listDevices(ctx: StoreContext): DeviceRow[] {
  return (ctx.stmt(`${SELECT} ORDER BY name`).all() as Raw[]).map(row);
}

/** The id of an existing device, or ERR_DEVICE_UNKNOWN. */
export function deviceId(ctx: StoreContext, name: string): number {
  const n = normaliseDeviceName(name);
  const r = ctx.stmt('SELECT id FROM devices WHERE name = ?').get(n) as { id: number } | undefined;
  if (!r) throw new StoreError(StoreErrorCode.deviceUnknown, `no device ${n}`);
  return r.id;
}

export function updateDevice(ctx: StoreContext, name: string, patch: DevicePatch): DeviceRow {
  const n = normaliseDeviceName(name);
  if (typeof patch !== 'object' || patch === null) throw new StoreError(E, 'device patch must be an object');
  onlyKeys(E, 'a device', patch, PATCH_KEYS);
  const p = patch;
  // Validate everything before the transaction so a bad field never half-applies.
  const v: Partial<Raw> = {};
  if (p.model !== undefined) v.model = model(p.model);
  if (p.description !== undefined)
    v.description = text(E, 'description', p.description, DEVICE_LIMITS.maxDescriptionChars, { empty: true });
  if (p.securityProfile !== undefined) v.security_profile = text(E, 'securityProfile', p.securityProfile, 128);
  if (p.lscPem !== undefined) v.lsc_pem = p.lscPem === null ? null : parseCertificatePem(p.lscPem, 'lscPem').pem;
  if (p.symmetricKeyHex !== undefined) {
    // AES-128 (32 hex digits) as .enc.sgn uses; 256-bit keys accepted for phones that take them.
    v.symmetric_key_hex = p.symmetricKeyHex === null ? null : hex(E, 'symmetricKeyHex', p.symmetricKeyHex, [32, 64]);
  }
  if (p.digestUser !== undefined) v.digest_user = optionalText(E, 'digestUser', p.digestUser, DEVICE_LIMITS.maxDigestUserChars);
  if (p.directoryNumber !== undefined) v.directory_number = directoryNumber(p.directoryNumber);
  if (p.capfOperation !== undefined) v.capf_operation = oneOf(E, 'capfOperation', p.capfOperation, CAPF_OPERATIONS);
  if (p.capfAuthMode !== undefined) v.capf_auth_mode = oneOf(E, 'capfAuthMode', p.capfAuthMode, CAPF_AUTH_MODES);
  if (p.capfAuthString !== undefined) {
    const { min, max } = CAPF_AUTH_STRING_DIGITS;
    const s = optionalText(E, 'capfAuthString', p.capfAuthString, max);
    if (s !== null && !new RegExp(`^\\d{${min},${max}}$`).test(s))
      throw new StoreError(E, `capfAuthString must be ${min} to ${max} digits`);
    v.capf_auth_string = s;
  }
  if (p.capfAuthFailures !== undefined) {
    const n = p.capfAuthFailures;
    if (!Number.isInteger(n) || n < 0 || n > DEVICE_LIMITS.maxCapfAuthFailures)
      throw new StoreError(E, `capfAuthFailures must be an integer from 0 to ${DEVICE_LIMITS.maxCapfAuthFailures}`);
    v.capf_auth_failures = n;
  }
  if (p.capfStatus !== undefined) v.capf_status = optionalText(E, 'capfStatus', p.capfStatus, DEVICE_LIMITS.maxCapfStatusChars);
  return ctx.write(() => {
    const cur = ctx.stmt(`${SELECT} WHERE name = ?`).get(n) as Raw | undefined;
    if (!cur) throw new StoreError(StoreErrorCode.deviceUnknown, `no device ${n}`);
    if (v.security_profile !== undefined) profileExists(ctx, v.security_profile);
    const m: Raw = { ...cur, ...v, updated_at: nowIso(ctx.clock) };
    ctx
      .stmt(
        `UPDATE devices SET model = ?, description = ?, security_profile = ?, lsc_pem = ?, symmetric_key_hex = ?, digest_user = ?,
           directory_number = ?, capf_operation = ?, capf_auth_mode = ?, capf_auth_string = ?, capf_status = ?, capf_auth_failures = ?,
           updated_at = ?
         WHERE id = ?`,
      )
      .run(
        m.model,
        m.description,
        m.security_profile,
        m.lsc_pem,
        m.symmetric_key_hex,
        m.digest_user,
        m.directory_number,
        m.capf_operation,
        m.capf_auth_mode,
        m.capf_auth_string,
        m.capf_status,
        m.capf_auth_failures,
        m.updated_at,
        cur.id,
      );
    return row(m);
  });
}

/** Removes the device and, through ON DELETE CASCADE, its reported ITL hash. */
export function removeDevice(ctx: StoreContext, name: string): void {
  ctx.write(() => {
    ctx.stmt('DELETE FROM devices WHERE id = ?').run(deviceId(ctx, name));
  });
}
