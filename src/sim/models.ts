/**
 * Which phone models behave as Security-by-Default phones. The simulator uses the same phone feature list the
 * store is seeded with (a published constant of the store), so a simulated 6921 behaves like the appliance
 * expects a 6921 to. Unknown models are taken as current phones, which all have Security by Default.
 */
import { SEEDED_MODEL_FEATURES } from '../store/migrations.js';
import { modelKey } from '../store/model-features.js';
import { SimError, SimErrorCode } from './errors.js';

export const DEFAULT_MODEL = '8845';

export function normaliseModel(model: string): string {
  try {
    return modelKey(model);
  } catch (err) {
    throw new SimError(SimErrorCode.model, (err as Error).message, { cause: err });
  }
}

export function modelHasSecurityByDefault(model: string): boolean {
  const key = normaliseModel(model);
  const row = SEEDED_MODEL_FEATURES.find(([m]) => m === key);
  return row ? row[1] === 1 : true;
}
