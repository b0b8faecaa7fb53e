/**
 * Which call-manager group a phone uses and what its config names from it (issue 21 item 4): the group's nodes in
 * order (primary, secondary, tertiary: `<callManagerGroup>`) and their TVS servers (`<TVS>`). A phone without a
 * group of its own uses `Default` when that group exists, else the derived default: every node with the SIP (or
 * callmanager) service, publisher first, as CUCM's "Default" Unified CM Group holds the publisher.
 */
import { DEFAULT_CM_GROUP, type NodeRow, type Store } from '../store/index.js';

export interface PhoneCmGroup {
  /** The group's name, or undefined for the derived default. */
  name: string | undefined;
  /** Call-control nodes, primary first. */
  nodes: NodeRow[];
}

function callControl(n: NodeRow): boolean {
  return (n.services as string[]).includes('sip') || (n.services as string[]).includes('callmanager');
}

/** The derived default group: every call-control node, publisher first (listNodes' order), then by name. */
export function derivedDefaultGroup(store: Store): NodeRow[] {
  return store.listNodes().filter(callControl);
}

export function phoneCmGroup(store: Store, device?: string): PhoneCmGroup {
  const name =
    (device !== undefined ? store.deviceCmGroup(device) : undefined) ?? (store.getCmGroup(DEFAULT_CM_GROUP) ? DEFAULT_CM_GROUP : undefined);
  if (name === undefined) return { name: undefined, nodes: derivedDefaultGroup(store) };
  const group = store.getCmGroup(name);
  const byName = new Map(store.listNodes().map((n) => [n.name, n]));
  return { name: group?.name ?? name, nodes: (group?.members ?? []).flatMap((m) => byName.get(m) ?? []) };
}
