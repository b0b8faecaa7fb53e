/** `sbd srtp decrypt|encrypt`: turn the SRTP of a capture into RTP (and back) to listen to or inspect a call. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { BACKENDS, SUITES, SrtpContext, checkBackend, isSuite, type Backend } from '../../media/srtp/index.js';
import { transformPcap } from '../../media/pcap/index.js';

function makeCommand(direction: 'decrypt' | 'encrypt'): Command {
  return {
    path: ['srtp', direction],
    summary:
      direction === 'decrypt'
        ? 'turn the SRTP/SRTCP packets of a pcap capture into RTP/RTCP, reporting per stream what failed'
        : 'turn the RTP/RTCP packets of a pcap capture into SRTP/SRTCP with a given key',
    usage: `sbd srtp ${direction} --suite NAME --key BASE64 [--ssrc N] IN.pcap OUT.pcap   (BASE64 = master key || salt, as in a=crypto inline:)`,
    run(args, ctx) {
      const { values, positionals } = parse(args, { suite: { type: 'string' }, key: { type: 'string' }, ssrc: { type: 'string' } });
      const suite = required(values.suite, '--suite');
      if (!isSuite(suite)) throw new UsageError(`unknown suite "${suite}" (one of ${Object.keys(SUITES).join(', ')})`);
      const keyText = required(values.key, '--key')
        .replace(/^inline:/, '')
        .split('|')[0]!;
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyText)) throw new UsageError('--key must be base64');
      const raw = Buffer.from(keyText, 'base64');
      const p = SUITES[suite];
      if (raw.length !== p.keyLength + p.saltLength)
        throw new UsageError(`--key for ${suite} must be ${p.keyLength + p.saltLength} bytes (key || salt), got ${raw.length}`);
      const ssrc =
        values.ssrc === undefined
          ? undefined
          : intOption(values.ssrc.startsWith('0x') ? String(parseInt(values.ssrc, 16)) : values.ssrc, '--ssrc', 0, 0, 0xffffffff);
      if (positionals.length !== 2) throw new UsageError('need IN.pcap and OUT.pcap');
      const [inPath, outPath] = positionals as [string, string];
      const { output, streams, skipped } = transformPcap(readFileSync(inPath), {
        direction,
        suite,
        masterKey: raw.subarray(0, p.keyLength),
        masterSalt: raw.subarray(p.keyLength),
        ...(ssrc === undefined ? {} : { ssrc }),
      });
      const tmp = `${outPath}.tmp-${process.pid}`;
      writeFileSync(tmp, output);
      renameSync(tmp, outPath);
      ctx.out(
        `${'stream'.padEnd(20)} ${'packets'.padStart(8)} ${'ok'.padStart(8)} ${'auth-fail'.padStart(9)} ${'replay'.padStart(7)} ${'other'.padStart(6)}`,
      );
      for (const s of streams) {
        const name = `${s.kind} ssrc=0x${s.ssrc.toString(16).padStart(8, '0')}`;
        ctx.out(
          `${name.padEnd(20)} ${String(s.packets).padStart(8)} ${String(s.ok).padStart(8)} ${String(s.authFailures).padStart(9)} ${String(s.replays).padStart(7)} ${String(s.otherErrors).padStart(6)}`,
        );
      }
      ctx.out(`${skipped} packet(s) were not RTP/RTCP over UDP and were copied unchanged`);
      return streams.some((s) => s.ok < s.packets) ? 1 : 0;
    },
  };
}

const selftest: Command = {
  path: ['srtp', 'selftest'],
  summary: 'check that a crypto backend (openssl, af_alg) gives byte-identical SRTP/SRTCP to OpenSSL for every suite',
  usage: 'sbd srtp selftest [--backend openssl|af_alg]',
  run(args, ctx) {
    const { values } = parse(args, { backend: { type: 'string' } }, false);
    const backend = (values.backend ?? 'af_alg') as Backend;
    if (!Object.hasOwn(BACKENDS, backend)) throw new UsageError(`unknown backend "${backend}"`);
    if (!SrtpContext.backendAvailable(backend)) {
      ctx.err(`backend ${backend} is not available on this kernel (socket(AF_ALG) fails)`);
      return 1;
    }
    const results = checkBackend(backend);
    for (const r of results) ctx.out(`${r.ok ? 'ok  ' : 'FAIL'} ${r.suite.padEnd(24)} ${r.detail}`);
    ctx.out(`${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length} failed`);
    return results.every((r) => r.ok) ? 0 : 1;
  },
};

export const commands: Command[] = [makeCommand('decrypt'), makeCommand('encrypt'), selftest];
