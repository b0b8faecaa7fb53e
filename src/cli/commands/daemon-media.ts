/** `sbd daemon media` (sbd-mediad; daemons/mediad.ts runs it): music on hold, IVR and annunciator sources as SRTP to many listeners. */
import type { Command } from '../command.js';
import { intOption, parse } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { isSuite, type Suite } from '../../media/srtp/index.js';
import { runMediad } from '../../daemons/mediad.js';

export const commands: Command[] = [
  {
    path: ['daemon', 'media'],
    summary: 'run the media streaming server (sbd-mediad): WAV sources as G.711 RTP/SRTP, listeners via the control port',
    usage:
      'sbd daemon media --source NAME=FILE.wav [--source ...] [--bind ADDR] [--port N] [--control-port N] [--suites S1,S2] [--block-unencrypted] [--max-listeners N]',
    async run(args) {
      const { values } = parse(
        args,
        {
          source: { type: 'string', multiple: true },
          bind: { type: 'string' },
          port: { type: 'string' },
          'control-port': { type: 'string' },
          suites: { type: 'string' },
          'block-unencrypted': { type: 'boolean' },
          'max-listeners': { type: 'string' },
        },
        false,
      );
      if (!values.source?.length) throw new UsageError('at least one --source NAME=FILE.wav is needed');
      const suites = (values.suites ?? 'AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32').split(',').map((s) => s.trim());
      for (const s of suites) if (!isSuite(s)) throw new UsageError(`unknown suite "${s}"`);
      const sources = values.source.map((spec) => {
        const eq = spec.indexOf('=');
        if (eq < 1) throw new UsageError(`--source must be NAME=FILE.wav, got "${spec}"`);
        return { name: spec.slice(0, eq), file: spec.slice(eq + 1) };
      });
      return runMediad({
        sources,
        host: values.bind ?? '127.0.0.1',
        port: intOption(values.port, '--port', 0, 0, 65535),
        controlPort: intOption(values['control-port'], '--control-port', 0, 0, 65535),
        allowedSuites: suites as Suite[],
        blockUnencrypted: values['block-unencrypted'] ?? false,
        maxListeners: intOption(values['max-listeners'], '--max-listeners', 10000, 1, 1_000_000),
      });
    },
  },
];
