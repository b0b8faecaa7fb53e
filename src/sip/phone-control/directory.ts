/**
 * What the phone-control service asks the store, behind a narrow interface (like registrar/directory.ts): the
 * devices a selection names, with the line each registers and its model, and a model's reset-method override.
 */
import { modelKey, type Store } from '../../store/index.js';
import type { ResetSelect } from './control-protocol.js';
import type { ResetMethod } from './notify.js';

export interface ControlledDevice {
  name: string;
  model: string;
  /** The line (AOR user) the device registers; null: it has none and cannot be registered. */
  directoryNumber: string | null;
}

export interface PhoneControlDirectory {
  /** The devices the selection names (a device that does not exist: empty). */
  select(select: ResetSelect): ControlledDevice[];
  /** The feature list's override for the model, null when the User-Agent decides. */
  resetMethodOverride(model: string): ResetMethod | null;
}

export class StorePhoneControlDirectory implements PhoneControlDirectory {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  select(select: ResetSelect): ControlledDevice[] {
    const row = (d: { name: string; model: string; directoryNumber: string | null }): ControlledDevice => ({
      name: d.name,
      model: d.model,
      directoryNumber: d.directoryNumber,
    });
    if ('device' in select) {
      const d = this.store.getDevice(select.device);
      return d ? [row(d)] : [];
    }
    const all = this.store.listDevices();
    if ('all' in select) return all.map(row);
    if ('model' in select) {
      const key = modelWord(select.model);
      return all.filter((d) => modelWord(d.model) === key).map(row);
    }
    return all.filter((d) => this.store.sip.getDeviceSettings(d.name)?.partition === select.partition).map(row);
  }

  resetMethodOverride(model: string): ResetMethod | null {
    return this.store.getModelFeatures(model)?.resetMethod ?? null;
  }
}

/** '8845', 'CP-8845', 'Cisco 8845' and '8845G' name one model (the feature list's key); a malformed one, itself. */
function modelWord(model: string): string {
  try {
    return modelKey(model);
  } catch {
    return model;
  }
}
