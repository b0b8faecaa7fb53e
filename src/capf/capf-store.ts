/**
 * What CAPF reads and writes in the store, and nothing more (issue 17 item 4): its identity and the trust anchors
 * (certificates, nodes, cipher list, generation), the device rows whose pending operation it carries out and
 * records (get, update, in a transaction), and the audit log. `Store` implements it as it is; a second store
 * engine implements just this.
 */
import type { Store } from '../store/index.js';

export type CapfStore = Pick<
  Store,
  | 'generation'
  | 'getParam'
  | 'listNodes'
  | 'currentCertificate'
  | 'listCertificates'
  | 'getDevice'
  | 'updateDevice'
  | 'transaction'
  | 'appendAudit'
>;
