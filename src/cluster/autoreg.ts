/**
 * Autoregistration (DESIGN §2): in non-secure and mixed mode, with AutoRegistration on, an unknown phone
 *   1. boots from the default config — XMLDefault.cnf.xml.sgn, signed by the TFTP node's CallManager key, for a
 *      model with Security by Default, else the unsigned XMLDefault.cnf.xml (the phone feature list says which);
 *   2. registers with its device name and model; the registrar calls `autoRegisterPhone`, which creates the
 *      device with the next free directory number of AutoRegistrationDnRange (lowest first, so freed numbers are
 *      reused) and the standard non-secure profile in one store transaction: two phones never get the same number;
 *   3. is reset, downloads its own SEP<MAC>.cnf.xml[.sgn] with that number, and registers on it.
 */
import { DEFAULT_SECURITY_PROFILE, normaliseDeviceName, type DeviceRow, type Store } from '../store/index.js';
import { ClusterError, ClusterErrorCode } from './errors.js';

/** Autoregistration's codes by their short names (declared in errors.ts ClusterErrorCode). */
export const AutoregErrorCode = {
  disabled: ClusterErrorCode.autoregDisabled,
  mode: ClusterErrorCode.autoregMode,
  rangeFull: ClusterErrorCode.autoregRangeFull,
  range: ClusterErrorCode.autoregRange,
} as const;
type AutoregErrorCode = (typeof AutoregErrorCode)[keyof typeof AutoregErrorCode];

export class AutoregError extends ClusterError {
  declare readonly code: AutoregErrorCode;

  constructor(code: AutoregErrorCode, message: string) {
    // A registrar answers an unknown phone it cannot add with 503 (Service Unavailable, RFC 3261 §21.5.4).
    super(code, message, { statusHint: 503 });
  }
}

/** Cluster security modes autoregistration works in. */
export const AUTOREG_MODES = ['non-secure', 'mixed'] as const;

/** Description given to autoregistered phones, as CUCM names them: "Auto 1000". */
export const AUTOREG_DESCRIPTION_PREFIX = 'Auto ';

export interface AutoRegisterInput {
  /** SEP + 12 hex digits, as the phone registers. */
  deviceName: string;
  /** The model the phone reports ('8845', 'CP-8845', 'Cisco 8845'). */
  model: string;
}

export type AutoRegisterResult = { kind: 'registered'; device: DeviceRow; directoryNumber: string } | { kind: 'known'; device: DeviceRow };

/** 'first-last' → the bounds as BigInt with their digit count (numbers keep leading zeros). */
export function parseDnRange(range: string): { first: bigint; last: bigint; digits: number } {
  const m = /^(\d+)-(\d+)$/.exec(range);
  if (!m) throw new AutoregError(AutoregErrorCode.range, `AutoRegistrationDnRange "${range}" is not a range first-last`);
  return { first: BigInt(m[1]!), last: BigInt(m[2]!), digits: m[1]!.length };
}

/** The lowest number of `range` no device uses, or undefined when all are taken. */
export function nextFreeDn(range: string, used: Iterable<string>): string | undefined {
  const { first, last, digits } = parseDnRange(range);
  const taken = new Set<bigint>();
  for (const dn of used) if (/^\d+$/.test(dn) && dn.length === digits) taken.add(BigInt(dn));
  // At most |taken| + 1 steps: the walk stops at the first gap.
  for (let n = first; n <= last; n++) if (!taken.has(n)) return n.toString().padStart(digits, '0');
  return undefined;
}

export function autoRegisterPhone(store: Store, input: AutoRegisterInput): AutoRegisterResult {
  const name = normaliseDeviceName(input.deviceName);
  return store.transaction(() => {
    const known = store.getDevice(name);
    if (known) return { kind: 'known', device: known };
    if (!store.getBoolParam('AutoRegistration')) {
      throw new AutoregError(AutoregErrorCode.disabled, `${name} is not in the store and AutoRegistration is off`);
    }
    const mode = store.getParam('ClusterSecurityMode');
    if (!(AUTOREG_MODES as readonly string[]).includes(mode)) {
      throw new AutoregError(AutoregErrorCode.mode, `autoregistration works in ${AUTOREG_MODES.join(' and ')} mode, not ${mode}`);
    }
    const range = store.getParam('AutoRegistrationDnRange');
    const dn = nextFreeDn(
      range,
      store.listDevices().flatMap((d) => (d.directoryNumber ? [d.directoryNumber] : [])),
    );
    if (dn === undefined)
      throw new AutoregError(AutoregErrorCode.rangeFull, `every directory number of AutoRegistrationDnRange ${range} is taken`);
    const device = store.addDevice({
      name,
      model: input.model,
      description: `${AUTOREG_DESCRIPTION_PREFIX}${dn}`,
      securityProfile: DEFAULT_SECURITY_PROFILE,
      directoryNumber: dn,
    });
    return { kind: 'registered', device, directoryNumber: dn };
  });
}
