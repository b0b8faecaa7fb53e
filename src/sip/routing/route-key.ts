/**
 * The key of the router's MACs (route-mac.ts): `<state>/keys/sip-route.key`, 32 random bytes in hex, created
 * 0600 on first use (temp file + rename), so Record-Routes and branches stay valid across a restart and
 * between nodes sharing the state folder. Without a state folder: random per process.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RouteKeyCode, RouteKeyError } from './route-mac.js';

export function routeKey(keysDir?: string): Buffer {
  if (keysDir === undefined) return randomBytes(32);
  const path = join(keysDir, 'sip-route.key');
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    renameSync(tmp, path);
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new RouteKeyError(
      RouteKeyCode.key,
      `${path} is not 64 hex digits: remove it to make a new one (open dialogs then lose their routes)`,
    );
  return Buffer.from(hex, 'hex');
}
