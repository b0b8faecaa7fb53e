/**
 * Call-manager groups (issue 21 item 4): `sbd cm-group add|list|remove` and `sbd cm-group device SEP GROUP`; the
 * console's `set cmgroup` / `show cmgroup` call the same functions (src/cluster/cm-groups.ts). Each change is one
 * audit row.
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { CM_GROUP_LIMITS, cmGroupLines, deviceCmGroupText, removeCmGroup, setCmGroup, setDeviceCmGroup } from '../../cluster/cm-groups.js';

export const commands: Command[] = [
  {
    path: ['cm-group', 'add'],
    summary: 'create or replace a call-manager group: its nodes in order (primary, secondary, tertiary)',
    usage: `sbd cm-group add NAME --node NODE [--node NODE]... (1 to ${CM_GROUP_LIMITS.maxMembers}, primary first) --state DIR`,
    run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' }, node: { type: 'string', multiple: true } });
      const name = required(positionals[0], 'NAME');
      const members = values.node ?? [];
      if (members.length === 0) throw new UsageError('give the group its nodes: --node NODE (primary first)');
      const g = withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.cmGroupSet, detail: `${name}: ${members.join(', ')}` }, () =>
          setCmGroup(store, name, members),
        ),
      );
      ctx.out(`${g.name}\t${g.members.join(', ')}`);
      ctx.err("Reset the group's phones so they download configs naming the new call managers and TVS servers.");
      return 0;
    },
  },
  {
    path: ['cm-group', 'list'],
    summary: 'the call-manager groups and their nodes in order, and the default group',
    usage: 'sbd cm-group list --state DIR',
    run(args, ctx) {
      const { values } = parse(args, { state: { type: 'string' } });
      for (const l of withState(required(values.state, '--state'), ({ store }) => cmGroupLines(store), { readonly: true })) ctx.out(l);
      return 0;
    },
  },
  {
    path: ['cm-group', 'remove'],
    summary: 'remove a call-manager group no phone uses',
    usage: 'sbd cm-group remove NAME --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' } });
      const name = required(positionals[0], 'NAME');
      withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.cmGroupRemove, detail: name }, () => removeCmGroup(store, name)),
      );
      ctx.out(`removed ${name}`);
      return 0;
    },
  },
  {
    path: ['cm-group', 'device'],
    summary: "set a phone's call-manager group (GROUP 'default': back to the default group), or show it",
    usage: 'sbd cm-group device SEP<MAC> [GROUP|default] --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' } });
      const device = required(positionals[0], 'SEP<MAC>');
      const group = positionals[1];
      if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}"`);
      const dir = required(values.state, '--state');
      if (group !== undefined)
        withState(dir, ({ store }) =>
          auditedSync(store, { user: currentAdminUser(), action: AuditAction.deviceCmGroup, detail: `${device}: ${group}` }, () =>
            setDeviceCmGroup(store, device, group),
          ),
        );
      ctx.out(withState(dir, ({ store }) => deviceCmGroupText(store, device), { readonly: true }));
      return 0;
    },
  },
];
