/**
 * A simulated phone's persistent trust store, `<state>/SEP<MAC>/`: what a real phone keeps in flash across reboots
 *   CTLFile.tlv, ITLFile.tlv   the installed trust lists (absent until installed)
 *   phone-key.pem              its private key (0600): made on first need, or the key it made for CAPF
 *   lsc.pem                    its LSC once CAPF installed one (capf-enroll.ts)
 *   mic.pem, mic-key.pem       a manufacturer certificate and key, when the test gives the phone one
 *   config.xml                 the last config it accepted (0600: it may hold the line's digest password)
 *   decisions.json             what it decided at its last boot
 * Every write is a temporary file renamed into place, so an interrupted boot never leaves half a file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, keyPairFromPrivateKeyPem, readKeyFile, writeKeyFile, type KeySpec } from '../pki/keys.js';
import type { Decision } from './decisions.js';
import type { BootResult, PhoneKeys } from './boot.js';
import { SimError, SimErrorCode } from './errors.js';
import type { TrustListView, TrustListViewCache } from './trust-list-view.js';
import type { PhoneTrust } from './trust-rules.js';
import { phoneConfigServices, phoneLineCredentials, type PhoneConfigServices, type PhoneLineCredentials } from './phone-config.js';

export const PhoneFiles = {
  ctl: 'CTLFile.tlv',
  itl: 'ITLFile.tlv',
  key: 'phone-key.pem',
  lsc: 'lsc.pem',
  mic: 'mic.pem',
  micKey: 'mic-key.pem',
  config: 'config.xml',
  decisions: 'decisions.json',
} as const;

/** `001122334455`, `00:11:22:33:44:55`, `0011.2233.4455` or `SEP001122334455` → `SEP001122334455`. */
export function deviceNameOfMac(mac: string): string {
  const hex = mac.replace(/^SEP/i, '').replace(/[:.-]/g, '');
  if (!/^[0-9A-Fa-f]{12}$/.test(hex))
    throw new SimError(SimErrorCode.mac, `"${mac}" is not a MAC address (12 hex digits, optionally with : . or - separators, or SEP<MAC>)`);
  return `SEP${hex.toUpperCase()}`;
}

export function phoneDir(stateDir: string, deviceName: string): string {
  return join(stateDir, deviceName);
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SimError(SimErrorCode.folder, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function writeAtomic(path: string, bytes: Buffer | string, mode = 0o644): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new SimError(SimErrorCode.folder, `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function storedList(bytes: Buffer | undefined, path: string, views: TrustListViewCache, label: string): TrustListView | undefined {
  if (!bytes) return undefined;
  try {
    return views.view(bytes, label);
  } catch (err) {
    throw new SimError(
      SimErrorCode.folder,
      `the phone's stored ${path} is not a valid trust list (${(err as Error).message}); delete it to reset the phone's trust`,
      { cause: err },
    );
  }
}

export interface LoadedPhone {
  trust: PhoneTrust;
  keys: PhoneKeys;
  /** Call-control, TVS and CAPF servers of the config it holds (empty lists before its first config). */
  services: PhoneConfigServices;
}

export async function loadPhone(stateDir: string, deviceName: string, views: TrustListViewCache): Promise<LoadedPhone> {
  const dir = phoneDir(stateDir, deviceName);
  const [ctl, itl, lsc, config] = await Promise.all(
    [PhoneFiles.ctl, PhoneFiles.itl, PhoneFiles.lsc, PhoneFiles.config].map((f) => readOptional(join(dir, f))),
  );
  const keyPath = join(dir, PhoneFiles.key);
  let privateKeyPem: string | undefined;
  if (existsSync(keyPath)) {
    try {
      privateKeyPem = readKeyFile(keyPath);
    } catch (err) {
      throw new SimError(SimErrorCode.key, `the phone's key ${keyPath} cannot be used: ${(err as Error).message}`, { cause: err });
    }
  }
  return {
    trust: { ctl: storedList(ctl, join(dir, PhoneFiles.ctl), views, 'CTL'), itl: storedList(itl, join(dir, PhoneFiles.itl), views, 'ITL') },
    keys: { privateKeyPem, lscPem: lsc?.toString('utf8') },
    services: config ? phoneConfigServices(config) : { callManagers: [], tvs: [], capf: [], capfAuthMode: undefined },
  };
}

/** Persists what changed in a boot: lists only when their bytes changed, the config, the decisions. */
export async function savePhone(stateDir: string, deviceName: string, before: PhoneTrust, result: BootResult): Promise<void> {
  const dir = phoneDir(stateDir, deviceName);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const writes: Promise<void>[] = [];
  if (result.trust.ctl && result.trust.ctl.sha256Hex !== before.ctl?.sha256Hex)
    writes.push(writeAtomic(join(dir, PhoneFiles.ctl), result.trust.ctl.bytes));
  if (result.trust.itl && result.trust.itl.sha256Hex !== before.itl?.sha256Hex)
    writes.push(writeAtomic(join(dir, PhoneFiles.itl), result.trust.itl.bytes));
  // 0600: the config may carry the line's digest password (a phone keeps it in flash, not for others to read).
  if (result.config) writes.push(writeAtomic(join(dir, PhoneFiles.config), result.config.xml, 0o600));
  writes.push(writeAtomic(join(dir, PhoneFiles.decisions), JSON.stringify(result.decisions satisfies Decision[], null, 1) + '\n'));
  await Promise.all(writes);
}

/** The phone's key pair, made (RSA 2048 by default, what CAPF asks for) and stored 0600 on first call. */
export function ensurePhoneKey(
  stateDir: string,
  deviceName: string,
  spec: KeySpec = { type: 'rsa', bits: 2048 },
): { privateKeyPem: string; publicKeyPem: string } {
  const dir = phoneDir(stateDir, deviceName);
  const path = join(dir, PhoneFiles.key);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(path)) {
    const pair = keyPairFromPrivateKeyPem(readKeyFile(path));
    return { privateKeyPem: pair.privateKeyPem, publicKeyPem: pair.publicKeyPem };
  }
  const pair = generateKeyPair(spec);
  writeKeyFile(path, pair.privateKeyPem);
  return { privateKeyPem: pair.privateKeyPem, publicKeyPem: pair.publicKeyPem };
}

/** Stores an LSC as the phone's (tests that hand a phone a certificate; CAPF enrollment uses storeEnrollment). */
export async function installLsc(stateDir: string, deviceName: string, lscPem: string): Promise<void> {
  const dir = phoneDir(stateDir, deviceName);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomic(join(dir, PhoneFiles.lsc), lscPem);
}

/** What a CAPF install leaves in the phone: the key it made (0600) and the LSC for it. */
export async function storeEnrollment(stateDir: string, deviceName: string, privateKeyPem: string, lscPem: string): Promise<void> {
  const dir = phoneDir(stateDir, deviceName);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    writeKeyFile(join(dir, PhoneFiles.key), privateKeyPem);
  } catch (err) {
    throw new SimError(SimErrorCode.key, `cannot store the phone's new key: ${(err as Error).message}`, { cause: err });
  }
  await writeAtomic(join(dir, PhoneFiles.lsc), lscPem);
}

/** CAPF delete: the phone forgets its LSC. */
export async function deleteLsc(stateDir: string, deviceName: string): Promise<void> {
  await rm(join(phoneDir(stateDir, deviceName), PhoneFiles.lsc), { force: true });
}

/** The phone's manufacturer certificate and key, if it was given one (mic.pem, mic-key.pem). */
export async function readMic(stateDir: string, deviceName: string): Promise<{ certPem: string; keyPem: string } | undefined> {
  const dir = phoneDir(stateDir, deviceName);
  const cert = await readOptional(join(dir, PhoneFiles.mic));
  if (!cert) return undefined;
  try {
    return { certPem: cert.toString('utf8'), keyPem: readKeyFile(join(dir, PhoneFiles.micKey)) };
  } catch (err) {
    throw new SimError(SimErrorCode.key, `the phone has ${PhoneFiles.mic} but its key cannot be used: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The line and digest credentials of the config the phone holds (phone-config.ts), or undefined. */
export async function readLineCredentials(stateDir: string, deviceName: string): Promise<PhoneLineCredentials | undefined> {
  const config = await readOptional(join(phoneDir(stateDir, deviceName), PhoneFiles.config));
  return config ? phoneLineCredentials(config) : undefined;
}
