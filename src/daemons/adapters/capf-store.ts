/**
 * CAPF's `CapfOperations` (src/capf/operations.ts) over the SQLite store and pki/ (issue 17 item 4): the store's
 * own queries handed over one by one, and LSC issuance by pki/lsc.ts with a random serial.
 */
import { randomSerial } from '../../pki/certificate.js';
import { issueLsc } from '../../pki/lsc.js';
import type { Store } from '../../store/index.js';
import type { CapfOperations } from '../../capf/operations.js';

export function capfOperations(store: Store): CapfOperations {
  return {
    generation: () => store.generation(),
    listNodes: () => store.listNodes(),
    currentCertificate: (name, node) => store.currentCertificate(name, node),
    getParam: (name) => store.getParam(name),
    listCertificates: (options) => store.listCertificates(options),
    getDevice: (name) => store.getDevice(name),
    updateDevice: (name, patch) => store.updateDevice(name, patch),
    transaction: (fn) => store.transaction(fn),
    appendAudit: (entry) => void store.appendAudit(entry),
    issueLsc: (r) => issueLsc({ ...r, serial: randomSerial() }),
  };
}
