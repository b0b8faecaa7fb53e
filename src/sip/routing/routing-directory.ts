/** What the router asks the store: routing settings, trunks, presence policy, the SRTP policy. */
import type { RoutePatternRow, SipRequestAcl, Store, TrunkRow } from '../../store/index.js';
import { SRTP_SUITES } from '../../store/index.js';
import type { Suite } from '../../sdp/suites.js';
import type { CryptoPolicy } from '../sdp/crypto-policy.js';

export interface RoutingDirectory {
  deviceSettings(device: string): { partition: string | null; css: string | null; presenceGroup: string | null } | undefined;
  cssPartitions(css: string): string[] | undefined;
  trunkByHost(address: string): TrunkRow | undefined;
  trunk(name: string): TrunkRow | undefined;
  appUserAcl(userid: string): SipRequestAcl;
  routePatterns(): RoutePatternRow[];
  /** Explicit policy between two presence groups; undefined → the router's default. */
  presencePolicy(subscriberGroup: string, targetGroup: string): boolean | undefined;
  cryptoPolicy(): CryptoPolicy;
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
