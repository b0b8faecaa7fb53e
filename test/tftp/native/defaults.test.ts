/**
 * The two engines' defaults agree: the native data plane's own config table (native/tftp-config.c) has the same
 * default for every key as TypeScript's tftpServerDefaults (src/tftp/server.ts), which NativeTftpServer sends it.
 * So neither engine can quietly run with a looser bound (e.g. the RFC 2349 timeout ceiling) than the other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tftpServerDefaults } from '../../../src/tftp/server.js';
import { NativeTftpServer, nativeConfigKeys, nativeEngineDefaults, nativeTftpServerDefaults } from '../../../src/tftp/native-server.js';

test('every numeric key of the C config table defaults to the TypeScript default', { skip: !NativeTftpServer.available() && 'libsbdtftp.so not built' }, () => {
  const c = nativeEngineDefaults()!;
  const ts = new Map(nativeConfigKeys({ ...tftpServerDefaults, ...nativeTftpServerDefaults }).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]));
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
