/**
 * Administration of a phone's digest credentials (`sbd device add`, `sbd device digest-reset`, `sbd param set
 * SipDigestPasswordInSignedConfig`): set or generate the password, store it (credentials/phone-digest.ts), and say
 * plainly where it will travel. The rule the notices explain is the one the config builder applies
 * (config/cluster-configs.ts passwordAllowedIn): inside the encrypted config always, in a signed-only config only
 * with SipDigestPasswordInSignedConfig, never in an unsigned one.
 */
import type { DeviceRow, Store } from '../store/index.js';
import { generatePhonePassword } from '../credentials/phone-secret.js';
import { putPhoneDigestPassword, unusableLogin, type PhoneDigestResult } from '../credentials/phone-digest.js';
import { passwordAllowedIn, supportsSecurityByDefault, wantsEncryptedConfig } from '../config/cluster-configs.js';

export const SIGNED_CONFIG_PARAM = 'SipDigestPasswordInSignedConfig';

export interface PhoneDigestSetup extends PhoneDigestResult {
  /** The clear password, for the administrator to see once (generated or given). */
  password: string;
  generated: boolean;
}

/** Made before the store transaction (scrypt is async): the login record for a digest user that is created. */
export type PreparedLogin = Awaited<ReturnType<typeof unusableLogin>>;
export { unusableLogin as prepareLogin };

/**
 * `device add` for a digest user that already has credentials in the realm (an end user set up before): nothing
 * is replaced unless a password is given; undefined when there is nothing to keep.
 */
export function existingDigest(store: Store, userid: string): { userid: string; realm: string; deliverable: boolean } | undefined {
  const realm = store.getParam('SipStationRealm');
  const row = store.getDigestCredential(userid, realm);
  return row ? { userid, realm, deliverable: row.passwordEnc !== null } : undefined;
}

/** Sets (or generates, when `password` is undefined) the digest password of `userid`; run inside a transaction. */
export function setupPhoneDigest(
  store: Store,
  keysDir: string,
  userid: string,
  password: string | undefined,
  login: PreparedLogin,
): PhoneDigestSetup {
  const pw = password ?? generatePhonePassword();
  const r = putPhoneDigestPassword(store, keysDir, { userid, password: pw }, login);
  return { ...r, password: pw, generated: password === undefined };
}

export interface DeliveryNotice {
  /** Said loudly: the password travels readable, or does not travel at all. */
  warnings: string[];
  notes: string[];
}

/** Where this device's digest password goes, as the config builder will do it now. */
export function digestDeliveryNotice(store: Store, d: DeviceRow): DeliveryNotice {
  const warnings: string[] = [];
  const notes: string[] = [];
  if (!d.digestUser) return { warnings, notes };
  if (!d.directoryNumber) {
    warnings.push(
      `${d.name} has no directory number: its config has no line, so the password is not delivered; enter it on the phone by hand`,
    );
    return { warnings, notes };
  }
  if (!supportsSecurityByDefault(store, d.model)) {
    warnings.push(`${d.model} takes only the unsigned ${d.name}.cnf.xml, which never carries the password: enter it on the phone by hand`);
    return { warnings, notes };
  }
  if (wantsEncryptedConfig(store, d)) {
    notes.push(`the password is delivered only inside ${d.name}.cnf.xml.enc.sgn, encrypted to the phone's own key`);
    if (!d.lscPem && !d.symmetricKeyHex)
      notes.push(`${d.name} has no LSC or symmetric key yet: its config is served once CAPF has installed one`);
    return { warnings, notes };
  }
  if (passwordAllowedIn(store, 'signed')) {
    warnings.push(
      `${SIGNED_CONFIG_PARAM} is true: this password goes out in ${d.name}.cnf.xml.sgn, which is signed but NOT encrypted. ` +
        'Anyone on the network who can fetch that file over TFTP (by guessing the MAC) can read it and register as this phone. ' +
        'Use an encrypted security profile instead.',
    );
  } else {
    warnings.push(
      `the password is NOT in ${d.name}'s config: ${d.name}.cnf.xml.sgn is only signed, and anyone who can fetch it over TFTP could read it. ` +
        `Enter the password on the phone by hand, or give ${d.name} a security profile with encrypted configs ` +
        `(or, knowingly, set ${SIGNED_CONFIG_PARAM} true).`,
    );
  }
  return { warnings, notes };
}

/** Devices whose digest password a signed-only config carries (or would carry) — what the parameter exposes. */
export function signedOnlyDigestDevices(store: Store): DeviceRow[] {
  return store
    .listDevices()
    .filter((d) => d.digestUser && d.directoryNumber && supportsSecurityByDefault(store, d.model) && !wantsEncryptedConfig(store, d));
}

/** What `param set SipDigestPasswordInSignedConfig` says. */
export function signedConfigParamNotice(store: Store, value: boolean): string[] {
  const devices = signedOnlyDigestDevices(store);
  const names =
    devices
      .slice(0, 10)
      .map((d) => d.name)
      .join(', ') + (devices.length > 10 ? ', …' : '');
  if (value) {
    return [
      `WARNING: ${SIGNED_CONFIG_PARAM} is true: the digest password of every phone with a signed-only (not encrypted) config now goes out ` +
        'in its SEP<MAC>.cnf.xml.sgn, readable by anyone on the network who can fetch it over TFTP (by guessing the MAC), ' +
        `who can then register as that phone. ${devices.length} device(s) affected${devices.length ? ': ' + names : ''}. ` +
        'Prefer security profiles with encrypted configs.',
    ];
  }
  return devices.length
    ? [
        `NOTE: ${devices.length} device(s) with signed-only configs no longer get their digest password in the config (${names}): enter it on those phones by hand or give them encrypted profiles`,
      ]
    : [];
}
