/**
 * TVS's `TvsTrustView` (src/tvs/trust-view.ts) over the SQLite store (issue 17 item 4): each method is the store's
 * own query, handed over one by one so sbd-tvsd's server can reach nothing else of the store.
 */
import type { Store } from '../../store/index.js';
import type { TvsTrustView } from '../../tvs/trust-view.js';

export function tvsTrustView(store: Store): TvsTrustView {
  return {
    generation: () => store.generation(),
    snapshot: (read) => store.snapshot(read),
    listNodes: () => store.listNodes(),
    listCertificates: (options) => store.listCertificates(options),
    currentCertificate: (name, node) => store.currentCertificate(name, node),
    getParam: (name) => store.getParam(name),
  };
}
