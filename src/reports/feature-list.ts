/**
 * The Phone Feature List: which device models trust an ITL (Security by Default), take encrypted configs and
 * support EC keys. The data is the store's model_features table (seeded, editable with `setPhoneFeatures`).
 */
import type { ModelFeatures, ModelFeaturesRow, Store } from '../store/index.js';
import { type Report, yesNo } from './table.js';

export function featureListReport(store: Store, options: { model?: string } = {}): Report {
  let rows: ModelFeaturesRow[] = store.listModelFeatures();
  if (options.model !== undefined) {
    const one = store.getModelFeatures(options.model);
    rows = one ? [one] : [];
  }
  return {
    title: `Phone Feature List (${rows.length} model${rows.length === 1 ? '' : 's'})`,
    columns: [{ name: 'Model' }, { name: 'Security by Default' }, { name: 'Encrypted Config' }, { name: 'EC Keys' }],
    rows: rows.map((r) => [r.model, yesNo(r.securityByDefault), yesNo(r.encryptedConfig), yesNo(r.ecKeys)]),
  };
}

/** Edits one model's row; features not given keep their value (a new model starts with all three off). */
export function setPhoneFeatures(store: Store, model: string, patch: Partial<ModelFeatures>): ModelFeaturesRow {
  return store.transaction(() => {
    const old = store.getModelFeatures(model);
    return store.putModelFeatures(model, {
      securityByDefault: patch.securityByDefault ?? old?.securityByDefault ?? false,
      encryptedConfig: patch.encryptedConfig ?? old?.encryptedConfig ?? false,
      ecKeys: patch.ecKeys ?? old?.ecKeys ?? false,
    });
  });
}
