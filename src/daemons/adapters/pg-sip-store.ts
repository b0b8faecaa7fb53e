/**
 * SIP's store views over the PostgreSQL engine (issue 21 item 1): the SQLite adapters (sip-store.ts) run over the
 * node's local copy of its PostgreSQL (store/pg/store-copy.ts), so digest, AOR, routing and phone-control answers
 * come from the same queries on the same rows. The copy's generation moves on each reload, which the directory's
 * generation check already follows. What differs are SIP's writes:
 * - phones' ITL and trust reports: kept in the copy and, when their content changed, queued for the publisher's
 *   primary (store/pg/node-writes.ts), where every node's reports read them;
 * - autoregistration creates a device, an administrative write: a node reading PostgreSQL does not make one (the
 *   publisher's SQLite is the store of record); the unknown phone is answered 404 as with autoregistration off.
 */
import type { AutoregDecision } from '../../sip/auth/autoreg-limiter.js';
import type { DeviceByName } from '../../sip/registrar/directory.js';
import type { DeviceTrustReportInput } from '../../store/index.js';
import type { PgNodeWriter } from '../../store/pg/node-writes.js';
import type { PgStoreCopy } from '../../store/pg/store-copy.js';
import { ApplianceDirectory, type ApplianceDirectoryOptions } from './sip-store.js';

export const PgDirectoryRefusalCode = {
  /** An unknown device on a node that cannot add one (autoregistration writes on the publisher). */
  autoregPublisher: 'ERR_SIP_AUTOREG_PUBLISHER',
} as const;

export class PgDirectory extends ApplianceDirectory {
  readonly #copy: PgStoreCopy;
  readonly #writes: PgNodeWriter | undefined;

  constructor(copy: PgStoreCopy, writes: PgNodeWriter | undefined, options: ApplianceDirectoryOptions = {}) {
    super(copy.store, options);
    this.#copy = copy;
    this.#writes = writes;
  }

  override deviceByName(name: string, model: string | undefined, mayCreate?: () => AutoregDecision): DeviceByName {
    if (this.#copy.store.getDevice(name.toUpperCase()) === undefined)
      return { kind: 'refused', code: PgDirectoryRefusalCode.autoregPublisher, status: 404, reason: 'Not Found' };
    return super.deviceByName(name, model, mayCreate);
  }

  override recordItlReport(device: string, sha256Hex: string, status: string, at: number): void {
    const before = this.#copy.store.getDeviceItlHash(device);
    super.recordItlReport(device, sha256Hex, status, at);
    const after = this.#copy.store.getDeviceItlHash(device);
    if (after && (before?.sha256Hex !== after.sha256Hex || before.status !== after.status || before.at !== after.at))
      this.#writes?.deviceItlHash(after.device, after);
  }

  override recordTrustReport(device: string, report: DeviceTrustReportInput, at: number): 'changed' | 'touched' {
    const r = super.recordTrustReport(device, report, at);
    // Only a new content goes to the primary: every phone repeats its report at each registration.
    const row = r === 'changed' ? this.#copy.store.getDeviceTrustReport(device) : undefined;
    if (row) this.#writes?.deviceTrustReport(row);
    return r;
  }

  override clearItlReport(device: string): void {
    super.clearItlReport(device);
    this.#writes?.deviceItlHash(device.toUpperCase(), null);
  }
}
