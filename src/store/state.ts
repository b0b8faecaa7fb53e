/** Opening an appliance state folder: `<dir>/sbd.db` (the store) and `<dir>/keys/` (private keys, 0700). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from './index.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { readClusterNode, subscriberRefusal } from './pg/cluster-node.js';

export interface StateLayout {
  dir: string;
  dbPath: string;
  keysDir: string;
}

export function stateLayout(dir: string): StateLayout {
  return { dir, dbPath: join(dir, 'sbd.db'), keysDir: join(dir, 'keys') };
}

export interface State {
  layout: StateLayout;
  store: Store;
}

export function openState(dir: string, options: { create?: boolean; readonly?: boolean } = {}): State {
  const layout = stateLayout(dir);
  if (!options.create && !existsSync(layout.dbPath)) {
    // A cluster subscriber has no store of record (issue 21): say where administration happens.
    const node = readClusterNode(dir);
    if (node?.role === 'subscriber') throw subscriberRefusal(node);
    throw new StoreError(StoreErrorCode.stateMissing, `no sbd store at ${layout.dbPath}: run "sbd init --state ${dir}" first`);
  }
  const store = openStore(layout.dbPath, { create: options.create ?? false, ...(options.readonly ? { readonly: true } : {}) });
  return { layout, store };
}

export function withState<T>(dir: string, fn: (s: State) => T, options: { create?: boolean; readonly?: boolean } = {}): T {
  const s = openState(dir, options);
  try {
    return fn(s);
  } finally {
    s.store.close();
  }
}
