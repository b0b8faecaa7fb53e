/**
 * Call-manager groups on the admin console (issue 21 item 4), the same functions as `sbd cm-group`
 * (src/cluster/cm-groups.ts):
 *   show cmgroup [SEP<MAC>]               the groups and the default one, or the group a phone uses
 *   set cmgroup NAME NODE [NODE [NODE]]   create or replace a group, primary first
 *   set cmgroup delete NAME               remove a group no phone uses
 *   set device cmgroup SEP<MAC> GROUP     a phone's group ('default': back to the default group)
 */
import type { AdminCommand } from '../command-table.js';
import { withState } from '../../store/state.js';
import { AuditAction } from '../../cluster/audit.js';
import { CM_GROUP_LIMITS, cmGroupLines, deviceCmGroupText, removeCmGroup, setCmGroup, setDeviceCmGroup } from '../../cluster/cm-groups.js';
import { asArgs, audited } from './store-change.js';

export function cmGroupCommands(stateDir: string): AdminCommand[] {
  const names = () => withState(stateDir, ({ store }) => store.listCmGroups().map((g) => g.name), { readonly: true });
  return [
    {
      words: ['show', 'cmgroup'],
      params: '[SEP<MAC>]',
      summary: 'the call-manager groups (nodes in order) and the default group, or the group a phone uses',
      maxArgs: 1,
      run: (args, io) => {
        io.out(
          withState(stateDir, ({ store }) => (args[0] ? deviceCmGroupText(store, args[0]) : cmGroupLines(store).join('\n')), {
            readonly: true,
          }),
        );
      },
    },
    {
      words: ['set', 'cmgroup'],
      params: `NAME NODE... (1 to ${CM_GROUP_LIMITS.maxMembers}, primary first)`,
      summary: 'create or replace a call-manager group; reset its phones afterwards',
      minArgs: 2,
      maxArgs: 1 + CM_GROUP_LIMITS.maxMembers,
      complete: names,
      run: async (args, io) => {
        const [name, ...members] = args;
        const g = await asArgs(() =>
          audited(stateDir, AuditAction.cmGroupSet, `${name}: ${members.join(', ')}`, ({ store }) => setCmGroup(store, name!, members)),
        );
        io.out(`${g.name}\t${g.members.join(', ')}\nReset the group's phones so they download configs naming the new call managers.`);
      },
    },
    {
      words: ['set', 'cmgroup', 'delete'],
      params: 'NAME',
      summary: 'remove a call-manager group no phone uses',
      minArgs: 1,
      maxArgs: 1,
      complete: names,
      run: async (args, io) => {
        await asArgs(() => audited(stateDir, AuditAction.cmGroupRemove, args[0]!, ({ store }) => removeCmGroup(store, args[0]!)));
        io.out(`removed ${args[0]}`);
      },
    },
    {
      words: ['set', 'device', 'cmgroup'],
      params: 'SEP<MAC> GROUP|default',
      summary: "a phone's call-manager group ('default': back to the default group); reset the phone afterwards",
      minArgs: 2,
      maxArgs: 2,
      run: async (args, io) => {
        const [device, group] = args as [string, string];
        const text = await asArgs(() =>
          audited(stateDir, AuditAction.deviceCmGroup, `${device}: ${group}`, ({ store }) => {
            setDeviceCmGroup(store, device, group);
            return deviceCmGroupText(store, device);
          }),
        );
        io.out(text);
      },
    },
  ];
}
