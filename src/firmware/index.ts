/** Firmware updates: RAUC's install/status/switch, slot versions, the store's step on a new version's first boot. */
export { FirmwareError, FirmwareErrorCode } from './errors.js';
export { Rauc, RAUC_DEFAULTS, parseRaucStatus, raucFailure, type RaucOptions, type RaucStatus, type SlotInfo } from './rauc.js';
export { FIRMWARE_PATHS, runningVersion, recordedVersion, recordVersion, slotVersions, type SlotVersion } from './versions.js';
export { bundleFile, downloadBundle, isBundleUrl, DOWNLOAD_NAME, FETCH_DEFAULTS, type FetchBundleOptions } from './fetch-bundle.js';
export {
  prepareStore,
  latestPreUpgradeBackup,
  PREPARE_DEFAULTS,
  type PrepareStoreOptions,
  type PrepareStoreResult,
} from './store-upgrade.js';
