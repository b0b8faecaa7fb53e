/**
 * The cluster on the console (issue 21 items 3, 6): `show cluster` and `show network cluster` (CUCM's name for the
 * node list) print every node's role, address, replication state and lag, and services, read from this node's own
 * PostgreSQL (so they work on a subscriber, also with the publisher gone); `utils cluster promote` makes this
 * subscriber the publisher after asking, once the old publisher no longer answers (cluster/promote.ts).
 * Administrative commands on a subscriber are refused where the state is opened (store/state.ts), with one message
 * naming the publisher.
 */
import type { AdminCommand, AdminIo } from '../command-table.js';
import type { Privilege } from '../privilege.js';
import { type ClusterCliOptions, runAsRoot } from './cluster-membership.js';
import { clusterStatus, formatClusterStatus } from '../../cluster/membership-status.js';
import { promoteNode } from '../../cluster/promote.js';

/**
 * `privilege` that can raise (the appliance's console): promote runs as root through `sbd cluster appliance
 * promote` (it rewrites the server's files, owned by postgres) and leaves the node's units as a publisher needs
 * them; otherwise (a host) it runs in this process.
 */
export function clusterNodeCommands(stateDir: string, privilege?: Privilege, cli: ClusterCliOptions = {}): AdminCommand[] {
  const show = async (_args: string[], io: AdminIo) => {
    for (const line of formatClusterStatus(await clusterStatus(stateDir))) io.out(line);
  };
  return [
    { words: ['show', 'cluster'], params: '', summary: "the cluster's nodes: role, address, replication and lag, services", run: show },
    { words: ['show', 'network', 'cluster'], params: '', summary: 'the cluster nodes and their addresses (as show cluster)', run: show },
    {
      words: ['utils', 'cluster', 'promote'],
      params: '',
      summary: 'make this subscriber the publisher once the old publisher is gone (asks first)',
      run: async (_args, io) => {
        const question =
          'Make this node the publisher? Its database becomes the primary; the old publisher must stay down (it cannot come back as publisher), and its keys (ITLRecovery, CAPF) are lost.';
        if (!(await io.confirm(question))) {
          io.out('cancelled');
          return;
        }
        if (privilege?.canRaise) {
          await runAsRoot(privilege, cli, ['promote'], io);
          io.out('On each other subscriber: utils cluster repoint THIS_ADDRESS');
          return;
        }
        const r = await promoteNode(stateDir);
        io.out(
          `${r.node} is the publisher (was ${r.oldPublisher}); store rebuilt: ${r.nodes} nodes, ${r.certificates} certificates, ${r.params} parameters, ${r.devices} devices.`,
        );
        io.out(`On each other subscriber: sbd cluster repoint --publisher THIS_ADDRESS (slots: ${r.slots.join(', ') || 'none'}).`);
      },
    },
  ];
}
