/**
 * The two engines' defaults agree: the native data plane's own config table (native/tftp-config.c over the
 * generated native/tftp-limits.h) has the default of the limits table (src/tftp/limits.ts) for every key, and so do
 * tftpServerDefaults and the config NativeTftpServer sends. So neither engine can quietly run with a looser bound
 * (e.g. the RFC 2349 timeout ceiling) than the other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tftpServerDefaults } from '../../../src/tftp/server.js';
import { tftpLimitEntries } from '../../../src/tftp/limits.js';
import { NativeTftpServer, nativeConfigKeys, nativeEngineDefaults, nativeTftpServerDefaults } from '../../../src/tftp/native-server.js';

test('every key of the C config table defaults to the limits table, as TypeScript does', {
  skip: !NativeTftpServer.available() && 'libsbdtftp.so not built',
}, () => {
  const c = nativeEngineDefaults()!;
  const table = new Map(tftpLimitEntries.filter(([, l]) => l.key !== undefined).map(([, l]) => [l.key!, l.default]));
  assert.deepEqual(c, table);
  const ts = new Map(nativeConfigKeys({ ...tftpServerDefaults, ...nativeTftpServerDefaults }));
  for (const [key, value] of ts) assert.equal(c.get(key), value, `${key}: C ${c.get(key)}, TypeScript ${value}`);
  // Keys only C knows are the folder's (set from the file source, not from server options).
  const onlyC = [...c.keys()].filter((k) => !ts.has(k)).sort();
  assert.deepEqual(onlyC, ['folder_max_file_bytes', 'folder_read_max_bytes', 'folder_ttl_ms']);
  // The bounds issue 16 asks for, as defaults.
  assert.equal(c.get('max_timeout_s'), 10);
  assert.equal(c.get('max_retries_unverified'), 1);
  assert.equal(c.get('max_lifetime_ms'), 120_000);
  assert.equal(c.get('max_unverified_per_client'), 8);
});
