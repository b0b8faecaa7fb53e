/**
 * TVS's `TvsTrustView` (src/tvs/trust-view.ts) over each store engine (issue 17 item 4, issue 21), one adapter per
 * engine so sbd-tvsd's server can reach nothing else of the store:
 * - `tvsTrustView`: the SQLite store, each method the store's own query, handed over one by one;
 * - `pgTvsTrustView`: PostgreSQL, every method answered from the node's in-memory copy (store/pg/trust-cache.ts),
 *   which polls the generation row of the local primary or standby, so the interface stays synchronous.
 */
import type { Store } from '../../store/index.js';
import type { PgTrustCache } from '../../store/pg/trust-cache.js';
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

export function pgTvsTrustView(cache: PgTrustCache): TvsTrustView {
  return {
    generation: () => cache.generation(),
    // The cache swaps whole states between event-loop turns: a synchronous read already sees one state.
    snapshot: (read) => read(),
    listNodes: () => cache.nodes(),
    listCertificates: () => cache.certificates(),
    currentCertificate: (name, node) => cache.currentCertificate(name, node),
    getParam: (name) => cache.param(name),
  };
}
