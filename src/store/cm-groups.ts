import { nowIso, sqliteCode, type StoreContext } from './context.js';
import { deviceId, normaliseDeviceName } from './devices.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { text } from './fields.js';
import { nodeId } from './nodes.js';

/**
 * Call-manager groups (schema 11, issue 21 item 4): an ordered list of call-control nodes (primary, secondary,
 * tertiary, as CUCM's Unified CM Group) and the group each phone uses. A phone's config names the group's nodes in
 * `<callManagerGroup>` and their TVS servers in `<TVS>`; a phone without a group uses the default one, which the
 * config room derives (every SIP node, publisher first) unless a group named `Default` exists.
 */

export interface CmGroupRow {
  name: string;
  /** Node names, primary first. */
  members: string[];
  createdAt: string;
}

/** CUCM's Unified CM Group holds up to three nodes; a phone config up to five members (spec §3.1). */
export const CM_GROUP_LIMITS = { maxMembers: 3, maxNameLength: 50 } as const;

/** The name of the group that, when it exists, replaces the derived default for phones without a group. */
export const DEFAULT_CM_GROUP = 'Default';

const E = StoreErrorCode.cmGroupInvalid;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/;

function groupName(name: unknown): string {
  const n = text(E, 'group name', name, CM_GROUP_LIMITS.maxNameLength);
  if (!NAME.test(n)) throw new StoreError(E, `group name '${n}' must be letters, digits, spaces, '.', '_' or '-'`);
  return n;
}

function groupId(ctx: StoreContext, name: string): number {
  const r = ctx.stmt('SELECT id FROM cm_groups WHERE name = ?').get(name) as { id: number } | undefined;
  if (r === undefined) throw new StoreError(StoreErrorCode.cmGroupUnknown, `no call-manager group named '${name}'`);
  return r.id;
}

function checkMembers(members: unknown): string[] {
  if (!Array.isArray(members) || members.length === 0) throw new StoreError(E, 'a call-manager group needs at least one node');
  if (members.length > CM_GROUP_LIMITS.maxMembers)
    throw new StoreError(E, `a call-manager group holds at most ${CM_GROUP_LIMITS.maxMembers} nodes, got ${members.length}`);
  const list = members.map((m) => text(E, 'member', m, 64));
  if (new Set(list).size !== list.length) throw new StoreError(E, 'a node appears twice in the group');
  return list;
}

function writeMembers(ctx: StoreContext, id: number, members: string[]): void {
  ctx.stmt('DELETE FROM cm_group_members WHERE group_id = ?').run(id);
  const ins = ctx.stmt('INSERT INTO cm_group_members (group_id, node_id, position) VALUES (?, ?, ?)');
  members.forEach((m, i) => ins.run(id, nodeId(ctx, m), i));
}

/** Creates the group, or replaces its members when it exists. */
export function putCmGroup(ctx: StoreContext, name: string, members: string[]): CmGroupRow {
  const n = groupName(name);
  const list = checkMembers(members);
  return ctx.write(() => {
    const existing = ctx.stmt('SELECT id FROM cm_groups WHERE name = ?').get(n) as { id: number } | undefined;
    let id = existing?.id;
    if (id === undefined) {
      try {
        id = Number(ctx.stmt('INSERT INTO cm_groups (name, created_at) VALUES (?, ?)').run(n, nowIso(ctx.clock)).lastInsertRowid);
      } catch (err) {
        // The name is unique without case: 'default' and 'Default' are one group.
        if (sqliteCode(err) === 'SQLITE_CONSTRAINT_UNIQUE')
          throw new StoreError(StoreErrorCode.cmGroupExists, `a group named like '${n}' exists`);
        throw err;
      }
    }
    writeMembers(ctx, id, list);
    return getCmGroup(ctx, n)!;
  });
}

interface Raw {
  name: string;
  created_at: string;
  members: string | null;
}

const SELECT = `SELECT g.name, g.created_at,
  (SELECT group_concat(name, ',') FROM (SELECT n.name FROM cm_group_members m JOIN nodes n ON n.id = m.node_id
     WHERE m.group_id = g.id ORDER BY m.position)) AS members
  FROM cm_groups g`;

function row(r: Raw): CmGroupRow {
  return { name: r.name, members: r.members ? r.members.split(',') : [], createdAt: r.created_at };
}

export function getCmGroup(ctx: StoreContext, name: string): CmGroupRow | undefined {
  const r = ctx.stmt(`${SELECT} WHERE g.name = ?`).get(name) as Raw | undefined;
  return r === undefined ? undefined : row(r);
}

export function listCmGroups(ctx: StoreContext): CmGroupRow[] {
  return (ctx.stmt(`${SELECT} ORDER BY g.name`).all() as Raw[]).map(row);
}

/** Removes a group; refused while phones use it (set them to another group or the default first). */
export function removeCmGroup(ctx: StoreContext, name: string): void {
  ctx.write(() => {
    const id = groupId(ctx, name);
    const used = (ctx.stmt('SELECT count(*) AS n FROM device_cm_groups WHERE group_id = ?').get(id) as { n: number }).n;
    if (used > 0) throw new StoreError(StoreErrorCode.cmGroupInUse, `group '${name}' is used by ${used} phones; move them first`);
    ctx.stmt('DELETE FROM cm_groups WHERE id = ?').run(id);
  });
}

/** Puts a phone in a group; `null` returns it to the default group. */
export function setDeviceCmGroup(ctx: StoreContext, device: string, group: string | null): void {
  const d = normaliseDeviceName(device);
  ctx.write(() => {
    const did = deviceId(ctx, d);
    if (group === null) ctx.stmt('DELETE FROM device_cm_groups WHERE device_id = ?').run(did);
    else
      ctx
        .stmt(
          'INSERT INTO device_cm_groups (device_id, group_id) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET group_id = excluded.group_id',
        )
        .run(did, groupId(ctx, group));
  });
}

/** The group set for a phone, or undefined (the default group applies). */
export function deviceCmGroup(ctx: StoreContext, device: string): string | undefined {
  const r = ctx
    .stmt(
      'SELECT g.name FROM device_cm_groups x JOIN devices d ON d.id = x.device_id JOIN cm_groups g ON g.id = x.group_id WHERE d.name = ?',
    )
    .get(device.toUpperCase()) as { name: string } | undefined;
  return r?.name;
}
