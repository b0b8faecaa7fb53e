import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreErrorCode } from '../../src/store/errors.js';
import { openState } from '../../src/store/state.js';
import { tempDir } from './helpers.js';

test('a state folder without its store is refused with ERR_STATE_MISSING, and no store is made', () => {
  const dir = tempDir();
  assert.throws(() => openState(dir), { code: StoreErrorCode.stateMissing });
  assert.throws(() => openState(dir, { readonly: true }), { code: StoreErrorCode.stateMissing });
  assert.equal(existsSync(join(dir, 'sbd.db')), false);
  const created = openState(dir, { create: true });
  created.store.close();
  openState(dir).store.close();
});
