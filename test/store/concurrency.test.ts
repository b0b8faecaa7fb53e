import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { StoreError } from '../../src/store/index.js';
import { makeCert, open, sqlite3, tempDir } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

describe('transactions, generation and concurrent connections', () => {
  it('counts committed writes from another connection in generation()', () => {
    const path = join(tempDir(), 'gen.db');
    const a = open(path);
    const b = open(path);
    const ro = open(path, { readonly: true });
    const g = b.generation();
    a.setParam('KeySize', '3072');
    assert.equal(b.generation(), g + 1);
    assert.equal(ro.generation(), g + 1);
    a.addDevice({ name: 'SEP000000000001', model: '8841' });
    a.updateDevice('SEP000000000001', { description: 'x' });
    assert.equal(b.generation(), g + 3);
    assert.equal(b.getIntParam('KeySize'), 3072);
  });

  it('a transaction that throws leaves nothing behind, and does not count', () => {
    const dir = tempDir();
    const s = open(join(dir, 'rollback.db'));
    const pem = makeCert(dir, 'cucm1.example');
    const g = s.generation();
    const boom = new Error('boom');
    assert.throws(
      () =>
        s.transaction(() => {
          s.addNode({ name: 'pub', hostname: 'pub.example', services: ['tftp'] });
          s.putCertificate({ name: 'CallManager', node: 'pub', pem, keyFile: null });
          s.addDevice({ name: 'SEP000000000001', model: '8841' });
          s.setParam('ClusterSecurityMode', 'mixed');
          throw boom;
        }),
      (e: unknown) => e === boom,
    );
    assert.equal(s.generation(), g);
    assert.deepEqual([s.listNodes(), s.listCertificates({ includeHistory: true }), s.listDevices()], [[], [], []]);
    assert.equal(s.getParam('ClusterSecurityMode'), 'non-secure');
    // Promises are refused (the work would escape the transaction); nothing commits either.
    assert.throws(
      () =>
        s.transaction((async () => {
          s.setParam('KeySize', '4096');
        }) as never),
      TypeError,
    );
    assert.equal(s.getIntParam('KeySize'), 2048);
    assert.equal(s.generation(), g);
  });

  it('nested calls join the outer transaction: one generation step; a caught inner failure rolls back only the inner part', () => {
    const s = open(join(tempDir(), 'nested.db'));
    const g = s.generation();
    s.transaction(() => {
      s.addDevice({ name: 'SEP000000000001', model: '8841' });
      assert.throws(
        () =>
          s.transaction(() => {
            s.addDevice({ name: 'SEP000000000002', model: '8841' });
            s.addDevice({ name: 'SEP000000000001', model: '8841' }); // exists
          }),
        isCode('ERR_DEVICE_EXISTS'),
      );
      s.setParam('AutoRegistration', 'true');
    });
    assert.equal(s.generation(), g + 1);
    assert.deepEqual(
      s.listDevices().map((d) => d.name),
      ['SEP000000000001'],
    );
    assert.equal(s.getBoolParam('AutoRegistration'), true);
  });

  it('refuses writes inside snapshot() and reports a held write lock as ERR_STORE_BUSY', () => {
    const path = join(tempDir(), 'busy.db');
    const a = open(path);
    const b = open(path, { busyTimeoutMs: 50 });
    assert.throws(() => a.snapshot(() => a.setParam('KeySize', '4096')), isCode('ERR_STORE_READONLY'));
    a.transaction(() => {
      a.setParam('KeySize', '4096');
      assert.throws(() => b.setParam('KeySize', '3072'), isCode('ERR_STORE_BUSY'));
      // Readers are not blocked by the writer (WAL) and still see the last commit.
      assert.equal(b.getIntParam('KeySize'), 2048);
    });
    assert.equal(b.getIntParam('KeySize'), 4096);
  });

  it('a reader sees one consistent snapshot while another process keeps writing (WAL)', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const path = join(dir, 'wal.db');
    const pemA = join(dir, 'a.pem');
    const pemB = join(dir, 'b.pem');
    writeFileSync(pemA, makeCert(dir, 'cm-a.example'));
    writeFileSync(pemB, makeCert(dir, 'cm-b.example'));
    const reader = open(path);
    reader.putCertificate({ name: 'CallManager', node: null, pem: makeCert(dir, 'cm-0.example'), keyFile: null });
    // Each replacement adds exactly one row and one generation step, so rows - generation is constant in any
    // consistent view, and exactly one row is current.
    const offset = reader.listCertificates({ includeHistory: true }).length - reader.generation();
    const watcher = open(path);

    const script = fileURLToPath(new URL('./fixtures/cert-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, path, pemA, pemB], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    assert.equal((await lines.next()).value, 'ready');

    const seen = new Set<number>();
    let isolated = 0;
    while (seen.size < 25) {
      reader.snapshot(() => {
        const g1 = reader.generation();
        const all = reader.listCertificates({ includeHistory: true });
        const current = reader.listCertificates();
        if (isolated < 3) {
          // Wait (on an event, not a timer) until the writer has committed past our snapshot…
          while (watcher.generation() <= g1) {
            /* the child process is writing */
          }
          isolated++;
        }
        // …and still see exactly the snapshot we started with.
        assert.equal(reader.generation(), g1);
        assert.equal(reader.listCertificates({ includeHistory: true }).length, all.length);
        assert.equal(current.length, 1);
        assert.equal(all.filter((c) => c.current).length, 1);
        assert.equal(all.length - g1, offset);
        seen.add(g1);
      });
      await yieldToLoop();
    }
    child.stdin!.end();
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match((await lines.next()).value as string, /^wrote \d+$/);
    // After the writer: still consistent, and Debian's sqlite3 agrees the file is sound.
    assert.equal(reader.listCertificates({ includeHistory: true }).length - reader.generation(), offset);
    reader.close();
    watcher.close();
    assert.equal(sqlite3(path, 'PRAGMA integrity_check'), 'ok');
    assert.equal(sqlite3(path, 'SELECT count(*) FROM certificates WHERE current = 1'), '1');
  });

  it('backupTo() writes a consistent copy that opens as a store', async () => {
    const dir = tempDir();
    const s = open(join(dir, 'live.db'));
    s.addDevice({ name: 'SEP000000000009', model: '8865' });
    await s.backupTo(join(dir, 'copy.db'));
    const copy = open(join(dir, 'copy.db'), { readonly: true });
    assert.equal(copy.getDevice('SEP000000000009')!.model, '8865');
    assert.equal(copy.generation(), s.generation());
  });
});
