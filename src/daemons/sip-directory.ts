/**
 * SIP's directory over the store, in one adapter (issue 17 item 4): the registrar's `StoreDirectory` reads the
 * store but never imports cluster/ or reports/; the autoregistration decision (cluster/autoreg.ts) and the ITL
 * report recording (reports/itl-status.ts) are handed to it here.
 */
import { AutoregError, autoRegisterPhone } from '../cluster/autoreg.js';
import { ItlReportStatus, recordPhoneItlReport } from '../reports/itl-status.js';
import { StoreDirectory, type AutoRegister, type RecordItlReport, type StoreDirectoryOptions } from '../sip/registrar/directory.js';
import type { Store } from '../store/index.js';

/** cluster/autoreg.ts's decision as the directory asks for it; its refusals (AutoregError) become values. */
export function storeAutoRegister(store: Store): AutoRegister {
  return (deviceName, model) => {
    try {
      return autoRegisterPhone(store, { deviceName, model });
    } catch (err) {
      if (!(err instanceof AutoregError)) throw err;
      return { kind: 'refused', code: err.code, message: err.message };
    }
  };
}

/** reports/itl-status.ts's recording; any status but 'not-installed' counts as installed. */
export function storeItlReports(store: Store): RecordItlReport {
  return ({ device, sha256Hex, status, at }) =>
    recordPhoneItlReport(store, {
      device,
      sha256Hex,
      at,
      status: status === ItlReportStatus.notInstalled ? ItlReportStatus.notInstalled : ItlReportStatus.installed,
    });
}

/** The registrar's directory over `store` with the appliance's autoregistration and ITL reports. */
export class ApplianceDirectory extends StoreDirectory {
  constructor(store: Store, o: Omit<StoreDirectoryOptions, 'autoRegister' | 'recordItlReport'> = {}) {
    super(store, { ...o, autoRegister: storeAutoRegister(store), recordItlReport: storeItlReports(store) });
  }
}
