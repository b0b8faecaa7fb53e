/** The store publishes its generation to `<path>-generation` for sbd-tftpd's native data plane. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreErrorCode } from '../../src/store/errors.js';
import { open, tempDir } from './helpers.js';

const published = (file: string): number => Number(readFileSync(file).readBigUInt64LE(0));

test('every committed write publishes the new generation; a refused write publishes nothing', () => {
  const path = join(tempDir(), 'sbd.db');
  const s = open(path);
  const file = s.generationFile!;
  assert.equal(file, `${path}-generation`);
  s.setParam('ClusterSecurityMode', 'mixed');
  assert.equal(published(file), s.generation());
  const before = s.generation();
  assert.throws(() => s.setParam('KeySize', 'twelve'), { code: StoreErrorCode.paramInvalid });
  assert.equal(s.generation(), before, 'the refused write rolled back');
  assert.equal(published(file), before, 'and left the published value alone');
  // A second connection (another daemon or the CLI) publishes into the same file.
  const other = open(path);
  other.resetParam('ClusterSecurityMode');
  assert.equal(published(file), before + 1);
  assert.equal(s.generation(), before + 1);
  assert.equal(readFileSync(file).length, 8);
});
