/**
 * What the registrar and the router ask the store, behind one interface (issue 17 item 4): the registrar sees
 * nothing else, so its tests can run it over a small in-memory directory. The store-backed implementation, with
 * its generation-keyed caches, autoregistration and ITL reports, is src/daemons/adapters/sip-store.ts
 * (`ApplianceDirectory`).
 */
import type { DigestAlgorithm } from '../core/auth/digest.js';
import type { DeviceTrustReportInput } from '../../store/index.js';
import type { AutoregDecision } from '../auth/autoreg-limiter.js';
import type { LockoutPolicy } from '../auth/digest-gate.js';

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

/** The directory's own refusal codes (autoregistration's refusals keep the codes the use case gave them). */
export const DirectoryRefusalCode = {
  autoregModel: 'ERR_SIP_AUTOREG_MODEL',
  autoregRate: 'ERR_SIP_AUTOREG_RATE',
  noDirectoryNumber: 'ERR_SIP_NO_DN',
} as const;

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
   * does not know it, autoregistration with `model` (the AutoRegistration parameter; the appliance decides it with
   * src/cluster/autoreg.ts), when `mayCreate` (the rate limit, src/sip/auth/autoreg-limiter.ts) allows a new device now.
   */
  deviceByName(name: string, model: string | undefined, mayCreate?: () => AutoregDecision): DeviceByName;
}
