/**
 * Shared setup of the registrar rows of issue 16 (rows 1, 3, 5, 6): a real store in a temporary folder with the
 * shipped default security profile, the registrar and its directory as sbd-sipd wires them, and REGISTER builders.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerChallenge, DigestServer } from '../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import type { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { Registrar, type RegistrarOptions } from '../../src/sip/registrar/registrar.js';
import { ApplianceDirectory } from '../../src/daemons/adapters/sip-store.js';
import { DEFAULT_SECURITY_PROFILE, openStore, type Store } from '../../src/store/index.js';
import { digestHa1 } from '../../src/credentials/index.js';
import type { MessageSource } from '../../src/sip/transports/types.js';

export const T0 = Date.parse('2026-12-01T10:00:00Z');
export const udp = (address = '127.0.0.1', port = 5062): MessageSource => ({ transport: 'udp', address, port });

export interface RegistrarSetup {
  store: Store;
  registrar: Registrar;
  directory: ApplianceDirectory;
  realm: string;
  done: () => void;
}

/** Store with phone SEP001122334455 on 1000 (default profile, digest user ph1000 / pw-ph1000) and line user alice. */
export function registrarSetup(options: RegistrarOptions = {}): RegistrarSetup {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-row-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  const realm = store.getParam('SipStationRealm');
  const add = (u: string, pw: string) => {
    store.putUser({ userid: u, credentialHash: 'x', algorithm: 'none' });
    const h = digestHa1(u, realm, pw);
    store.putDigestCredential(u, realm, h.ha1Md5, h.ha1Sha256);
  };
  add('ph1000', 'pw-ph1000');
  add('alice', 'pw-alice');
  store.addDevice({
    name: 'SEP001122334455',
    model: '8841',
    securityProfile: DEFAULT_SECURITY_PROFILE,
    digestUser: 'ph1000',
    directoryNumber: '1000',
  });
  const directory = new ApplianceDirectory(store, { now: () => T0, refreshMs: 0 });
  const registrar = new Registrar({ digest: new DigestServer({ realm, secret: Buffer.alloc(32, 5) }), directory }, options);
  return {
    store,
    registrar,
    directory,
    realm,
    done: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let cseq = 1;
export function register(aor: string, extra: string[] = [], callId = 'row@test'): SipRequest {
  const text = [
    'REGISTER sip:sbd.test SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK${(cseq * 7919).toString(36)}r`,
    `From: <sip:${aor}@sbd.test>;tag=f1`,
    `To: <sip:${aor}@sbd.test>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq++} REGISTER`,
    'Max-Forwards: 70',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** The answer to `challenge` for REGISTER sip:sbd.test. */
export function authorization(challenge: string, username: string, password: string, nc = 1): string {
  return answerChallenge({ challenge, method: 'REGISTER', uri: 'sip:sbd.test', username, secret: { password }, cnonce: 'feedbeef', nc });
}

/** REGISTER, answer the challenge with `username`/`password`, REGISTER again: the final response. */
export function registerWithAuth(
  r: RegistrarSetup,
  aor: string,
  username: string,
  password: string,
  extra: string[],
  now = T0,
  source = udp(),
): SipResponse {
  const first = r.registrar.handleRegister(register(aor, extra), source, now).response;
  if (first.status !== 401) return first;
  const auth = authorization(first.get('WWW-Authenticate')!, username, password);
  return r.registrar.handleRegister(register(aor, [...extra, `Authorization: ${auth}`]), source, now).response;
}

export function assertStatus(res: SipResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.reason}`);
}
