/**
 * The key a phone is asked to generate: KEY_GENERATE_REQUEST carries KEY_TYPE and KEY_SIZE (RSA) or CURVE (EC),
 * spec §3.2; and the check that the PUBLIC_KEY the phone returns is that key.
 */
import crypto from 'node:crypto';
import { CapfError, CapfErrorCode, localError } from './errors.js';
import { CapfCurve, CapfKeyType } from './frame.js';

export type CapfKeySpec = { type: 'rsa'; bits: 2048 | 3072 | 4096 } | { type: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' };

export const CAPF_RSA_BITS = [2048, 3072, 4096] as const;
export const CAPF_CURVES = ['P-256', 'P-384', 'P-521'] as const;
/** CUCM's default for a CAPF operation: RSA 2048. */
export const DEFAULT_CAPF_KEY_SPEC: CapfKeySpec = { type: 'rsa', bits: 2048 };

/** 'rsa-2048' | 'ec-P-256' (the text form used in the CLI and the store's pending-operation status). */
export function keySpecText(spec: CapfKeySpec): string {
  return spec.type === 'rsa' ? `rsa-${spec.bits}` : `ec-${spec.curve}`;
}

export function parseKeySpecText(text: string): CapfKeySpec | undefined {
  const rsa = /^rsa-(\d{4})$/i.exec(text);
  if (rsa && (CAPF_RSA_BITS as readonly number[]).includes(Number(rsa[1])))
    return { type: 'rsa', bits: Number(rsa[1]) as 2048 | 3072 | 4096 };
  const ec = /^ec-(P-(?:256|384|521))$/i.exec(text);
  if (ec) return { type: 'ec', curve: ec[1]!.toUpperCase() as 'P-256' | 'P-384' | 'P-521' };
  return undefined;
}

export function keySpecElements(spec: CapfKeySpec): { keyType: number; keySize?: number; curve?: number } {
  if (spec.type === 'rsa') {
    if (!(CAPF_RSA_BITS as readonly number[]).includes(spec.bits))
      throw localError(CapfErrorCode.argument, `RSA ${spec.bits} is not one of ${CAPF_RSA_BITS.join(', ')}`);
    return { keyType: CapfKeyType.rsa, keySize: spec.bits };
  }
  const curve = CapfCurve[spec.curve];
  if (curve === undefined) throw localError(CapfErrorCode.argument, `curve ${String(spec.curve)} is not one of ${CAPF_CURVES.join(', ')}`);
  return { keyType: CapfKeyType.ec, curve };
}

/** KEY_GENERATE_REQUEST elements → the key spec; anything else is ERR_CAPF_KEY_SPEC (remote). */
export function keySpecFromElements(m: {
  keyType?: number | undefined;
  keySize?: number | undefined;
  curve?: number | undefined;
}): CapfKeySpec {
  // capfd before EC support sent KEY_SIZE without KEY_TYPE: RSA.
  if (m.keyType === CapfKeyType.rsa || (m.keyType === undefined && m.keySize !== undefined)) {
    if (!(CAPF_RSA_BITS as readonly number[]).includes(m.keySize ?? -1))
      throw new CapfError(CapfErrorCode.keySpec, `KEY_SIZE ${m.keySize} is not one of ${CAPF_RSA_BITS.join(', ')}`);
    return { type: 'rsa', bits: m.keySize as 2048 | 3072 | 4096 };
  }
  if (m.keyType === CapfKeyType.ec) {
    const name = (Object.keys(CapfCurve) as Array<keyof typeof CapfCurve>).find((k) => CapfCurve[k] === m.curve);
    if (!name) throw new CapfError(CapfErrorCode.keySpec, `CURVE ${m.curve} is not one of 0 (P-256), 1 (P-384), 2 (P-521)`);
    return { type: 'ec', curve: name };
  }
  throw new CapfError(CapfErrorCode.keySpec, `KEY_TYPE ${m.keyType} is neither RSA (0) nor EC (1)`);
}

const curveOids: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
  'P-256': 'P-256',
  'P-384': 'P-384',
  'P-521': 'P-521',
};

/** Parses a PUBLIC_KEY (SPKI DER) and checks it is the key asked for. */
export function checkPublicKey(spki: Buffer, spec: CapfKeySpec): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    throw new CapfError(CapfErrorCode.keySpec, 'PUBLIC_KEY is not a DER SubjectPublicKeyInfo', { cause: err });
  }
  const d = key.asymmetricKeyDetails ?? {};
  if (spec.type === 'rsa') {
    if (key.asymmetricKeyType !== 'rsa' || d.modulusLength !== spec.bits) {
      throw new CapfError(
        CapfErrorCode.keySpec,
        `PUBLIC_KEY is ${key.asymmetricKeyType} ${d.modulusLength ?? d.namedCurve ?? ''}, RSA ${spec.bits} was asked for`,
      );
    }
  } else if (key.asymmetricKeyType !== 'ec' || curveOids[d.namedCurve ?? ''] !== spec.curve) {
    throw new CapfError(
      CapfErrorCode.keySpec,
      `PUBLIC_KEY is ${key.asymmetricKeyType} ${d.namedCurve ?? d.modulusLength ?? ''}, EC ${spec.curve} was asked for`,
    );
  }
  return key;
}
