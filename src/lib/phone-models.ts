/**
 * Cisco phone models: the feature list the store is seeded with (migration 2) and the model-name rule, shared by
 * the store and the phone simulator so that a simulated 6921 behaves as the appliance expects a 6921 to. Data
 * only: no store, no I/O.
 */

/**
 * Phone feature list (model, securityByDefault, encryptedConfig, ecKeys). From Cisco's per-model admin guides
 * as summarised in the issue: 79x5/88xx/78xx/99xx trust an ITL; 69xx and 7911 do not; EC keys (signer
 * version 1.1, EC LSCs) need 78xx/88xx firmware 11.x+. Editable with putModelFeatures.
 */
export const SEEDED_MODEL_FEATURES = [
  ['6901', 0, 0, 0],
  ['6911', 0, 0, 0],
  ['6921', 0, 0, 0],
  ['6941', 0, 0, 0],
  ['6945', 0, 0, 0],
  ['6961', 0, 0, 0],
  ['7911', 0, 1, 0],
  ['7945', 1, 1, 0],
  ['7965', 1, 1, 0],
  ['7821', 1, 1, 1],
  ['7841', 1, 1, 1],
  ['7861', 1, 1, 1],
  ['8811', 1, 1, 1],
  ['8841', 1, 1, 1],
  ['8845', 1, 1, 1],
  ['8851', 1, 1, 1],
  ['8861', 1, 1, 1],
  ['8865', 1, 1, 1],
  ['9951', 1, 1, 0],
  ['9971', 1, 1, 0],
] as const;

/** 'Cisco CP-8845', 'cp-8845', '7965G' → '8845', '7965'; undefined when it is not a model name like '8845'. */
export function normaliseModelName(model: string): string | undefined {
  const m = model
    .trim()
    .replace(/^cisco\s+/i, '')
    .replace(/^cp-/i, '')
    .replace(/^(\d{4})g$/i, '$1')
    .toUpperCase();
  return /^[A-Z0-9][A-Z0-9-]{0,31}$/.test(m) ? m : undefined;
}
