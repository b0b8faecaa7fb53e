/**
 * What the phone-control service asks the store, behind a narrow interface (like registrar/directory.ts): the
 * devices a selection names, with the line each registers and its model, and a model's reset-method override.
 * The store-backed implementation is src/daemons/adapters/sip-store.ts (`StorePhoneControlDirectory`).
 */
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
