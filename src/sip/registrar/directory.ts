/**
 * What the registrar and the router ask the store, behind one interface so the cores stay sans-I/O and tests
 * can use a real store in a temporary folder. `StoreDirectory` caches the lookups and refreshes the cache when
 * the store's generation changes (checked at most once per `refreshMs`), so a REGISTER costs no SQL in the
 * steady state while an administrator's change is seen within that interval.
 *
 * Nothing is cached per name an unauthenticated request chooses (row 6 of issue 16): the caches hold what the
 * store holds (its devices, end users and credentials, loaded whole per generation), so a name missing from
 * them is a definite "unknown", answered after one generation read (a name added since is seen at once) and
 * never remembered.
 */
import { X509Certificate } from 'node:crypto';
import type { DigestAlgorithm } from '../core/auth/digest.js';
import type { DeviceRow, DeviceTrustReportInput, Store } from '../../store/index.js';
import type { AutoregDecision } from '../auth/autoreg-limiter.js';
import type { LockoutPolicy } from '../auth/digest-gate.js';
import { DEFAULT_SECURITY_PROFILE, PROFILE_DEFAULTS } from '../../store/index.js';

/** An AOR's user part resolved to who may register it. */
export type AorOwner =
  | {
      kind: 'device';
      device: string;
      /** The digest user the device authenticates as (null: the device has none configured). */
      digestUser: string | null;
      /** The profile asks for digest (even when false, digest is required unless the LSC over TLS proved the phone). */
      digestRequired: boolean;
      /** The profile's challenge algorithms, most preferred first. */
      digestAlgorithms: readonly DigestAlgorithm[];
      /** The profile's nonce validity time: seconds a digest nonce challenged to the device is accepted. */
      nonceValiditySeconds: number;
      /** The device's security profile is authenticated/encrypted: TLS with its LSC is required. */
      mutualTls: boolean;
      /** SHA-256 fingerprint (AA:BB:… as node prints it) of the device's LSC, when it has one. */
      lscFingerprint256: string | null;
    }
  | { kind: 'user'; userid: string };

/** A device found (or just added by autoregistration) by its name, with the number it registers on. */
export type DeviceByName =
  | { kind: 'device'; owner: Extract<AorOwner, { kind: 'device' }>; directoryNumber: string; autoRegistered: boolean }
  | { kind: 'refused'; code: string; status: 404 | 503; reason: string; retryAfterSeconds?: number };

export interface Directory {
  realm(): string;
  /** Challenge algorithms for an AOR that is not a device (a line user, an unknown name): the default profile's. */
  defaultDigestAlgorithms(): readonly DigestAlgorithm[];
  /** Nonce validity (seconds) for an AOR that is not a device: the default profile's. */
  defaultNonceValiditySeconds(): number;
  /** The store's CredentialLockoutThreshold (0 = never) and CredentialLockoutMinutes. */
  lockoutPolicy(): LockoutPolicy;
  /** The store locked this account (failed logins); a SIP digest for it is refused too. */
  accountLocked(username: string, now: number): boolean;
  lookupHa1(username: string, realm: string, algorithm: DigestAlgorithm): string | undefined;
  resolveAor(user: string): AorOwner | undefined;
  /** A phone reported its ITL hash (status 'installed' or 'not-installed'). */
  recordItlReport(device: string, sha256Hex: string, status: string, at: number): void;
  /** The phone unregistered: its report goes. */
  clearItlReport(device: string): void;
  /**
   * An authenticated phone's DeviceTLInfo alarm (src/sip/alarm/device-tl-info.ts): its ITL/CTL signatures and TFTP
   * servers, kept per device (they stay after it unregisters: the phone still holds those lists). 'touched': the
   * same report as before, only its time moved (no store generation bump).
   */
  recordTrustReport(device: string, report: DeviceTrustReportInput, at: number): 'changed' | 'touched';
  /**
   * A REGISTER whose AOR is a device name (SEP + MAC): the device with its directory number, or, when the store
   * does not know it, autoregistration (`StoreDirectoryOptions.autoRegister`: the AutoRegistration parameter, src/cluster/autoreg.ts) with `model`, when
   * `mayCreate` (the rate limit, src/sip/auth/autoreg-limiter.ts) allows a new device now.
   */
  deviceByName(name: string, model: string | undefined, mayCreate?: () => AutoregDecision): DeviceByName;
}

/**
 * Autoregistration of an unknown device, decided by the appliance (the daemon wires cluster/autoreg.ts in,
 * src/daemons/sip-directory.ts): the device it created or found, or why it refused (a stable error code).
 */
export type AutoRegister = (
  deviceName: string,
  model: string,
) => { kind: 'registered' | 'known'; device: DeviceRow } | { kind: 'refused'; code: string; message: string };

/** Stores a phone's ITL report (the daemon wires reports/itl-status.ts in); `at` is ISO 8601. */
export type RecordItlReport = (report: { device: string; sha256Hex: string; status: string; at: string }) => void;

export interface StoreDirectoryOptions {
  /** Minimum interval between generation checks; default 1000 ms. */
  refreshMs?: number;
  now?: () => number;
  /** What the directory does when a REGISTER names a device the store does not know. */
  autoRegister: AutoRegister;
  /** What it does with a phone's ITL report that differs from the stored one. */
  recordItlReport: RecordItlReport;
}

export class StoreDirectory implements Directory {
  private readonly store: Store;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private generation = -1;
  private checkedAt = -Infinity;
  private realmValue = '';
  private ha1 = new Map<string, { md5: string; sha256: string | null } | null>();
  /** Device owners loaded on first use (at most one per device) and every end user; never an unknown name. */
  private owners = new Map<string, AorOwner>();
  private defaultAlgorithms: readonly DigestAlgorithm[] = ['MD5'];
  private defaultNonceValidity: number = PROFILE_DEFAULTS.nonceValiditySeconds;
  private lockout: LockoutPolicy = { threshold: 0, minutes: 30 };
  /** userid → locked until (ms), for accounts the store has locked. */
  private locked = new Map<string, number>();
  /** device → the last ITL report stored ("hash;status"), so a repeated report costs no store access. */
  private itlReports = new Map<string, string>();
  private byDn = new Map<string, string>();
  /** The maps hold every credential and end user of this generation: a miss is a definite "unknown". */
  private complete = false;
  private readonly autoRegister: AutoRegister;
  private readonly storeItlReport: RecordItlReport;

  constructor(store: Store, o: StoreDirectoryOptions) {
    this.store = store;
    this.autoRegister = o.autoRegister;
    this.storeItlReport = o.recordItlReport;
    this.refreshMs = o.refreshMs ?? 1000;
    this.now = o.now ?? Date.now;
  }

  private fresh(): void {
    const t = this.now();
    if (t - this.checkedAt < this.refreshMs) return;
    this.checkedAt = t;
    const g = this.store.generation();
    if (g === this.generation) return;
    this.generation = g;
    this.realmValue = this.store.getParam('SipStationRealm');
    this.ha1.clear();
    this.owners.clear();
    this.byDn.clear();
    this.locked.clear();
    this.itlReports.clear();
    const universal = this.store.getSecurityProfile(DEFAULT_SECURITY_PROFILE);
    this.defaultAlgorithms = universal?.digestAlgorithms ?? ['MD5'];
    this.defaultNonceValidity = universal?.nonceValiditySeconds ?? PROFILE_DEFAULTS.nonceValiditySeconds;
    this.lockout = {
      threshold: this.store.getIntParam('CredentialLockoutThreshold'),
      minutes: this.store.getIntParam('CredentialLockoutMinutes'),
    };
    for (const d of this.store.listDevices()) if (d.directoryNumber) this.byDn.set(d.directoryNumber, d.name);
    // One query for every credential and end user instead of one per REGISTER of a phone not seen since the
    // last change: 10,000 phones registering after a restart or an administrator's edit cost no SQL each.
    for (const c of this.store.listDigestCredentials()) this.ha1.set(`${c.userid}\u0000${c.realm}`, { md5: c.ha1Md5, sha256: c.ha1Sha256 });
    for (const u of this.store.listUsers()) {
      if (u.kind === 'end' && !this.byDn.has(u.userid)) this.owners.set(u.userid, { kind: 'user', userid: u.userid });
      if (u.lockedUntil !== null) this.locked.set(u.userid, Date.parse(u.lockedUntil));
    }
    this.complete = true;
  }

  realm(): string {
    this.fresh();
    return this.realmValue;
  }

  defaultDigestAlgorithms(): readonly DigestAlgorithm[] {
    this.fresh();
    return this.defaultAlgorithms;
  }

  defaultNonceValiditySeconds(): number {
    this.fresh();
    return this.defaultNonceValidity;
  }

  lockoutPolicy(): LockoutPolicy {
    this.fresh();
    return this.lockout;
  }

  accountLocked(username: string, now: number): boolean {
    this.fresh();
    const until = this.locked.get(username);
    return until !== undefined && until > now;
  }

  /** Owners cached now (tests: nothing is cached for names the store does not know). */
  get cachedOwners(): number {
    return this.owners.size;
  }

  lookupHa1(username: string, realm: string, algorithm: DigestAlgorithm): string | undefined {
    this.fresh();
    const key = `${username}\u0000${realm}`;
    let c = this.ha1.get(key);
    if (c === undefined && this.complete) {
      // Not in this generation's full load: a user added since then is seen at once (one generation read).
      this.checkedAt = -Infinity;
      this.fresh();
      c = this.ha1.get(key) ?? null;
    }
    if (c === undefined) {
      const row = this.store.getDigestCredential(username, realm);
      c = row ? { md5: row.ha1Md5, sha256: row.ha1Sha256 } : null;
      this.ha1.set(key, c);
    }
    if (c === null) return undefined;
    return algorithm === 'MD5' ? c.md5 : (c.sha256 ?? undefined);
  }

  resolveAor(user: string): AorOwner | undefined {
    this.fresh();
    let o = this.owners.get(user);
    if (o === undefined) {
      // Every end user is in `owners` and every device number in `byDn`: anything else is unknown, not cached.
      // A name added since the last load is seen at once (one generation read, as in lookupHa1).
      if (!this.byDn.has(user)) {
        this.checkedAt = -Infinity;
        this.fresh();
        o = this.owners.get(user);
        if (o !== undefined || !this.byDn.has(user)) return o;
      }
      o = this.load(user);
      if (o) this.owners.set(user, o);
    }
    return o;
  }

  deviceByName(name: string, model: string | undefined, mayCreate?: () => AutoregDecision): DeviceByName {
    this.fresh();
    const upper = name.toUpperCase();
    let autoRegistered = false;
    let d = this.store.getDevice(upper);
    if (!d) {
      if (model === undefined)
        return {
          kind: 'refused',
          code: 'ERR_SIP_AUTOREG_MODEL',
          status: 404,
          reason: 'Not Found (unknown device, and no model in User-Agent to autoregister it)',
        };
      if (mayCreate && this.store.getBoolParam('AutoRegistration')) {
        const allowed = mayCreate();
        if (!allowed.ok) {
          return {
            kind: 'refused',
            code: 'ERR_SIP_AUTOREG_RATE',
            status: 503,
            retryAfterSeconds: allowed.retryAfterSeconds,
            reason: `Service Unavailable (autoregistration rate limit of ${allowed.scope === 'source' ? 'this source address' : 'the appliance'} reached)`,
          };
        }
      }
      const r = this.autoRegister(upper, model);
      if (r.kind === 'refused') {
        // Autoregistration off looks like any unknown AOR (404); a full range or the wrong mode is the server's state (503).
        return r.code === 'ERR_AUTOREG_DISABLED'
          ? { kind: 'refused', code: r.code, status: 404, reason: 'Not Found' }
          : { kind: 'refused', code: r.code, status: 503, reason: `Service Unavailable (${r.message})` };
      }
      d = r.device;
      autoRegistered = r.kind === 'registered';
      // The store changed: the next lookup reloads the caches (the new number must resolve at once).
      this.checkedAt = -Infinity;
      this.fresh();
    }
    if (!d.directoryNumber)
      return { kind: 'refused', code: 'ERR_SIP_NO_DN', status: 404, reason: `Not Found (${d.name} has no directory number)` };
    const owner = this.resolveAor(d.directoryNumber);
    if (owner?.kind !== 'device' || owner.device !== d.name)
      return { kind: 'refused', code: 'ERR_SIP_NO_DN', status: 404, reason: `Not Found (${d.directoryNumber} is not ${d.name}'s line)` };
    return { kind: 'device', owner, directoryNumber: d.directoryNumber, autoRegistered };
  }

  private load(user: string): AorOwner | undefined {
    const deviceName = this.byDn.get(user);
    if (deviceName) {
      const d = this.store.getDevice(deviceName)!;
      const p = this.store.getSecurityProfile(d.securityProfile);
      let fp: string | null = null;
      if (d.lscPem) {
        try {
          fp = new X509Certificate(d.lscPem).fingerprint256;
        } catch {
          fp = null; // an unreadable LSC matches no client certificate
        }
      }
      return {
        kind: 'device',
        device: d.name,
        digestUser: d.digestUser,
        digestRequired: p?.digestAuth ?? true,
        digestAlgorithms: p?.digestAlgorithms ?? this.defaultAlgorithms,
        nonceValiditySeconds: p?.nonceValiditySeconds ?? this.defaultNonceValidity,
        mutualTls: p !== undefined && p.deviceSecurityMode !== 'non-secure',
        lscFingerprint256: fp,
      };
    }
    return undefined;
  }

  /** A report equal to the stored one changes nothing and writes nothing (a write would renew every cache). */
  recordItlReport(device: string, sha256Hex: string, status: string, at: number): void {
    this.fresh();
    const report = `${sha256Hex.toLowerCase()};${status}`;
    if (this.itlReports.get(device) === report) return;
    const cur = this.store.getDeviceItlHash(device);
    if (cur && `${cur.sha256Hex};${cur.status}` === report) {
      this.itlReports.set(device, report);
      return;
    }
    this.itlReports.set(device, report);
    this.storeItlReport({ device, sha256Hex, status, at: new Date(at).toISOString() });
  }

  recordTrustReport(device: string, report: DeviceTrustReportInput, at: number): 'changed' | 'touched' {
    return this.store.recordDeviceTrustReport(device, report, new Date(at).toISOString());
  }

  clearItlReport(device: string): void {
    this.itlReports.delete(device);
    this.store.sip.deleteDeviceItlHash(device);
  }
}
