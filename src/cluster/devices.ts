/**
 * Phones as the seeds' procedures handle them (issue 18 item 7): add, show, delete, move to another security
 * profile, and give a symmetric config key (the non-PKI `.enc.sgn` path: a phone without an LSC decrypts its
 * config with a key entered on it). `sbd device …` and the console's `device …` both call these, so the two
 * front ends cannot drift apart; the store checks every field.
 */
import { randomBytes } from 'node:crypto';
import type { DeviceRow, Store } from '../store/index.js';
import { DEFAULT_SECURITY_PROFILE } from '../store/index.js';
import { UsageError } from '../lib/errors.js';
import {
  digestDeliveryNotice,
  existingDigest,
  setupPhoneDigest,
  type DeliveryNotice,
  type PhoneDigestSetup,
  type PreparedLogin,
} from './phone-digest.js';

export interface AddPhoneInput {
  name: string;
  model: string;
  securityProfile?: string;
  description?: string;
  directoryNumber?: string | null;
  /** Digest user; default the device name when digest is wanted (the profile asks for it, or a password is given). */
  digestUser?: string;
  /** The digest password; generated when digest is wanted and none is given. */
  digestPassword?: string;
}

export interface AddPhoneResult {
  device: DeviceRow;
  /** The digest user existed: its password is kept (`deliverable`: a config can carry it). */
  kept?: { userid: string; realm: string; deliverable: boolean };
  setup?: PhoneDigestSetup;
  notice: DeliveryNotice;
}

/** Adds the phone and, when digest is wanted, its digest user (in one store transaction). */
export function addPhone(store: Store, keysDir: string, input: AddPhoneInput, login: PreparedLogin): AddPhoneResult {
  return store.transaction(() => {
    const profile = store.getSecurityProfile(input.securityProfile ?? DEFAULT_SECURITY_PROFILE);
    const given = input.digestPassword;
    const digest = input.digestUser !== undefined || given !== undefined || profile?.digestAuth === true;
    const device = store.addDevice({
      name: input.name,
      model: input.model,
      ...(input.securityProfile ? { securityProfile: input.securityProfile } : {}),
      ...(input.description ? { description: input.description } : {}),
      directoryNumber: input.directoryNumber ?? null,
      digestUser: digest ? (input.digestUser ?? input.name.toUpperCase()) : null,
    });
    // An existing user's digest password is never replaced silently (another phone may use it).
    const kept = device.digestUser && given === undefined ? existingDigest(store, device.digestUser) : undefined;
    const setup = device.digestUser && !kept ? setupPhoneDigest(store, keysDir, device.digestUser, given, login) : undefined;
    return { device, ...(kept ? { kept } : {}), ...(setup ? { setup } : {}), notice: digestDeliveryNotice(store, device) };
  });
}

function mustGet(store: Store, name: string): DeviceRow {
  const d = store.getDevice(name);
  if (!d) throw new UsageError(`no device ${name.toUpperCase()}`);
  return d;
}

/** `show`: every field an administrator reads on CUCM's Phone Configuration page that sbd keeps. */
export function describeDevice(store: Store, name: string): string[] {
  const d = mustGet(store, name);
  const p = store.getSecurityProfile(d.securityProfile);
  const key = d.lscPem ? 'LSC (public key)' : d.symmetricKeyHex ? `symmetric (${d.symmetricKeyHex.length * 4}-bit)` : 'none';
  return [
    `Device          : ${d.name}`,
    `Model           : ${d.model}`,
    `Description     : ${d.description || '-'}`,
    `Directory number: ${d.directoryNumber ?? '-'}`,
    `Security profile: ${d.securityProfile}${p ? ` (${p.deviceSecurityMode}, ${p.transport}, config ${p.tftpEncryptedConfig ? 'encrypted' : 'signed'})` : ''}`,
    `Digest user     : ${d.digestUser ?? '-'}`,
    `LSC             : ${d.lscPem ? 'installed' : 'none'}`,
    `Config key      : ${key}`,
    `CAPF            : ${d.capfOperation} (authentication ${d.capfAuthMode})${d.capfStatus ? `, ${d.capfStatus}` : ''}`,
    `Updated         : ${d.updatedAt}`,
  ];
}

export function deviceLine(d: DeviceRow): string {
  return `${d.name}  ${d.model}  ${d.directoryNumber ?? '-'}  ${d.securityProfile}${d.lscPem ? '  LSC' : ''}${d.symmetricKeyHex ? '  key' : ''}`;
}

/** Removes the phone (its trust report and routing settings go with it); its digest user stays (it may be shared). */
export function removePhone(store: Store, name: string): DeviceRow {
  const d = mustGet(store, name);
  store.removeDevice(d.name);
  return d;
}

/**
 * Moves a phone to another profile, with what the administrator must still do: a profile that encrypts configs
 * serves nothing to a phone without a key; an authenticated/encrypted one refuses a phone without an LSC.
 */
export function setDeviceSecurityProfile(store: Store, name: string, profile: string): { device: DeviceRow; warnings: string[] } {
  mustGet(store, name);
  const device = store.updateDevice(name, { securityProfile: profile });
  const p = store.getSecurityProfile(profile)!;
  const warnings: string[] = [];
  if (p.tftpEncryptedConfig && !device.lscPem && !device.symmetricKeyHex)
    warnings.push(
      `${device.name} has no LSC and no symmetric key: its encrypted config is served once CAPF installs an LSC or a key is set ("device config-key ${device.name} generate")`,
    );
  if (p.deviceSecurityMode !== 'non-secure' && !device.lscPem)
    warnings.push(
      `${device.name} has no LSC: a ${p.deviceSecurityMode} profile registers it only over TLS with its LSC (schedule a CAPF install)`,
    );
  return { device, warnings };
}

/** Key sizes `.enc.sgn` takes (src/trust/enc-sgn.ts): AES-128 by default, AES-256 for phones that take it. */
export const CONFIG_KEY_BITS = [128, 256] as const;

/**
 * The phone's symmetric config key: `generate` (random, shown once: it is typed on the phone), a hex key, or
 * `clear`. The key is used only while the phone has no LSC (src/config/cluster-configs.ts configKeyOf).
 */
export function setConfigKey(
  store: Store,
  name: string,
  key: { generate: 128 | 256 } | { hex: string } | 'clear',
): { device: DeviceRow; shownKeyHex?: string; notes: string[] } {
  const d = mustGet(store, name);
  const hex = key === 'clear' ? null : 'generate' in key ? randomBytes(key.generate / 8).toString('hex') : key.hex.toLowerCase();
  const device = store.updateDevice(d.name, { symmetricKeyHex: hex });
  const notes: string[] = [];
  if (hex && device.lscPem)
    notes.push(`${device.name} has an LSC: its config is encrypted to the LSC, the symmetric key is kept for later`);
  if (hex && store.getSecurityProfile(device.securityProfile)?.tftpEncryptedConfig !== true)
    notes.push(`${device.securityProfile} does not encrypt configs: the key is used once ${device.name} gets a profile that does`);
  return { device, ...(hex && key !== 'clear' && 'generate' in key ? { shownKeyHex: hex } : {}), notes };
}
