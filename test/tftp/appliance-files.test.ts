/**
 * The appliance's TFTP file source needs nothing from the store but `ApplianceFiles` (src/tftp/appliance-files.ts,
 * issue 17 item 4): here the TFTP server runs over a tiny in-memory implementation (no SQLite, no trust or config
 * builders) and a TFTP client on loopback gets the names, the per-device copies, the cache that survives an
 * unrelated write, the served-hash record and a static file signed on the fly.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Clock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import type { ApplianceFiles, DeviceConfigSuffix, TftpDevice, TrustListFile } from '../../src/tftp/appliance-files.js';
import { ApplianceFileSource } from '../../src/tftp/appliance-source.js';
import { fetchFile } from '../../src/tftp/client.js';
import { TftpErrorCode } from '../../src/tftp/core/errors.js';
import { TftpServer } from '../../src/tftp/server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Files whose bytes say what they were built from; every write moves the generation, as a store's does. */
class MemoryFiles implements ApplianceFiles {
  gen = 1;
  itlSigner = 'ITLRecovery-1';
  mixedMode = false;
  readonly phones = new Map<string, TftpDevice>([
    ['SEP001122334455', { name: 'SEP001122334455', securityByDefault: true }],
    ['SEP00000000AAAA', { name: 'SEP00000000AAAA', securityByDefault: false }],
  ]);
  readonly served = new Map<TrustListFile, string>();
  readonly records: string[] = [];
  generation(): number {
    return this.gen;
  }
  snapshot<T>(read: () => T): T {
    return read();
  }
  itl(clock: Clock): Buffer {
    return Buffer.from(`ITL signed by ${this.itlSigner} at ${clock.now()}`);
  }
  ctl(clock: Clock): Buffer | undefined {
    return this.mixedMode ? Buffer.from(`CTL at ${clock.now()}`) : undefined;
  }
  defaultConfig(signed: boolean): Buffer {
    return Buffer.from(signed ? 'XMLDefault signed' : 'XMLDefault');
  }
  device(name: string): TftpDevice | undefined {
    return this.phones.get(name);
  }
  devices(): TftpDevice[] {
    return [...this.phones.values()];
  }
  deviceConfig(name: string, suffix: DeviceConfigSuffix): Buffer | undefined {
    return this.phones.has(name) ? Buffer.from(`${name}${suffix}`) : undefined;
  }
  signStatic(filename: string, body: Buffer): Buffer {
    return Buffer.concat([Buffer.from(`${filename} signs `), body]);
  }
  servedSha256(file: TrustListFile): string | undefined {
    return this.served.get(file);
  }
  recordServed(file: TrustListFile, bytes: Buffer | undefined): void {
    if (bytes) this.served.set(file, sha(bytes));
    else this.served.delete(file);
    this.records.push(`${file} ${bytes ? sha(bytes).slice(0, 8) : 'none'}`);
    this.gen++;
  }
}

test('the TFTP service over an in-memory ApplianceFiles: names, cache by generation, served hash, static .sgn', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sbd-tftp-files-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'ringlist.xml'), '<CiscoIPPhoneRingList/>');
  let now = Date.UTC(2030, 0, 1);
  const files = new MemoryFiles();
  const source = new ApplianceFileSource({ files, staticRoot: root, clock: { now: () => now }, logger: silentLogger });
  const server = new TftpServer({ source, port: 0, addresses: ['127.0.0.1'], logger: silentLogger });
  await server.listen();
  t.after(() => server.close());
  const port = server.addresses()[0]!.port;
  const get = async (name: string) => (await fetchFile({ server: '127.0.0.1', port, name, retries: 2 })).data.toString();
  const refused = (name: string) => assert.rejects(get(name), { code: 'ERR_TFTP_NOT_FOUND', tftpCode: TftpErrorCode.fileNotFound }, name);

  const itl = await get('ITLFile.tlv');
  assert.equal(itl, `ITL signed by ITLRecovery-1 at ${now}`);
  assert.equal(await get('ITLSEP001122334455.tlv'), itl, 'a known device gets the very same ITL');
  await refused('ITLSEP0000000000FF.tlv');
  await refused('CTLFile.tlv');
  assert.equal(await get('SEP001122334455.cnf.xml.sgn'), 'SEP001122334455.cnf.xml.sgn');
  assert.equal(await get('SEP00000000AAAA.cnf.xml'), 'SEP00000000AAAA.cnf.xml');
  await refused('SEP00000000AAAA.cnf.xml.sgn');
  assert.equal(await get('XMLDefault.cnf.xml.sgn'), 'XMLDefault signed');
  assert.equal(await get('ringlist.xml.sgn'), 'ringlist.xml.sgn signs <CiscoIPPhoneRingList/>');
  assert.deepEqual(files.records, [`ITLFile.tlv ${sha(Buffer.from(itl)).slice(0, 8)}`], 'no CTL served, none recorded');

  // An unrelated write: the ITL is rebuilt with its old time, comes out the same, and is kept (no new record).
  now += 60_000;
  files.gen++;
  assert.equal(await get('ITLFile.tlv'), itl);
  assert.equal(source.stats.revalidated, 1);
  assert.equal(files.records.length, 1);

  // A real change: new bytes at the new time, recorded; mixed mode brings the CTL.
  files.itlSigner = 'ITLRecovery-2';
  files.mixedMode = true;
  files.gen++;
  assert.equal(await get('ITLFile.tlv'), `ITL signed by ITLRecovery-2 at ${now}`);
  assert.equal(await get('CTLFile.tlv'), `CTL at ${now}`);
  assert.equal(files.records.length, 3);

  // Prebuild walks the trust lists, the defaults and each known device's first config, through the interface only.
  assert.equal(await source.prebuild(), 6);
});
