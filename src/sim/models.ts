/**
 * Which phone models behave as Security-by-Default phones. The simulator uses the same phone feature list the
 * store is seeded with (lib/phone-models.ts), so a simulated 6921 behaves like the appliance
 * expects a 6921 to. Unknown models are taken as current phones, which all have Security by Default.
 */
import { normaliseModelName, SEEDED_MODEL_FEATURES } from '../lib/phone-models.js';
import { SimError, SimErrorCode } from './errors.js';

export const DEFAULT_MODEL = '8845';

export function normaliseModel(model: string): string {
  const key = normaliseModelName(model);
  if (key === undefined) throw new SimError(SimErrorCode.model, `model '${model}' is not a phone model name like '8845'`);
  return key;
}

export function modelHasSecurityByDefault(model: string): boolean {
  const key = normaliseModel(model);
  const row = SEEDED_MODEL_FEATURES.find(([m]) => m === key);
  return row ? row[1] === 1 : true;
}
