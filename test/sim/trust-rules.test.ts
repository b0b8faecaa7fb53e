/**
 * The phone's refusals, driven in memory (the sans-I/O boot over the real appliance file source, with chosen
 * files altered on the way): tampered and foreign signatures, wrong FILENAME, malformed lists, unsigned configs
 * where the ITL authenticates configs, a corrupted phone folder, bad MACs.
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/lib/clock.js';
import { buildItl } from '../../src/trust/cluster-lists.js';
import { TftpError, TftpErrorCode } from '../../src/tftp/core/errors.js';
import type { ApplianceFileSource } from '../../src/tftp/appliance-source.js';
import type { FetchResult } from '../../src/sim/boot.js';
import { Verdict } from '../../src/sim/decisions.js';
import { bootSimPhone, type FileFetcher } from '../../src/sim/phone.js';
import { deviceNameOfMac } from '../../src/sim/phone-folder.js';
import { SimErrorCode } from '../../src/sim/errors.js';
import { startAppliance, tempDir, texts, views } from './helpers.js';

const PHONE = 'SEP0011223344AA';

/** The appliance source as a phone's fetcher, with some names replaced (null: "not found"). */
function fetcher(source: ApplianceFileSource, replace: Record<string, Buffer | null> = {}): FileFetcher {
  return {
    async fetch(name: string): Promise<FetchResult> {
      if (name in replace) {
        const b = replace[name];
        return b ? { kind: 'file', bytes: b } : { kind: 'not-found', message: `${name}: not found` };
      }
      try {
        return { kind: 'file', bytes: await source.open(name) };
      } catch (err) {
        if (err instanceof TftpError && err.tftpCode === TftpErrorCode.fileNotFound) return { kind: 'not-found', message: err.message };
        return { kind: 'error', message: (err as Error).message };
      }
    },
  };
}

function flipLastByte(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[c.length - 1] ^= 0x01;
  return c;
}

test('tampered and foreign configs: config signature invalid; wrong FILENAME refused', async () => {
  const app = await startAppliance();
  app.state.store.addDevice({ name: PHONE, model: '8845' });
  const phones = tempDir();
  const boot = (replace: Record<string, Buffer | null> = {}) =>
    bootSimPhone({ stateDir: phones, deviceName: PHONE, fetcher: fetcher(app.source, replace), views });
  assert.equal((await boot()).configTrusted, true);

  const sgn = await app.source.open(`${PHONE}.cnf.xml.sgn`);
  const tampered = await boot({ [`${PHONE}.cnf.xml.sgn`]: flipLastByte(sgn) });
  assert.equal(tampered.configTrusted, false);
  assert.equal(tampered.decisions[2]!.verdict, Verdict.rejected);
  assert.match(
    texts(tampered)[2]!,
    /config signature invalid: SEP0011223344AA\.cnf\.xml\.sgn is signed by .*not a TFTP or CCM\+TFTP record/,
  );

  const other = await startAppliance({ hostname: 'foreign.example' });
  other.state.store.addDevice({ name: PHONE, model: '8845' });
  const foreign = await boot({ [`${PHONE}.cnf.xml.sgn`]: await other.source.open(`${PHONE}.cnf.xml.sgn`) });
  assert.match(texts(foreign)[2]!, /config signature invalid: .* signed by foreign\.example/);

  const misnamed = await boot({ [`${PHONE}.cnf.xml.sgn`]: await app.source.open('XMLDefault.cnf.xml.sgn') });
  assert.match(
    texts(misnamed)[2]!,
    /rejected config: header FILENAME "XMLDefault\.cnf\.xml\.sgn" is not the requested SEP0011223344AA\.cnf\.xml\.sgn/,
  );

  // Only unsigned configs on offer: the phone, holding an ITL with TFTP records, refuses them.
  const unsigned = await boot({ [`${PHONE}.cnf.xml.sgn`]: null, 'XMLDefault.cnf.xml.sgn': null });
  assert.equal(unsigned.configTrusted, false);
  assert.match(
    texts(unsigned).at(-1)!,
    /XMLDefault\.cnf\.xml: rejected config: unsigned, but the installed trust lists authenticate configs/,
  );
});

test('bad ITLs are refused and the installed one stays: malformed, tampered, wrong header FILENAME', async () => {
  const app = await startAppliance();
  app.state.store.addDevice({ name: PHONE, model: '8845' });
  const phones = tempDir();
  const itlName = `ITL${PHONE}.tlv`;
  const boot = (replace: Record<string, Buffer | null>) =>
    bootSimPhone({ stateDir: phones, deviceName: PHONE, fetcher: fetcher(app.source, replace), views });
  const first = await boot({});
  const itl = await app.source.open('ITLFile.tlv');

  const garbage = await boot({ [itlName]: Buffer.from('not a trust list at all') });
  assert.match(texts(garbage)[1]!, /rejected ITL: not a well-formed trust list .*; keeping the installed ITL/);
  const tampered = await boot({ [itlName]: flipLastByte(itl) });
  assert.match(texts(tampered)[1]!, /rejected ITL: signature invalid/);
  const renamed = await boot({ [itlName]: buildItl(app.state.store, systemClock, 'ITLOther.tlv') });
  assert.match(texts(renamed)[1]!, /rejected ITL: header FILENAME "ITLOther\.tlv" is not ITLFile\.tlv/);
  for (const r of [garbage, tampered, renamed]) {
    assert.equal(r.itlSha256, first.itlSha256);
    assert.equal(r.configTrusted, true, 'the config still verifies against the installed ITL');
  }

  // A fresh phone given only a tampered ITL trusts nothing, and so takes the config unchecked (pre-SbD rule).
  const fresh = await bootSimPhone({
    stateDir: tempDir(),
    deviceName: PHONE,
    fetcher: fetcher(app.source, { [itlName]: flipLastByte(itl) }),
    views,
  });
  assert.equal(fresh.itlSha256, undefined);
  assert.equal(fresh.decisions[2]!.file, `${PHONE}.cnf.xml`);
  assert.match(texts(fresh)[2]!, /unsigned config accepted: the phone has no trust list/);
});

test('a corrupted phone folder and bad MACs are typed errors', async () => {
  const app = await startAppliance();
  const phones = tempDir();
  await bootSimPhone({ stateDir: phones, deviceName: PHONE, fetcher: fetcher(app.source), views });
  writeFileSync(join(phones, PHONE, 'ITLFile.tlv'), 'garbage');
  await assert.rejects(
    bootSimPhone({ stateDir: phones, deviceName: PHONE, fetcher: fetcher(app.source), views }),
    (e: { code?: string; message: string }) =>
      e.code === SimErrorCode.folder && /stored .*ITLFile\.tlv is not a valid trust list/.test(e.message),
  );

  assert.equal(deviceNameOfMac('00:11:22:33:44:aa'), PHONE);
  assert.equal(deviceNameOfMac('0011.2233.44AA'), PHONE);
  assert.equal(deviceNameOfMac('sep0011223344aa'), PHONE);
  for (const bad of ['', '0011223344', '0011223344GG', '00112233445566', '../etc']) {
    assert.throws(
      () => deviceNameOfMac(bad),
      (e: { code?: string }) => e.code === SimErrorCode.mac,
      bad,
    );
  }
});
