import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { test } from 'node:test';
import { regenerateCertificate } from '../../src/cluster/certs.js';
import { openState } from '../../src/store/state.js';
import { systemClock } from '../../src/lib/clock.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { Role } from '../../src/trust/tags.js';
import { TrustAnswerer } from '../../src/tvs/trust-answer.js';
import { tempState } from './helpers.js';

const sha = (der: Buffer) => createHash('sha256').update(der).digest('hex');

test('store answers: every appliance identity with the roles the ITL gives it; unknown certificates are invalid', (t) => {
  const { store } = tempState(t);
  const tvs = new TrustAnswerer(store);
  const cur = (name: string, node: string | null = 'cucm-pub') => store.currentCertificate(name, node)!.der;
  // sbd init puts every service on the one node, so its CallManager certificate is CCM+TFTP and SAST.
  assert.deepEqual(tvs.answer(cur('CallManager')), {
    status: 0,
    roles: [Role.CCM_TFTP, Role.SAST],
    ttl: 86400,
    names: ['CallManager@cucm-pub'],
  });
  assert.deepEqual(tvs.answer(cur('TVS')), { status: 0, roles: [Role.TVS], ttl: 86400, names: ['TVS@cucm-pub'] });
  assert.deepEqual(tvs.answer(cur('CAPF')), { status: 0, roles: [Role.CAPF], ttl: 86400, names: ['CAPF@cucm-pub'] });
  assert.deepEqual(tvs.answer(cur('ITLRecovery', null)), { status: 0, roles: [Role.SAST], ttl: 86400, names: ['ITLRecovery'] });
  assert.deepEqual(tvs.answer(cur('tomcat')), { status: 0, roles: [Role.APP_SERVER], ttl: 86400, names: ['tomcat@cucm-pub'] });
  const stranger = generateIdentity({ name: 'tomcat', hostname: 'elsewhere', now: new Date() });
  assert.deepEqual(tvs.answer(stranger.certDer), { status: 1 });
  assert.deepEqual(tvs.answer(Buffer.from('not a certificate at all')), { status: 1 });
});

test('store answers: trusted imports by name; MIC-CA and unknown import names are not vouched for', (t) => {
  const { store } = tempState(t);
  const tvs = new TrustAnswerer(store, { ttlSeconds: 600 });
  const mk = (cn: string) => generateIdentity({ name: 'tomcat', hostname: cn, now: new Date() }).certPem;
  const sast = store.addTrustedCertificate({ name: 'phone-sast-trust', node: null, pem: mk('sast-token') });
  const web = store.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: mk('directory') });
  const app = store.addTrustedCertificate({ name: 'app-server-trust', node: null, pem: mk('midlets') });
  const mic = store.addTrustedCertificate({ name: 'MIC-CA', node: null, pem: mk('mic-ca') });
  const other = store.addTrustedCertificate({ name: 'CAPF-trust', node: null, pem: mk('capf-ca') });
  assert.deepEqual(tvs.answer(sast.der), { status: 0, roles: [Role.SAST], ttl: 600, names: ['phone-sast-trust'] });
  assert.deepEqual(tvs.answer(web.der), { status: 0, roles: [Role.APP_SERVER], ttl: 600, names: ['tomcat-trust'] });
  assert.deepEqual(tvs.answer(app.der), { status: 0, roles: [Role.APP_SERVER], ttl: 600, names: ['app-server-trust'] });
  assert.deepEqual(tvs.answer(mic.der), { status: 1 });
  assert.deepEqual(tvs.answer(other.der), { status: 1 });
  // Removing an import takes effect on the next answer (the store generation changed).
  store.removeCertificate(web.id);
  assert.deepEqual(tvs.answer(web.der), { status: 1 });
});

test('store answers: after `sbd cert regen` the old certificates stay valid as history, the new ones are valid too', (t) => {
  const state = tempState(t);
  const { store } = state;
  const tvs = new TrustAnswerer(store);
  const oldTvs = store.currentCertificate('TVS', 'cucm-pub')!;
  const oldCm = store.currentCertificate('CallManager', 'cucm-pub')!;
  assert.equal(tvs.answer(oldTvs.der).status, 0);
  regenerateCertificate(state, 'TVS', systemClock);
  // The documented order: TVS first, then CallManager (TFTP) — here through the real CLI, as an administrator would.
  store.close();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cert', 'regen', 'CallManager', '--state', state.dir], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const reopened = tempStateReopen(t, state.dir);
  const tvs2 = new TrustAnswerer(reopened);
  const newTvs = reopened.currentCertificate('TVS', 'cucm-pub')!;
  const newCm = reopened.currentCertificate('CallManager', 'cucm-pub')!;
  assert.notEqual(newTvs.sha256Hex, oldTvs.sha256Hex);
  assert.notEqual(newCm.sha256Hex, oldCm.sha256Hex);
  assert.deepEqual(tvs2.answer(oldTvs.der), { status: 0, roles: [Role.TVS], ttl: 86400, names: ['TVS@cucm-pub (history)'] });
  assert.deepEqual(tvs2.answer(newTvs.der), { status: 0, roles: [Role.TVS], ttl: 86400, names: ['TVS@cucm-pub'] });
  assert.deepEqual(tvs2.answer(oldCm.der), {
    status: 0,
    roles: [Role.CCM_TFTP, Role.SAST],
    ttl: 86400,
    names: ['CallManager@cucm-pub (history)'],
  });
  assert.deepEqual(tvs2.answer(newCm.der).status, 0);
  assert.equal(sha(new X509Certificate(newCm.pem).raw), newCm.sha256Hex);
});

test('store answers: a call-control node without TFTP gives its CallManager certificate CCM only', (t) => {
  const state = tempState(t);
  const { store } = state;
  const node = store.addNode({
    name: 'cucm-sub',
    hostname: 'cucm-sub',
    ipv4: '127.0.0.2',
    isPublisher: false,
    services: ['callmanager', 'sip'],
  });
  const cm = regenerateCertificate(state, 'CallManager', systemClock, node.name).certificate;
  assert.deepEqual(new TrustAnswerer(store).answer(cm.der), { status: 0, roles: [Role.CCM], ttl: 86400, names: ['CallManager@cucm-sub'] });
});

function tempStateReopen(t: { after: (fn: () => void) => void }, dir: string) {
  const s = openState(dir);
  t.after(() => s.store.close());
  return s.store;
}
