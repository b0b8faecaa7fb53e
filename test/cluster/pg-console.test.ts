/**
 * The whole cluster procedure on the admin console (issue 21 item 3), over the real commands: the console's words
 * run `sbd cluster appliance VERB` as a separate process (the shell's privilege would put `sudo -n` in front on the
 * appliance; here the test is root and runs it directly), which makes real PostgreSQL 15 servers on 127.0.0.1/.2.
 * Proves: `utils cluster migrate` (password asked twice, a mismatch changes nothing), `set network cluster
 * subscriber details` on the publisher, refusals with their reasons (a bad name, a join with a wrong password or a
 * node not added leaves the box's store and daemons as they were, add-node on a subscriber names the publisher, a
 * second join, migrate on a subscriber), `utils cluster join` (its first-boot store set aside, streaming over TLS),
 * `show cluster` on both, `set network cluster subscriber delete`. Off the appliance the units are left alone and
 * the commands say so.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { adminTable } from '../../src/admin/commands.js';
import type { AdminIo } from '../../src/admin/command-table.js';
import { splitWords } from '../../src/admin/command-table.js';
import { describe } from '../../src/admin/shell.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { readClusterNode } from '../../src/store/pg/cluster-node.js';
import { stateLayout } from '../../src/store/state.js';
import { CLUSTER_PASSWORD, freePort, nodeDirs, pgMissing, startClusterd } from './pg-cluster.js';

interface Console {
  /** Runs one line; answers: yes/no for questions, strings for secrets, in order. Output, or the error line. */
  run(line: string, answers?: (boolean | string)[]): Promise<{ out: string; error?: string; asked: string[] }>;
}

function consoleFor(state: string, pgDir: string, port: number): Console {
  const table = adminTable({
    // The test is root: the privilege runs the command as is (on the appliance: sudo -n, sudoers' SBD_CLUSTER).
    privilege: { canRaise: true, asRoot: (file, args) => ({ file, args: [...args] }) },
    stateDir: state,
    firstBoot: () => undefined,
    cluster: {
      sbd: [process.execPath, '--import', 'tsx', 'src/cli/main.ts'],
      env: { SBD_STATE: state, SBD_PG_DIR: pgDir, SBD_CLUSTER_ENV: `${pgDir}.env`, SBD_PG_LISTEN_PORT: String(port) },
    },
  });
  return {
    async run(line, answers = []) {
      const out: string[] = [];
      const asked: string[] = [];
      const next = (q: string) => {
        asked.push(q);
        assert.ok(answers.length > 0, `unexpected question: ${q}`);
        return answers.shift()!;
      };
      const io: AdminIo = {
        out: (t) => out.push(t),
        confirm: async (q) => next(q) === true,
        secret: async (q) => String(next(q)),
      };
      const found = table.find(splitWords(line));
      assert.ok(found, `no console command "${line}"`);
      try {
        table.checkArgs(found);
        await found.command.run(found.args, io);
      } catch (err) {
        return { out: out.join('\n'), error: describe(err), asked };
      }
      assert.equal(answers.length, 0, `answers left after "${line}"`);
      return { out: out.join('\n'), asked };
    },
  };
}

test('the cluster procedure on the admin console: migrate, add, join, refusals, show, delete', {
  skip: pgMissing(),
  timeout: 600_000,
}, async (t) => {
  const pubDirs = nodeDirs(t, 'pub');
  initAppliance({ dir: pubDirs.state, hostname: 'pub', nodeName: 'pub', ipv4: '127.0.0.1', clock: systemClock });
  const pubPort = await freePort('127.0.0.1');
  const pub = consoleFor(pubDirs.state, pubDirs.pgDir, pubPort);

  // migrate: asks, then the password twice; a mismatch or a short one changes nothing.
  const mismatch = await pub.run('utils cluster migrate', [true, CLUSTER_PASSWORD, `${CLUSTER_PASSWORD}x`]);
  assert.match(mismatch.error ?? '', /the two passwords differ; nothing changed/);
  const short = await pub.run('utils cluster migrate', [true, 'short']);
  assert.match(short.error ?? '', /at least 8 characters/);
  assert.equal(readClusterNode(pubDirs.state), undefined, 'nothing changed');
  const migrated = await pub.run('utils cluster migrate', [true, CLUSTER_PASSWORD, CLUSTER_PASSWORD]);
  assert.equal(migrated.error, undefined, migrated.out);
  assert.match(migrated.out, /^pub is the publisher \(new PostgreSQL data folder\)$/m);
  assert.match(migrated.out, /units not changed \(systemd is not running on this machine\)/);
  assert.deepEqual(migrated.asked.slice(1), ['Cluster security password: ', 'Cluster security password (again): ']);
  assert.equal(readClusterNode(pubDirs.state)?.role, 'publisher');
  startClusterd(t, { name: 'pub', ip: '127.0.0.1', state: pubDirs.state, pgDir: pubDirs.pgDir, port: pubPort });

  // add-node: names and addresses are checked before anything runs as root.
  const subPort = await freePort('127.0.0.2');
  const badName = await pub.run(`set network cluster subscriber details "sub 1" 127.0.0.2`);
  assert.match(badName.error ?? '', /node name "sub 1": a letter, then letters, digits or "-".*\[ERR_CLUSTER_INPUT\]/);
  const badAddr = await pub.run('set network cluster subscriber details sub1 sub1.example');
  assert.match(badAddr.error ?? '', /node address "sub1.example": an IPv4 address, optionally :PORT \[ERR_CLUSTER_INPUT\]/);
  // On loopback every connection comes from 127.0.0.1: the CIDR word says so.
  const added = await pub.run(`set network cluster subscriber details sub1 127.0.0.2:${subPort} 127.0.0.1/32`);
  assert.equal(added.error, undefined, added.out);
  assert.match(added.out, /^node sub1 added \(127\.0\.0\.2\): replication role sbd_node_sub1; generation \d+$/m);

  // The new box: its first boot made a store.
  const subDirs = nodeDirs(t, 'sub1');
  initAppliance({ dir: subDirs.state, hostname: 'sub1', nodeName: 'sub1', ipv4: '127.0.0.2', clock: systemClock });
  const sub = consoleFor(subDirs.state, subDirs.pgDir, subPort);
  const pubAddr = `127.0.0.1:${pubPort}`;
  const wrong = await sub.run(`utils cluster join ${pubAddr} sub1`, [true, 'not-the-cluster-password']);
  assert.match(
    wrong.error ?? '',
    /refused node sub1: the cluster security password is not the one the publisher was migrated with .*\[ERR_CLUSTER_NOT_ALLOWED\]$/,
  );
  const notAdded = await sub.run(`utils cluster join ${pubAddr} sub9`, [true, CLUSTER_PASSWORD]);
  assert.match(
    notAdded.error ?? '',
    /refused node sub9: sub9 is not on its allow-list .*"set network cluster subscriber details sub9 ADDRESS".*\[ERR_CLUSTER_NOT_ALLOWED\]$/,
  );
  assert.ok(existsSync(stateLayout(subDirs.state).dbPath), 'a refused join leaves the store where it was');
  assert.equal(readClusterNode(subDirs.state), undefined);
  t.diagnostic(`refused joins: ${wrong.error} | ${notAdded.error}`);

  const started = performance.now();
  const joined = await sub.run(`utils cluster join ${pubAddr} sub1`, [true, CLUSTER_PASSWORD]);
  assert.equal(joined.error, undefined, `${joined.out}\n${joined.error}`);
  t.diagnostic(`utils cluster join: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.match(
    joined.asked[0]!,
    /^Join the cluster of 127\.0\.0\.1:\d+ as sub1\? This box's own store \(0 phones and \d+ users\) is set aside/,
  );
  assert.match(joined.out, /^joined: publisher pub, streaming over TLS \(slot sbd_node_sub1\)$/m);
  assert.match(joined.out, /moved to .*pre-join-/);
  assert.equal(readClusterNode(subDirs.state)?.role, 'subscriber');
  assert.ok(readdirSync(subDirs.state).some((f) => f.startsWith('pre-join-')));

  // Wrong node: each word says where to go.
  const onSub = await sub.run('set network cluster subscriber details sub2 127.0.0.3');
  assert.match(onSub.error ?? '', /runs on the publisher pub \(127\.0\.0\.1\); this node \(sub1\) is a subscriber \[ERR_CLUSTER_ROLE\]/);
  const again = await sub.run(`utils cluster join ${pubAddr} sub1`);
  assert.match(again.error ?? '', /this node \(sub1\) is already a subscriber of pub \(127\.0\.0\.1\)/);
  const migrateSub = await sub.run('utils cluster migrate');
  assert.match(migrateSub.error ?? '', /this node \(sub1\) is a subscriber of pub .*migrate runs on the single node/);

  const shownSub = await sub.run('show cluster');
  assert.match(shownSub.out, /^this node: sub1 \(subscriber, hot standby\)/m);
  const shownPub = await pub.run('show network cluster');
  assert.match(shownPub.out, /^sub1 +subscriber +127\.0\.0\.2 +streaming \(TLS\)/m);

  const cancelled = await pub.run('set network cluster subscriber delete sub1', [false]);
  assert.match(cancelled.out, /^cancelled$/m);
  const removed = await pub.run('set network cluster subscriber delete sub1', [true]);
  assert.equal(removed.error, undefined, removed.out);
  assert.match(removed.out, /^node sub1 removed/m);
  const after = await pub.run('show cluster');
  assert.doesNotMatch(after.out, /^sub1 +subscriber +127\.0\.0\.2 +streaming/m);
});
