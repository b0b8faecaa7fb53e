/**
 * What TVS reads from the store, and nothing more (issue 17 item 4): the nodes and certificates it vouches for
 * (current and history, in one consistent read), its own identity, the TLS cipher list, and the generation that
 * says when to read them again. `Store` implements it as it is; a second store engine implements just this.
 */
import type { Store } from '../store/index.js';

export type TvsTrustView = Pick<Store, 'generation' | 'snapshot' | 'listNodes' | 'listCertificates' | 'currentCertificate' | 'getParam'>;
