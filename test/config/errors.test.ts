import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultConfigFile } from '../../src/config/cluster-configs.js';
import { ConfigErrorCode } from '../../src/config/errors.js';
import { fixedClock } from '../../src/lib/clock.js';
import { openStore } from '../../src/store/index.js';

test('a signed config on a node without a CallManager certificate is ERR_CONFIG_NO_SIGNER; the unsigned one is built', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-config-errors-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  t.after(() => store.close());
  store.addNode({ name: 'pub', hostname: 'pub.example', services: ['tftp'] });
  const node = store.listNodes()[0]!;
  const clock = fixedClock(Date.UTC(2026, 0, 1));
  assert.throws(() => defaultConfigFile(store, true, clock, node), { code: ConfigErrorCode.noSigner });
  assert.match(defaultConfigFile(store, false, clock, node).toString(), /^<\?xml|<Default>/);
});
