/**
 * Issue 16 build item 11: `sbd daemon tftp --state` (its own process; once with the C data plane, the default, and
 * once with `--engine node`, the TypeScript server) takes 1,000,000 datagrams of garbage and hostile requests from
 * 1,500 spoofed loopback addresses — row 12's RRQ with timeout=255, RRQs for names that each send the engine to Node,
 * odd options, stray packets — then a phone still boots (fetches ITLFile.tlv, the same bytes as before the flood),
 * and the daemon's peak RSS (VmHWM) stayed under a stated bound.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { fetchFile } from '../../src/tftp/client.js';
import { NativeTftpServer } from '../../src/tftp/native-server.js';
import { buildSender, listeningPort, memoryOf, runSender, startDaemonProcess, type FloodShape } from './flood-helpers.js';

/** Datagrams per flood (the figure). */
const FLOOD_DATAGRAMS = 1_000_000;
/**
 * Spoofed source addresses (127.66.x.y), a new source port every 16 datagrams (~62,500 address:port pairs in all,
 * the last 17,000 kept open: a spoofed source sends no ICMP): more than maxTransfers / maxTransfersPerClient
 * (16384 / 16), so per-source caps alone cannot hold the flood off.
 */
const FLOOD_SOURCES = 1500;
/**
 * Peak RSS the daemon may reach, flood included. An idle sbd-tftpd under tsx is ~150 MiB; 400 MiB leaves room for
 * the transfer table at its cap (16,384 transfers with their block-1 buffers) and the file cache, and is far below
 * what per-request growth over a million requests would reach.
 */
const MAX_RSS_MIB = 400;
/** Fetches a phone tries after the flood before it is said not to boot (each: 1 s timeout, 10 retries). */
const BOOT_ATTEMPTS = 6;

const rrq = (name: string, options: Array<[string, string]> = [], opcode = 1): Buffer =>
  Buffer.concat([
    Buffer.from([0, opcode]),
    Buffer.from(`${name}\0octet\0`, 'latin1'),
    ...options.map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'latin1')),
  ]);

/** Weights per mille. */
const TFTP_SHAPES: FloodShape[] = [
  { name: 'random-bytes', weight: 200, random: 516 },
  // Row 12: a transfer that would keep its slot for timeout=255 s × retries, block 1 resent to a source that never ACKs.
  {
    name: 'rrq-timeout-255',
    weight: 300,
    bytes: rrq('ITLFile.tlv', [
      ['timeout', '255'],
      ['blksize', '1428'],
      ['tsize', '0'],
    ]),
  },
  // A new name each time: the native engine asks Node to open it (the appliance source looks it up in the store).
  { name: 'rrq-unknown-config', weight: 200, bytes: rrq('SEP@@@@@@@@0000.cnf.xml', [['timeout', '255']]) },
  { name: 'rrq-traversal', weight: 50, bytes: rrq('../../../../etc/@@@@@@@@/passwd') },
  {
    name: 'rrq-odd-options',
    weight: 50,
    bytes: rrq('ITLFile.tlv', [
      ['blksize', '65464'],
      ['windowsize', '65535'],
      ['tsize', '99999999999'],
      ['timeout', '0'],
      ['x-@@@@@@@@', 'y'.repeat(300)],
    ]),
  },
  { name: 'wrq', weight: 50, bytes: rrq('ITLFile.tlv', [], 2) },
  { name: 'stray-ack', weight: 50, bytes: Buffer.from([0, 4, 0, 1]) },
  { name: 'stray-data', weight: 50, bytes: Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.alloc(512, 0x41)]) },
  { name: 'stray-error', weight: 25, bytes: Buffer.from('\0\x05\0\x01@@@@@@@@\0', 'latin1') },
  { name: 'rrq-netascii-long-name', weight: 25, bytes: Buffer.from(`\0\x01${'A'.repeat(400)}@@@@@@@@\0netascii\0`, 'latin1') },
];

for (const engine of ['native', 'node'] as const) {
  test(`tftpd (${engine} engine): 1,000,000 datagrams from ${FLOOD_SOURCES} sources, then a phone still fetches ITLFile.tlv; RSS bounded`, {
    timeout: 600_000,
    skip: engine === 'native' && !NativeTftpServer.available() ? 'libsbdtftp.so is not built (make -C native)' : false,
  }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sbd-flood-tftp-'));
    initAppliance({ dir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
    const sender = buildSender();
    const d = await startDaemonProcess(['daemon', 'tftp', '--state', dir, '--bind', '127.0.0.1', '--port', '0', '--engine', engine]);
    try {
      const port = listeningPort(d.listening);
      const boot = async () => {
        // A phone that finds no answer tries again: up to BOOT_ATTEMPTS fetches of ~11 s each.
        for (let attempt = 1; ; attempt++) {
          try {
            return await fetchFile({ server: '127.0.0.1', port, name: 'ITLFile.tlv', blksize: 1428, tsize: true, retries: 10 });
          } catch (err) {
            if (attempt >= BOOT_ATTEMPTS) throw err;
          }
        }
      };
      const before = await boot();
      const r = await runSender(sender, 'udp', port, FLOOD_DATAGRAMS, TFTP_SHAPES, { sources: FLOOD_SOURCES, freshPorts: true });
      assert.equal(r.sent, FLOOD_DATAGRAMS);
      assert.equal(d.child.exitCode, null, `tftpd died during the flood: ${d.tail().slice(-2000)}`);
      const after = await boot();
      assert.ok(after.data.equals(before.data), 'the same ITLFile.tlv after the flood');
      const mem = memoryOf(d.pid);
      assert.ok(
        mem.hwmKb / 1024 < MAX_RSS_MIB,
        `peak RSS ${(mem.hwmKb / 1024).toFixed(0)} MiB (now ${(mem.rssKb / 1024).toFixed(0)} MiB) ≥ ${MAX_RSS_MIB} MiB`,
      );
      t.diagnostic(
        `${engine}: ${r.sent} datagrams, ${(r.bytes / 2 ** 20).toFixed(0)} MiB; tftpd peak RSS ${(mem.hwmKb / 1024).toFixed(0)} MiB; boot after the flood took ${after.retransmissions} retransmissions`,
      );
      await d.stop();
      t.diagnostic(
        `${engine}: ${
          d
            .tail()
            .split('\n')
            .find((l) => l.includes('"event":"stopping"')) ?? 'no stopping line'
        }`,
      );
    } finally {
      await d.stop();
      sender.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
