import { nowIso, type StoreContext } from './context.js';
import { normaliseModelName } from '../lib/phone-models.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { bool } from './fields.js';

/**
 * The phone feature list: per model, whether it trusts an ITL (security by default), takes encrypted configs
 * and supports EC keys. Seeded by schema migration 2 (see SEEDED_MODEL_FEATURES); administrators may edit it.
 * Models are keyed by their number as phones report it ('8845' in `CP-8845-SEP…`); 'Cisco 8845', 'CP-8845'
 * and '8845G' are accepted and mean the same.
 */

export interface ModelFeatures {
  securityByDefault: boolean;
  encryptedConfig: boolean;
  ecKeys: boolean;
}

/** How the model is told to reset; null: chosen by the registration's User-Agent (schema 9). */
export const MODEL_RESET_METHODS = ['service-control', 'check-sync', 'check-sync-reboot'] as const;
export type ModelResetMethod = (typeof MODEL_RESET_METHODS)[number];

export interface ModelFeaturesRow extends ModelFeatures {
  model: string;
  resetMethod: ModelResetMethod | null;
  updatedAt: string;
}

interface Raw {
  model: string;
  security_by_default: number;
  encrypted_config: number;
  ec_keys: number;
  reset_method: string | null;
  updated_at: string;
}

export function modelKey(model: unknown): string {
  if (typeof model !== 'string') throw new StoreError(StoreErrorCode.modelInvalid, 'model must be a string');
  const m = normaliseModelName(model);
  if (m === undefined) throw new StoreError(StoreErrorCode.modelInvalid, `model '${model}' is not a phone model name like '8845'`);
  return m;
}

function row(r: Raw): ModelFeaturesRow {
  return {
    model: r.model,
    securityByDefault: r.security_by_default === 1,
    encryptedConfig: r.encrypted_config === 1,
    ecKeys: r.ec_keys === 1,
    resetMethod: r.reset_method as ModelResetMethod | null,
    updatedAt: r.updated_at,
  };
}

const SELECT = 'SELECT model, security_by_default, encrypted_config, ec_keys, reset_method, updated_at FROM model_features';

export function getModelFeatures(ctx: StoreContext, model: string): ModelFeaturesRow | undefined {
  let key: string;
  try {
    key = modelKey(model);
  } catch {
    return undefined;
  }
  const r = ctx.stmt(`${SELECT} WHERE model = ?`).get(key) as Raw | undefined;
  return r && row(r);
}

export function listModelFeatures(ctx: StoreContext): ModelFeaturesRow[] {
  return (ctx.stmt(`${SELECT} ORDER BY model`).all() as Raw[]).map(row);
}

export function putModelFeatures(ctx: StoreContext, model: string, f: ModelFeatures): ModelFeaturesRow {
  const key = modelKey(model);
  const E = StoreErrorCode.modelInvalid;
  const sbd = bool(E, 'securityByDefault', f.securityByDefault);
  const enc = bool(E, 'encryptedConfig', f.encryptedConfig);
  const ec = bool(E, 'ecKeys', f.ecKeys);
  return ctx.write(() => {
    ctx
      .stmt(
        `INSERT INTO model_features (model, security_by_default, encrypted_config, ec_keys, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (model) DO UPDATE SET security_by_default = excluded.security_by_default,
           encrypted_config = excluded.encrypted_config, ec_keys = excluded.ec_keys, updated_at = excluded.updated_at`,
      )
      .run(key, sbd ? 1 : 0, enc ? 1 : 0, ec ? 1 : 0, nowIso(ctx.clock));
    return getModelFeatures(ctx, key)!;
  });
}

/** Sets (or, with null, clears) the model's reset method; a model not in the list is added with its features off. */
export function setModelResetMethod(ctx: StoreContext, model: string, method: ModelResetMethod | null): ModelFeaturesRow {
  const key = modelKey(model);
  if (method !== null && !(MODEL_RESET_METHODS as readonly string[]).includes(method)) {
    throw new StoreError(StoreErrorCode.modelInvalid, `reset method must be one of ${MODEL_RESET_METHODS.join(', ')} (or none)`);
  }
  return ctx.write(() => {
    ctx
      .stmt(
        `INSERT INTO model_features (model, security_by_default, encrypted_config, ec_keys, reset_method, updated_at) VALUES (?, 0, 0, 0, ?, ?)
         ON CONFLICT (model) DO UPDATE SET reset_method = excluded.reset_method, updated_at = excluded.updated_at`,
      )
      .run(key, method, nowIso(ctx.clock));
    return getModelFeatures(ctx, key)!;
  });
}
