/**
 * Call-manager groups as an administrator edits them (issue 21 item 4; CUCM's Unified CM Group and a phone's
 * "Device Pool"): a group is up to three call-control nodes in order (primary, secondary, tertiary); a phone's config
 * names its group's nodes and their TVS servers. `sbd cm-group ...` and the console's `set cmgroup` / `show cmgroup`
 * call these functions. A phone without a group uses `Default` when it exists, else every SIP node, publisher first.
 */
import { UsageError } from '../lib/errors.js';
import { CM_GROUP_LIMITS, DEFAULT_CM_GROUP, type CmGroupRow, type Store } from '../store/index.js';
import { derivedDefaultGroup, phoneCmGroup } from '../config/cm-groups.js';

export { CM_GROUP_LIMITS, DEFAULT_CM_GROUP };

/** Creates or replaces a group. Every member must be a node that runs call control (sip or callmanager). */
export function setCmGroup(store: Store, name: string, members: readonly string[]): CmGroupRow {
  if (members.length === 0 || members.length > CM_GROUP_LIMITS.maxMembers)
    throw new UsageError(`a call-manager group has 1 to ${CM_GROUP_LIMITS.maxMembers} nodes, primary first`);
  for (const m of members) {
    const node = store.getNode(m);
    if (!node)
      throw new UsageError(
        `no node named '${m}' (nodes: ${store
          .listNodes()
          .map((n) => n.name)
          .join(', ')})`,
      );
    if (!node.services.includes('sip') && !node.services.includes('callmanager'))
      throw new UsageError(`node '${m}' runs no call control (sip): phones could not register there`);
  }
  return store.putCmGroup(name, [...members]);
}

export function removeCmGroup(store: Store, name: string): void {
  store.removeCmGroup(name);
}

/** Puts a phone in `group`, or back in the default group for `default` (any case) when no group has that name. */
export function setDeviceCmGroup(store: Store, device: string, group: string): string {
  if (group.toLowerCase() === 'default' && !store.getCmGroup(group)) {
    store.setDeviceCmGroup(device, null);
    return defaultGroupText(store);
  }
  store.setDeviceCmGroup(device, group);
  return group;
}

function defaultGroupText(store: Store): string {
  return store.getCmGroup(DEFAULT_CM_GROUP)
    ? DEFAULT_CM_GROUP
    : `the default group (${derivedDefaultGroup(store)
        .map((n) => n.name)
        .join(', ')})`;
}

/** One line per group: name, members in order; then the derived default when no `Default` group exists. */
export function cmGroupLines(store: Store): string[] {
  const lines = store.listCmGroups().map((g) => `${g.name}\t${g.members.join(', ')}`);
  if (!store.getCmGroup(DEFAULT_CM_GROUP))
    lines.push(
      `(default)\t${derivedDefaultGroup(store)
        .map((n) => n.name)
        .join(', ')}\tevery SIP node, publisher first (create a group named ${DEFAULT_CM_GROUP} to replace it)`,
    );
  return lines;
}

/** The group a phone uses, in words: its name (or the default) and its nodes in order. */
export function deviceCmGroupText(store: Store, device: string): string {
  const g = phoneCmGroup(store, device);
  return `${device}\t${g.name ?? '(default)'}\t${g.nodes.map((n) => n.name).join(', ')}`;
}
