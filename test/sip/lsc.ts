/** Test helper: a phone's LSC issued by the store's CAPF (as the CAPF daemon would) for an EC key made here. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { issueLsc } from '../../src/pki/lsc.js';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import type { State } from '../../src/store/state.js';

export function issueTestLsc(state: State, deviceName: string, node = 'sbd1'): { cert: string; key: string } {
  const capf = state.store.currentCertificate('CAPF', node)!;
  const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const cert = issueLsc({
    capfCertPem: capf.pem,
    capfKeyPem: privateKeyOf(capf),
    deviceName,
    subjectPublicKey: kp.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    serial: randomBytes(8),
    now: new Date(Date.now() - 60_000),
  });
  return { cert: cert.pem, key: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** Adds a phone with that profile and number, and gives it an LSC (stored on the device, as CAPF does). */
export function addPhoneWithLsc(
  state: State,
  deviceName: string,
  dn: string,
  profile = 'Authenticated Profile',
  digestUser?: string,
): { cert: string; key: string } {
  const lsc = issueTestLsc(state, deviceName);
  state.store.addDevice({
    name: deviceName,
    model: '8845',
    securityProfile: profile,
    directoryNumber: dn,
    ...(digestUser ? { digestUser } : {}),
  });
  state.store.updateDevice(deviceName, { lscPem: lsc.cert });
  return lsc;
}
