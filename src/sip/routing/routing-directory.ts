/**
 * What the router asks the store: routing settings, trunks, presence policy, the SRTP policy (issue 17 item 4).
 * The store-backed implementation is src/daemons/adapters/sip-store.ts (`StoreRoutingDirectory`).
 */
import type { RoutePatternRow, SipRequestAcl, TrunkRow } from '../../store/index.js';
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
