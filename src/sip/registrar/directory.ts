/**
 * What the registrar and the router ask the store, behind one interface so the cores stay sans-I/O and tests
 * can use a real store in a temporary folder. `StoreDirectory` caches the lookups and refreshes the cache when
 * the store's generation changes (checked at most once per `refreshMs`), so a REGISTER costs no SQL in the
 * steady state while an administrator's change is seen within that interval.
 */
import { X509Certificate } from 'node:crypto';
import type { DigestAlgorithm } from '../core/digest.js';
import type { Store } from '../../store/index.js';
import { ItlReportStatus, recordPhoneItlReport } from '../../reports/itl-status.js';
import { AutoregError, autoRegisterPhone } from '../../cluster/autoreg.js';
import type { AutoregDecision } from '../auth/autoreg-limiter.js';

/** An AOR's user part resolved to who may register it. */
export type AorOwner =
  | {
      kind: 'device';
      device: string;
      /** The digest user the device authenticates as (null: the device has none configured). */
      digestUser: string | null;
      digestRequired: boolean;
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
  lookupHa1(username: string, realm: string, algorithm: DigestAlgorithm): string | undefined;
  resolveAor(user: string): AorOwner | undefined;
  /** A phone reported its ITL hash (status 'installed' or 'not-installed'). */
  recordItlReport(device: string, sha256Hex: string, status: string, at: number): void;
  /** The phone unregistered: its report goes. */
  clearItlReport(device: string): void;
  /**
   * A REGISTER whose AOR is a device name (SEP + MAC): the device with its directory number, or, when the store
   * does not know it, autoregistration (AutoRegistration parameter, src/cluster/autoreg.ts) with `model`, when
   * `mayCreate` (the rate limit, src/sip/auth/autoreg-limiter.ts) allows a new device now.
   */
  deviceByName(name: string, model: string | undefined, mayCreate?: () => AutoregDecision): DeviceByName;
}

export interface StoreDirectoryOptions {
  /** Minimum interval between generation checks; default 1000 ms. */
  refreshMs?: number;
  /** A report identical to the stored one is written again only after this long; default 3600 s. */
  itlRewriteSeconds?: number;
  now?: () => number;
}

export class StoreDirectory implements Directory {
  private readonly store: Store;
  private readonly refreshMs: number;
  private readonly itlRewriteMs: number;
  private readonly now: () => number;
  private generation = -1;
  private checkedAt = -Infinity;
  private realmValue = '';
  private ha1 = new Map<string, { md5: string; sha256: string | null } | null>();
  private owners = new Map<string, AorOwner | null>();
  private byDn = new Map<string, string>();
  /** The maps hold every credential and end user of this generation: a miss is a definite "unknown". */
  private complete = false;

  constructor(store: Store, o: StoreDirectoryOptions = {}) {
    this.store = store;
    this.refreshMs = o.refreshMs ?? 1000;
    this.itlRewriteMs = (o.itlRewriteSeconds ?? 3600) * 1000;
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
    for (const d of this.store.listDevices()) if (d.directoryNumber) this.byDn.set(d.directoryNumber, d.name);
    // One query for every credential and end user instead of one per REGISTER of a phone not seen since the
    // last change: 10,000 phones registering after a restart or an administrator's edit cost no SQL each.
    for (const c of this.store.listDigestCredentials()) this.ha1.set(`${c.userid}\u0000${c.realm}`, { md5: c.ha1Md5, sha256: c.ha1Sha256 });
    for (const u of this.store.listUsers()) if (u.kind === 'end' && !this.byDn.has(u.userid)) this.owners.set(u.userid, { kind: 'user', userid: u.userid });
    this.complete = true;
  }

  realm(): string {
    this.fresh();
    return this.realmValue;
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
    return algorithm === 'MD5' ? c.md5 : c.sha256 ?? undefined;
  }

  resolveAor(user: string): AorOwner | undefined {
    this.fresh();
    let o = this.owners.get(user);
    if (o === undefined) {
      o = this.load(user) ?? null;
      this.owners.set(user, o);
    }
    return o ?? undefined;
  }

  deviceByName(name: string, model: string | undefined, mayCreate?: () => AutoregDecision): DeviceByName {
    this.fresh();
    const upper = name.toUpperCase();
    let autoRegistered = false;
    let d = this.store.getDevice(upper);
    if (!d) {
      if (model === undefined) return { kind: 'refused', code: 'ERR_SIP_AUTOREG_MODEL', status: 404, reason: 'Not Found (unknown device, and no model in User-Agent to autoregister it)' };
      if (mayCreate && this.store.getBoolParam('AutoRegistration')) {
        const allowed = mayCreate();
        if (!allowed.ok) {
          return { kind: 'refused', code: 'ERR_SIP_AUTOREG_RATE', status: 503, retryAfterSeconds: allowed.retryAfterSeconds,
            reason: `Service Unavailable (autoregistration rate limit of ${allowed.scope === 'source' ? 'this source address' : 'the appliance'} reached)` };
        }
      }
      try {
        const r = autoRegisterPhone(this.store, { deviceName: upper, model });
        d = r.device;
        autoRegistered = r.kind === 'registered';
      } catch (err) {
        if (!(err instanceof AutoregError)) throw err;
        // Autoregistration off looks like any unknown AOR (404); a full range or the wrong mode is the server's state (503).
        return err.code === 'ERR_AUTOREG_DISABLED'
          ? { kind: 'refused', code: err.code, status: 404, reason: 'Not Found' }
          : { kind: 'refused', code: err.code, status: 503, reason: `Service Unavailable (${err.message})` };
      }
      // The store changed: the next lookup reloads the caches (the new number must resolve at once).
      this.checkedAt = -Infinity;
      this.fresh();
    }
    if (!d.directoryNumber) return { kind: 'refused', code: 'ERR_SIP_NO_DN', status: 404, reason: `Not Found (${d.name} has no directory number)` };
    const owner = this.resolveAor(d.directoryNumber);
    if (owner?.kind !== 'device' || owner.device !== d.name) return { kind: 'refused', code: 'ERR_SIP_NO_DN', status: 404, reason: `Not Found (${d.directoryNumber} is not ${d.name}'s line)` };
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
        kind: 'device', device: d.name, digestUser: d.digestUser, digestRequired: p?.digestAuth ?? true,
        mutualTls: p !== undefined && p.deviceSecurityMode !== 'non-secure', lscFingerprint256: fp,
      };
    }
    const u = this.store.getUser(user);
    if (u && u.kind === 'end') return { kind: 'user', userid: u.userid };
    return undefined;
  }

  recordItlReport(device: string, sha256Hex: string, status: string, at: number): void {
    const cur = this.store.getDeviceItlHash(device);
    if (cur && cur.sha256Hex === sha256Hex.toLowerCase() && cur.status === status && at - Date.parse(cur.at) < this.itlRewriteMs) return;
    recordPhoneItlReport(this.store, {
      device, sha256Hex, at: new Date(at).toISOString(),
      status: status === ItlReportStatus.notInstalled ? ItlReportStatus.notInstalled : ItlReportStatus.installed,
    });
  }

  clearItlReport(device: string): void {
    this.store.sip.deleteDeviceItlHash(device);
  }
}
