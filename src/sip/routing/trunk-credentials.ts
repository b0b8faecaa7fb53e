/**
 * The trunk credentials the router answers a far end's 401/407 with: the store's row for (trunk, realm), its
 * password decrypted with the appliance's key (trunk-secret.ts). A row that does not decrypt (key replaced,
 * row copied from another appliance) is logged once per trunk and realm and treated as no credential: the
 * challenge then goes to the phone, as without a credential, and the daemon keeps running.
 */
import type { Store } from '../../store/index.js';
import type { StateLayout } from '../../store/state.js';
import type { Logger } from '../../lib/log.js';
import { decryptTrunkPassword, TrunkSecretError } from '../auth/trunk-secret.js';
import type { TrunkCredential, TrunkCredentialLookup } from './trunk-challenge.js';

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
