/**
 * bench/trust: build and sign an ITL of 39 certificates, and sign a 6 KB .sgn, next to `openssl dgst -sha1 -sign`
 * making the same RSA-2048 signature in the same run. Prints ms per operation (median of rounds) and ratios.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildTrustList, itlRecordInputs, type TrustListInputs } from '../src/trust/lists.js';
import { buildSgn } from '../src/trust/sgn.js';
import { signerIdentityOf } from '../src/trust/record.js';
import { certDer, keyPem, server } from '../test/trust/helpers.js';

const rounds = Number(process.env.SBD_BENCH_ROUNDS ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time(fn: () => void, reps: number): number {
  const t = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t) / reps;
}

const signer = { ...signerIdentityOf(certDer('itlrecovery')), privateKey: createPrivateKey(keyPem('itlrecovery')) };
// 39 certificates: ITLRecovery + CallManager×2 (TFTP + SAST) + 35 TVS + CAPF.
const inputs: TrustListInputs = {
  itlRecovery: server('itlrecovery', 'sbd-bench', '127.0.0.1'),
  tftpServers: [{ ...server('callmanager', 'sbd-bench', '127.0.0.1'), ccm: true }],
  callManagers: [],
  tvs: Array.from({ length: 35 }, () => server('tvs', 'sbd-bench', '127.0.0.1')),
  capf: [server('capf', 'sbd-bench', '127.0.0.1')],
};
const records = itlRecordInputs(inputs);
const body = randomBytes(6 * 1024);
const dir = mkdtempSync(join(tmpdir(), 'sbd-bench-trust-'));
const keyFile = join(dir, 'key.pem');
writeFileSync(keyFile, keyPem('itlrecovery'));
const itlSample = buildTrustList(records, { signer, filename: 'ITLFile.tlv', timestamp: 0 });
writeFileSync(join(dir, 'itl.bin'), itlSample);
writeFileSync(join(dir, 'body.bin'), body);

const rows: Array<[string, number[]]> = [
  ['sbd ITL, 39 certs, build+sign', []],
  ['sbd .sgn 6 KB, build+sign', []],
  ['openssl dgst -sha1 -sign (ITL bytes)', []],
  ['openssl dgst -sha1 -sign (6 KB)', []],
];
for (let r = 0; r < rounds; r++) {
  rows[0]![1].push(time(() => buildTrustList(records, { signer, filename: 'ITLFile.tlv', timestamp: r }), 20));
  rows[1]![1].push(time(() => buildSgn({ body, filename: 'bench.xml.sgn', signer, timestamp: r }), 50));
  rows[2]![1].push(time(() => execFileSync('openssl', ['dgst', '-sha1', '-sign', keyFile, '-out', '/dev/null', join(dir, 'itl.bin')]), 5));
  rows[3]![1].push(time(() => execFileSync('openssl', ['dgst', '-sha1', '-sign', keyFile, '-out', '/dev/null', join(dir, 'body.bin')]), 5));
}
console.log(
  `bench/trust — ${new Date().toISOString().slice(0, 10)}, node ${process.versions.node}, ${rounds} rounds (median ms per operation)`,
);
console.log(`ITL size: ${itlSample.length} bytes with ${records.length} certificates`);
for (const [name, xs] of rows) console.log(`  ${name.padEnd(40)} ${median(xs).toFixed(3)} ms`);
const m = rows.map(([, xs]) => median(xs));
console.log(
  `ratio (openssl process / sbd in-process): ITL ${(m[2]! / m[0]!).toFixed(1)}x, .sgn ${(m[3]! / m[1]!).toFixed(1)}x  (higher = sbd faster)`,
);
// The signature alone, without process start-up: OpenSSL's own RSA-2048 sign rate is the floor for any signer.
const speed = execFileSync('openssl', ['speed', '-seconds', '1', 'rsa2048'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const line = speed.split('\n').find((l) => /^rsa 2048 bits/.test(l));
if (line) {
  const signPerSec = Number(line.trim().split(/\s+/)[5]);
  console.log(
    `openssl speed rsa2048: ${signPerSec} sign/s = ${(1000 / signPerSec).toFixed(3)} ms per signature (in-process ceiling); sbd's .sgn is ${(m[1]! / (1000 / signPerSec)).toFixed(2)}x that`,
  );
}
