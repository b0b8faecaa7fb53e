/**
 * SIP's views of the store in one adapter (issue 17 item 4); sip/ declares them and imports none of this: the
 * registrar's `Directory` (with autoregistration by cluster/autoreg.ts and ITL reports by reports/itl-status.ts),
 * the router's `RoutingDirectory` and trunk credentials, and phone control's `PhoneControlDirectory`.
 *
 * `ApplianceDirectory` caches the lookups and refreshes the cache when the store's generation changes (checked at
 * most once per `refreshMs`), so a REGISTER costs no SQL in the steady state while an administrator's change is
 * seen within that interval. Nothing is cached per name an unauthenticated request chooses (issue 16 row 6): the
 * caches hold what the store holds (devices, end users, credentials, loaded whole per generation), so a missing
 * name is a definite "unknown", answered after one generation read and never remembered.
 */
import { X509Certificate } from 'node:crypto';
import { AutoregError, autoRegisterPhone } from '../../cluster/autoreg.js';
import type { Logger } from '../../lib/log.js';
import { ItlReportStatus, recordPhoneItlReport } from '../../reports/itl-status.js';
import type { Suite } from '../../sdp/suites.js';
import { decryptTrunkPassword, TrunkSecretError } from '../../sip/auth/trunk-secret.js';
import type { AutoregDecision } from '../../sip/auth/autoreg-limiter.js';
import type { LockoutPolicy } from '../../sip/auth/digest-gate.js';
import type { DigestAlgorithm } from '../../sip/core/auth/digest.js';
import type { ControlledDevice, PhoneControlDirectory } from '../../sip/phone-control/directory.js';
import type { ResetSelect } from '../../sip/phone-control/control-protocol.js';
import type { ResetMethod } from '../../sip/phone-control/notify.js';
import { type AorOwner, type DeviceByName, type Directory, DirectoryRefusalCode } from '../../sip/registrar/directory.js';
import type { RoutingDirectory } from '../../sip/routing/routing-directory.js';
import type { TrunkCredential, TrunkCredentialLookup } from '../../sip/routing/trunk-challenge.js';
import type { CryptoPolicy } from '../../sip/sdp/crypto-policy.js';
import {
  DEFAULT_SECURITY_PROFILE,
  modelKey,
  PROFILE_DEFAULTS,
  SRTP_SUITES,
  type DeviceRow,
  type DeviceTrustReportInput,
  type RoutePatternRow,
  type SipRequestAcl,
  type Store,
  type TrunkRow,
} from '../../store/index.js';
import type { StateLayout } from '../../store/state.js';

export interface ApplianceDirectoryOptions {
  /** Minimum interval between generation checks; default 1000 ms. */
  refreshMs?: number;
  now?: () => number;
}

export class ApplianceDirectory implements Directory {
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

  constructor(store: Store, o: ApplianceDirectoryOptions = {}) {
    this.store = store;
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
          code: DirectoryRefusalCode.autoregModel,
          status: 404,
          reason: 'Not Found (unknown device, and no model in User-Agent to autoregister it)',
        };
      if (mayCreate && this.store.getBoolParam('AutoRegistration')) {
        const allowed = mayCreate();
        if (!allowed.ok) {
          return {
            kind: 'refused',
            code: DirectoryRefusalCode.autoregRate,
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
      return {
        kind: 'refused',
        code: DirectoryRefusalCode.noDirectoryNumber,
        status: 404,
        reason: `Not Found (${d.name} has no directory number)`,
      };
    const owner = this.resolveAor(d.directoryNumber);
    if (owner?.kind !== 'device' || owner.device !== d.name)
      return {
        kind: 'refused',
        code: DirectoryRefusalCode.noDirectoryNumber,
        status: 404,
        reason: `Not Found (${d.directoryNumber} is not ${d.name}'s line)`,
      };
    return { kind: 'device', owner, directoryNumber: d.directoryNumber, autoRegistered };
  }

  /** cluster/autoreg.ts decides (the AutoRegistration parameter, the number range); its refusals become values. */
  private autoRegister(
    deviceName: string,
    model: string,
  ): { kind: 'registered' | 'known'; device: DeviceRow } | { kind: 'refused'; code: string; message: string } {
    try {
      return autoRegisterPhone(this.store, { deviceName, model });
    } catch (err) {
      if (!(err instanceof AutoregError)) throw err;
      return { kind: 'refused', code: err.code, message: err.message };
    }
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
    recordPhoneItlReport(this.store, {
      device,
      sha256Hex,
      at: new Date(at).toISOString(),
      status: status === ItlReportStatus.notInstalled ? ItlReportStatus.notInstalled : ItlReportStatus.installed,
    });
  }

  recordTrustReport(device: string, report: DeviceTrustReportInput, at: number): 'changed' | 'touched' {
    return this.store.recordDeviceTrustReport(device, report, new Date(at).toISOString());
  }

  clearItlReport(device: string): void {
    this.itlReports.delete(device);
    this.store.sip.deleteDeviceItlHash(device);
  }
}

/** Straight store reads: INVITEs and SUBSCRIBEs are far rarer than REGISTERs, and SQLite reads cost microseconds. */
export class StoreRoutingDirectory implements RoutingDirectory {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  deviceSettings(device: string) {
    return this.store.sip.getDeviceSettings(device);
  }

  cssPartitions(css: string): string[] | undefined {
    return this.store.sip.getCss(css)?.partitions;
  }

  trunkByHost(address: string): TrunkRow | undefined {
    return this.store.sip.findTrunkByHost(address);
  }

  trunk(name: string): TrunkRow | undefined {
    return this.store.sip.getTrunk(name);
  }

  appUserAcl(userid: string): SipRequestAcl {
    return this.store.sip.getAppUserPermissions(userid);
  }

  routePatterns(): RoutePatternRow[] {
    return this.store.sip.listRoutePatterns();
  }

  presencePolicy(subscriberGroup: string, targetGroup: string): boolean | undefined {
    return this.store.sip.presencePolicy(subscriberGroup, targetGroup);
  }

  cryptoPolicy(): CryptoPolicy {
    const allowed = this.store
      .getParam('SRTPCiphers')
      .split(',')
      .filter((s): s is Suite => (SRTP_SUITES as readonly string[]).includes(s)) as Suite[];
    return { allowed, blockUnencrypted: this.store.getBoolParam('BlockUnencryptedCalls') };
  }
}

/**
 * The trunk credentials the router answers a far end's 401/407 with: the store's row for (trunk, realm), its
 * password decrypted with the appliance's key (sip/auth/trunk-secret.ts). A row that does not decrypt (key
 * replaced, row copied from another appliance) is logged once per trunk and realm and treated as no credential:
 * the challenge then goes to the phone, as without a credential, and the daemon keeps running.
 */
export function storeTrunkCredentials(store: Store, layout: StateLayout, log: Logger): TrunkCredentialLookup {
  const reported = new Set<string>();
  return (trunk: string, realm: string): TrunkCredential | undefined => {
    const row = store.sip.getTrunkCredential(trunk, realm);
    if (!row) return undefined;
    try {
      return { username: row.username, password: decryptTrunkPassword(layout, trunk, realm, row.passwordEnc) };
    } catch (err) {
      if (!(err instanceof TrunkSecretError)) throw err;
      const key = `${trunk}\u0000${realm}`;
      if (!reported.has(key) && reported.size < 1000) {
        reported.add(key);
        log.error('trunk-credential-unreadable', { trunk, realm, code: err.code, message: err.message });
      }
      return undefined;
    }
  };
}

/** Phone control's devices and a model's reset-method override, straight from the store. */
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
