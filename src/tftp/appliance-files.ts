/**
 * What the appliance's TFTP file source (appliance-source.ts) asks of the store, and nothing more (issue 17
 * item 4): the generated files built for a given time, the generation that says when to build them again, the
 * known devices, and where it records the trust lists it serves. TFTP decides names, caching and revalidation;
 * the implementation only builds and records. The store-backed one is src/daemons/adapters/tftp-store.ts; a second
 * store engine implements just this. Synchronous on purpose (docs/architecture.md: what a networked store needs).
 */
import type { Clock } from '../lib/clock.js';

export type TrustListFile = 'ITLFile.tlv' | 'CTLFile.tlv';
export type DeviceConfigSuffix = '.cnf.xml' | '.cnf.xml.sgn' | '.cnf.xml.enc.sgn';

/** A known device as TFTP sees it. */
export interface TftpDevice {
  name: string;
  /** Its model has Security by Default: its `.cnf.xml.sgn` and `.cnf.xml.enc.sgn` exist. */
  securityByDefault: boolean;
}

export interface ApplianceFiles {
  /** Moves on every write to the store; files built at an older generation are revalidated on their next request. */
  generation(): number;
  /** The file where the store publishes its generation (u64 LE), for the native data plane's cache. */
  readonly generationFile?: string | undefined;
  /** Runs `read` on one consistent state of the store, so a built file never mixes two states. */
  snapshot<T>(read: () => T): T;
  /** The ITL signed at `clock`'s time (the rollback form while PrepareClusterForRollback is true). */
  itl(clock: Clock): Buffer;
  /** The CTL; undefined outside mixed mode. */
  ctl(clock: Clock): Buffer | undefined;
  /** XMLDefault.cnf.xml, or XMLDefault.cnf.xml.sgn when `signed`. */
  defaultConfig(signed: boolean, clock: Clock): Buffer;
  /** The device named `name` (upper-case SEP + MAC), read now. */
  device(name: string): TftpDevice | undefined;
  /** Every known device (prebuild). */
  devices(): TftpDevice[];
  /** A device's config file; undefined when the device is gone or the file cannot exist (no key to encrypt to). */
  deviceConfig(name: string, suffix: DeviceConfigSuffix, clock: Clock): Buffer | undefined;
  /** `body` as `filename` (NAME.sgn) signed by this node's CallManager key at `clock`'s time. */
  signStatic(filename: string, body: Buffer, clock: Clock): Buffer;
  /** SHA-256 (hex) of the trust list this node last recorded as served, undefined when none. */
  servedSha256(file: TrustListFile): string | undefined;
  /** Records what this node serves now (ITL File Status, `show itl`); undefined: it serves none. A store write. */
  recordServed(file: TrustListFile, bytes: Buffer | undefined, at: Date): void;
}
