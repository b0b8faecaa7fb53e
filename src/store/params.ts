import { nowIso, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { normaliseParam, PARAM_LIMITS, PARAMS, PARAMS_BY_NAME, type ParamDef } from './params-registry.js';

/** Enterprise parameters: stored values over the registry's defaults. */

export interface ParamRow {
  name: string;
  value: string;
  default: string;
  description: string;
  /** True when no value is stored or the stored value equals the default. */
  isDefault: boolean;
}

function def(name: string): ParamDef {
  const d = PARAMS_BY_NAME.get(name);
  if (!d) {
    throw new StoreError(
      StoreErrorCode.paramUnknown,
      `unknown enterprise parameter '${name}'; known: ${PARAMS.map((p) => p.name).join(', ')}`,
    );
  }
  return d;
}

function stored(ctx: StoreContext, name: string): string | undefined {
  return (ctx.stmt('SELECT value FROM params WHERE name = ?').get(name) as { value: string } | undefined)?.value;
}

export function getParam(ctx: StoreContext, name: string): string {
  const d = def(name);
  return stored(ctx, name) ?? d.default;
}

export function getBoolParam(ctx: StoreContext, name: string): boolean {
  const d = def(name);
  if (d.type !== 'bool') throw new StoreError(StoreErrorCode.paramInvalid, `'${name}' is a ${d.type} parameter, not a boolean`);
  return getParam(ctx, name) === 'true';
}

export function getIntParam(ctx: StoreContext, name: string): number {
  const d = def(name);
  if (d.type !== 'int') throw new StoreError(StoreErrorCode.paramInvalid, `'${name}' is a ${d.type} parameter, not an integer`);
  return Number(getParam(ctx, name));
}

export function setParam(ctx: StoreContext, name: string, value: string): void {
  const d = def(name);
  if (typeof value !== 'string') throw new StoreError(StoreErrorCode.paramInvalid, `${name}: the value must be a string`);
  if (value.length > PARAM_LIMITS.maxValueChars) {
    throw new StoreError(StoreErrorCode.paramInvalid, `${name}: the value is longer than ${PARAM_LIMITS.maxValueChars} characters`);
  }
  const n = normaliseParam(d, value);
  if (!n.ok) throw new StoreError(StoreErrorCode.paramInvalid, `${name} must be ${n.reason}; got '${value}'`);
  ctx.write(() => {
    ctx
      .stmt(
        'INSERT INTO params (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      )
      .run(name, n.value, nowIso(ctx.clock));
  });
}

/** Back to the default (the stored row is removed). */
export function resetParam(ctx: StoreContext, name: string): void {
  def(name);
  ctx.write(() => {
    ctx.stmt('DELETE FROM params WHERE name = ?').run(name);
  });
}

export function listParams(ctx: StoreContext): ParamRow[] {
  const values = new Map(
    (ctx.stmt('SELECT name, value FROM params').all() as { name: string; value: string }[]).map((r) => [r.name, r.value]),
  );
  return PARAMS.map((d) => {
    const value = values.get(d.name) ?? d.default;
    return { name: d.name, value, default: d.default, description: d.description, isDefault: value === d.default };
  });
}
