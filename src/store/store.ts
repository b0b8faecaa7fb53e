import { closeSync, constants as fsConstants, openSync, writeSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { systemClock, type Clock } from '../lib/clock.js';
import { createStatementCache, toStoreError, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { openDatabase, type OpenStoreOptions } from './open.js';
import * as audit from './audit.js';
import * as certs from './certificates.js';
import * as cmGroups from './cm-groups.js';
import * as devices from './devices.js';
import * as itl from './itl-hashes.js';
import * as trust from './trust-reports.js';
import * as models from './model-features.js';
import * as nodes from './nodes.js';
import * as params from './params.js';
import * as profiles from './security-profiles.js';
import * as users from './users.js';
import { SipTables } from './sip.js';

/**
 * The appliance's single source of truth. Every daemon opens its own Store on the same file; SQLite in WAL mode
 * lets readers keep a consistent snapshot while one writer commits. Every write method is one IMMEDIATE
 * transaction (or a savepoint inside the caller's `transaction()`), and every outer write commit bumps
 * `generation()`, which TFTP polls to know when to rebuild its files. The same number is written (u64
 * little-endian, offset 0) to `<path>-generation` inside each write transaction, after its work and before its
 * commit: sbd-tftpd's native data plane maps that file and compares it per request, without a query, to know whether
 * the files it holds are still current (a value newer than the commit only makes it ask Node once more).
 */
export class Store {
  readonly path: string;
  readonly readonly: boolean;
  /** Where the generation is published for processes that do not query SQLite; undefined for ':memory:'. */
  readonly generationFile: string | undefined;
  readonly #db: Database.Database;
  readonly #ctx: StoreContext;
  #txKind: 'read' | 'write' | undefined;
  #generationFd: number | undefined;

  constructor(path: string, db: Database.Database, clock: Clock, readonly: boolean) {
    this.path = path;
    this.readonly = readonly;
    this.#db = db;
    this.#txKind = undefined;
    this.generationFile = path === ':memory:' || path === '' ? undefined : `${path}-generation`;
    const stmt = createStatementCache(db);
    this.#ctx = { db, clock, stmt, write: (fn) => this.#write(fn), touch: (fn) => this.#touch(fn), report: (fn) => this.#report(fn) };
  }

  #write<T>(fn: () => T): T {
    if (this.readonly) throw new StoreError(StoreErrorCode.readonly, `store ${this.path} is open read-only`);
    if (this.#txKind === 'read') throw new StoreError(StoreErrorCode.readonly, 'a write inside snapshot(): use transaction() instead');
    // Nested: a savepoint that joins the caller's transaction (and its single generation bump).
    if (this.#db.inTransaction) return this.#db.transaction(fn)();
    this.#txKind = 'write';
    try {
      // IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a failed lock upgrade.
      return this.#db
        .transaction(() => {
          const { value } = this.#ctx.stmt("UPDATE sbd_meta SET value = value + 1 WHERE key = 'generation' RETURNING value").get() as {
            value: number;
          };
          const result = fn();
          // After fn (a refused write leaves no trace), before the commit, under the write lock (writers publish
          // in commit order). A failure here rolls the write back: a stale published value could let the data
          // plane serve old files.
          this.#publishGeneration(value);
          return result;
        })
        .immediate();
    } finally {
      this.#txKind = undefined;
    }
  }

  /** A write transaction that leaves the generation alone (StoreContext.touch). */
  #touch<T>(fn: () => T): T {
    if (this.readonly) throw new StoreError(StoreErrorCode.readonly, `store ${this.path} is open read-only`);
    if (this.#txKind === 'read') throw new StoreError(StoreErrorCode.readonly, 'a write inside snapshot(): use transaction() instead');
    if (this.#db.inTransaction) return this.#db.transaction(fn)();
    this.#txKind = 'write';
    try {
      return this.#db.transaction(fn).immediate();
    } finally {
      this.#txKind = undefined;
    }
  }

  /** A write transaction that moves `reports_generation`, not the generation (StoreContext.report). */
  #report<T>(fn: () => T): T {
    return this.#touch(() => {
      const result = fn();
      this.#ctx
        .stmt("INSERT INTO sbd_meta (key, value) VALUES ('reports_generation', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1")
        .run();
      return result;
    });
  }

  #call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
    if (this.#generationFd !== undefined) closeSync(this.#generationFd);
    this.#generationFd = undefined;
  }

  #publishGeneration(value: number): void {
    if (this.generationFile === undefined) return;
    this.#generationFd ??= openSync(this.generationFile, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(BigInt(value));
    if (writeSync(this.#generationFd, bytes, 0, 8, 0) !== 8)
      throw new StoreError(StoreErrorCode.io, `short write to ${this.generationFile}`);
  }

  /** Increments on every committed write by any connection. */
  generation(): number {
    return this.#call(() =>
      Number((this.#ctx.stmt("SELECT value FROM sbd_meta WHERE key = 'generation'").get() as { value: number }).value),
    );
  }

  /** Increments on every committed change of phones' reports (StoreContext.report); 0 before the first. */
  reportsGeneration(): number {
    return this.#call(() =>
      Number(
        (this.#ctx.stmt("SELECT value FROM sbd_meta WHERE key = 'reports_generation'").get() as { value: number } | undefined)?.value ?? 0,
      ),
    );
  }

  schemaVersion(): number {
    return this.#call(() => this.#db.pragma('user_version', { simple: true }) as number);
  }

  /** Runs fn as one write transaction; nested calls join the outer one. fn must be synchronous. */
  transaction<T>(fn: () => T): T {
    return this.#call(() => this.#write(fn));
  }

  /** Runs fn in one read transaction: every read inside sees the same committed state. Writes are refused. */
  snapshot<T>(fn: () => T): T {
    return this.#call(() => {
      if (this.#db.inTransaction) return fn();
      this.#txKind = 'read';
      try {
        return this.#db.transaction(fn).deferred();
      } finally {
        this.#txKind = undefined;
      }
    });
  }

  /** An online, consistent copy of the store (SQLite backup API) at `destination`. */
  async backupTo(destination: string): Promise<void> {
    try {
      await this.#db.backup(destination);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  // cluster nodes
  addNode(n: nodes.NodeInput): nodes.NodeRow {
    return this.#call(() => nodes.addNode(this.#ctx, n));
  }
  listNodes(): nodes.NodeRow[] {
    return this.#call(() => nodes.listNodes(this.#ctx));
  }
  getNode(name: string): nodes.NodeRow | undefined {
    return this.#call(() => nodes.getNode(this.#ctx, name));
  }
  setNodeServices(name: string, services: string[]): void {
    this.#call(() => nodes.setNodeServices(this.#ctx, name, services));
  }
  removeNode(name: string): void {
    this.#call(() => nodes.removeNode(this.#ctx, name));
  }

  // call-manager groups (schema 11)
  putCmGroup(name: string, members: string[]): cmGroups.CmGroupRow {
    return this.#call(() => cmGroups.putCmGroup(this.#ctx, name, members));
  }
  getCmGroup(name: string): cmGroups.CmGroupRow | undefined {
    return this.#call(() => cmGroups.getCmGroup(this.#ctx, name));
  }
  listCmGroups(): cmGroups.CmGroupRow[] {
    return this.#call(() => cmGroups.listCmGroups(this.#ctx));
  }
  removeCmGroup(name: string): void {
    this.#call(() => cmGroups.removeCmGroup(this.#ctx, name));
  }
  setDeviceCmGroup(device: string, group: string | null): void {
    this.#call(() => cmGroups.setDeviceCmGroup(this.#ctx, device, group));
  }
  deviceCmGroup(device: string): string | undefined {
    return this.#call(() => cmGroups.deviceCmGroup(this.#ctx, device));
  }

  // certificates
  putCertificate(c: certs.CertInput): certs.CertRow {
    return this.#call(() => certs.putCertificate(this.#ctx, c));
  }
  addTrustedCertificate(c: { name: string; node: string | null; pem: string; purpose?: string | null }): certs.CertRow {
    return this.#call(() => certs.addTrustedCertificate(this.#ctx, c));
  }
  currentCertificate(name: string, node: string | null): certs.CertRow | undefined {
    return this.#call(() => certs.currentCertificate(this.#ctx, name, node));
  }
  listCertificates(options?: { includeHistory?: boolean; name?: string }): certs.CertRow[] {
    return this.#call(() => certs.listCertificates(this.#ctx, options));
  }
  getCertificate(id: number): certs.CertRow | undefined {
    return this.#call(() => certs.getById(this.#ctx, id));
  }
  findCertificateBySha256(hex: string): certs.CertRow | undefined {
    return this.#call(() => certs.findCertificateBySha256(this.#ctx, hex));
  }
  findCertificatesBySerial(serialHex: string, issuer?: string): certs.CertRow[] {
    return this.#call(() => certs.findCertificatesBySerial(this.#ctx, serialHex, issuer));
  }
  removeCertificate(id: number): void {
    this.#call(() => certs.removeCertificate(this.#ctx, id));
  }

  // enterprise parameters
  getParam(name: string): string {
    return this.#call(() => params.getParam(this.#ctx, name));
  }
  getBoolParam(name: string): boolean {
    return this.#call(() => params.getBoolParam(this.#ctx, name));
  }
  getIntParam(name: string): number {
    return this.#call(() => params.getIntParam(this.#ctx, name));
  }
  setParam(name: string, value: string): void {
    this.#call(() => params.setParam(this.#ctx, name, value));
  }
  resetParam(name: string): void {
    this.#call(() => params.resetParam(this.#ctx, name));
  }
  listParams(): params.ParamRow[] {
    return this.#call(() => params.listParams(this.#ctx));
  }

  // devices, security profiles, phone feature list
  addDevice(d: devices.DeviceInput): devices.DeviceRow {
    return this.#call(() => devices.addDevice(this.#ctx, d));
  }
  getDevice(name: string): devices.DeviceRow | undefined {
    return this.#call(() => devices.getDevice(this.#ctx, name));
  }
  listDevices(): devices.DeviceRow[] {
    return this.#call(() => devices.listDevices(this.#ctx));
  }
  updateDevice(name: string, patch: devices.DevicePatch): devices.DeviceRow {
    return this.#call(() => devices.updateDevice(this.#ctx, name, patch));
  }
  removeDevice(name: string): void {
    this.#call(() => devices.removeDevice(this.#ctx, name));
  }
  getSecurityProfile(name: string): profiles.SecurityProfileRow | undefined {
    return this.#call(() => profiles.getSecurityProfile(this.#ctx, name));
  }
  listSecurityProfiles(): profiles.SecurityProfileRow[] {
    return this.#call(() => profiles.listSecurityProfiles(this.#ctx));
  }
  putSecurityProfile(p: profiles.SecurityProfileInput): profiles.SecurityProfileRow {
    return this.#call(() => profiles.putSecurityProfile(this.#ctx, p));
  }
  removeSecurityProfile(name: string): void {
    this.#call(() => profiles.removeSecurityProfile(this.#ctx, name));
  }
  getModelFeatures(model: string): models.ModelFeaturesRow | undefined {
    return this.#call(() => models.getModelFeatures(this.#ctx, model));
  }
  listModelFeatures(): models.ModelFeaturesRow[] {
    return this.#call(() => models.listModelFeatures(this.#ctx));
  }
  putModelFeatures(model: string, f: models.ModelFeatures): models.ModelFeaturesRow {
    return this.#call(() => models.putModelFeatures(this.#ctx, model, f));
  }
  setModelResetMethod(model: string, method: models.ModelResetMethod | null): models.ModelFeaturesRow {
    return this.#call(() => models.setModelResetMethod(this.#ctx, model, method));
  }

  // users and digest credentials
  putUser(u: users.UserInput): users.UserRow {
    return this.#call(() => users.putUser(this.#ctx, u));
  }
  getUser(userid: string): users.UserRow | undefined {
    return this.#call(() => users.getUser(this.#ctx, userid));
  }
  listUsers(): users.UserRow[] {
    return this.#call(() => users.listUsers(this.#ctx));
  }
  removeUser(userid: string): void {
    this.#call(() => users.removeUser(this.#ctx, userid));
  }
  recordLoginResult(userid: string, ok: boolean): users.UserRow {
    return this.#call(() => users.recordLoginResult(this.#ctx, userid, ok));
  }
  isUserLocked(userid: string): boolean {
    return this.#call(() => users.isUserLocked(this.#ctx, userid));
  }
  unlockUser(userid: string): void {
    this.#call(() => users.unlockUser(this.#ctx, userid));
  }
  putDigestCredential(userid: string, realm: string, ha1Md5: string, ha1Sha256: string | null, passwordEnc: Buffer | null = null): void {
    this.#call(() => users.putDigestCredential(this.#ctx, userid, realm, ha1Md5, ha1Sha256, passwordEnc));
  }
  getDigestCredential(userid: string, realm: string): users.DigestCredentialRow | undefined {
    return this.#call(() => users.getDigestCredential(this.#ctx, userid, realm));
  }
  listDigestCredentials(): users.DigestCredentialRow[] {
    return this.#call(() => users.listDigestCredentials(this.#ctx));
  }

  // ITL hashes
  recordServerItlHash(server: string, file: string, sha256Hex: string, at: string): void {
    this.#call(() => itl.recordServerItlHash(this.#ctx, server, file, sha256Hex, at));
  }
  listServerItlHashes(): itl.ServerItlHashRow[] {
    return this.#call(() => itl.listServerItlHashes(this.#ctx));
  }
  recordDeviceItlHash(device: string, sha256Hex: string, at: string, status?: string | null): void {
    this.#call(() => itl.recordDeviceItlHash(this.#ctx, device, sha256Hex, at, status));
  }
  getDeviceItlHash(device: string): itl.DeviceItlHashRow | undefined {
    return this.#call(() => itl.getDeviceItlHash(this.#ctx, device));
  }
  listDeviceItlHashes(): itl.DeviceItlHashRow[] {
    return this.#call(() => itl.listDeviceItlHashes(this.#ctx));
  }

  // trust lists served per TFTP server, and phones' DeviceTLInfo reports (trust-reports.ts)
  recordServedTrustFile(server: string, file: string, bytes: Buffer, at: string): void {
    this.#call(() => trust.recordServedTrustFile(this.#ctx, server, file, bytes, at));
  }
  removeServedTrustFile(server: string, file: string): boolean {
    return this.#call(() => trust.removeServedTrustFile(this.#ctx, server, file));
  }
  listServedTrustFiles(file?: trust.TrustListFile): trust.ServedTrustFileRow[] {
    return this.#call(() => trust.listServedTrustFiles(this.#ctx, file));
  }
  recordDeviceTrustReport(device: string, r: trust.DeviceTrustReportInput, at: string): 'changed' | 'touched' {
    return this.#call(() => trust.recordDeviceTrustReport(this.#ctx, device, r, at));
  }
  getDeviceTrustReport(device: string): trust.DeviceTrustReportRow | undefined {
    return this.#call(() => trust.getDeviceTrustReport(this.#ctx, device));
  }
  listDeviceTrustReports(): trust.DeviceTrustReportRow[] {
    return this.#call(() => trust.listDeviceTrustReports(this.#ctx));
  }
  deleteDeviceTrustReport(device: string): boolean {
    return this.#call(() => trust.deleteDeviceTrustReport(this.#ctx, device));
  }

  /** SIP partitions, calling search spaces, presence groups, trunks (src/store/sip.ts). */
  get sip(): SipTables {
    return new SipTables(this.#ctx);
  }

  // audit log
  appendAudit(a: audit.AuditInput): audit.AuditEntry {
    return this.#call(() => audit.appendAudit(this.#ctx, a));
  }
  listAudit(options?: { limit?: number }): audit.AuditEntry[] {
    return this.#call(() => audit.listAudit(this.#ctx, options));
  }
}

/** Opens (creating or migrating as needed) the store at `path`. See OpenStoreOptions for defaults. */
export function openStore(path: string, options: OpenStoreOptions = {}): Store {
  const clock = options.clock ?? systemClock;
  const db = openDatabase(path, options, clock);
  return new Store(path, db, clock, options.readonly ?? false);
}
