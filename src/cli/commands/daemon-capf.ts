/** `sbd daemon capf` (sbd-capfd): the flags; daemons/capfd.ts runs it. */
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { ktlsChoice, ktlsOptions } from '../ktls.js';
import { UsageError } from '../../lib/errors.js';
import { CAPF_SERVER_DEFAULTS } from '../../capf/server.js';
import { runCapfd } from '../../daemons/capfd.js';

export const commands: Command[] = [
  {
    path: ['daemon', 'capf'],
    summary: 'run the CAPF server (sbd-capfd): phones authenticate and get, hand over or delete their LSC',
    usage:
      'sbd daemon capf --state DIR [--bind ADDR] [--port N] [--node NAME] [--lsc-years N] [--idle-timeout MS] [--auth-timeout MS] [--max-auth-failures N] [--tls-engine node|native [--ktls|--no-ktls]]',
    async run(args) {
      const { values } = parse(
        args,
        {
          state: { type: 'string' },
          bind: { type: 'string' },
          port: { type: 'string' },
          node: { type: 'string' },
          'lsc-years': { type: 'string' },
          'idle-timeout': { type: 'string' },
          'auth-timeout': { type: 'string' },
          'max-auth-failures': { type: 'string' },
          'tls-engine': { type: 'string' },
          ...ktlsOptions,
        },
        false,
      );
      const tlsEngine = values['tls-engine'] ?? CAPF_SERVER_DEFAULTS.tlsEngine;
      if (tlsEngine !== 'node' && tlsEngine !== 'native') throw new UsageError('--tls-engine must be node or native');
      const ktls = ktlsChoice(values, tlsEngine);
      return runCapfd({
        tlsEngine,
        ktls,
        stateDir: required(values.state, '--state'),
        host: values.bind ?? CAPF_SERVER_DEFAULTS.host,
        port: intOption(values.port, '--port', CAPF_SERVER_DEFAULTS.port, 0, 65535),
        ...(values.node ? { node: values.node } : {}),
        lscValidityYears: intOption(values['lsc-years'], '--lsc-years', CAPF_SERVER_DEFAULTS.lscValidityYears, 1, 20),
        idleTimeoutMs: intOption(values['idle-timeout'], '--idle-timeout', CAPF_SERVER_DEFAULTS.idleTimeoutMs, 1000, 3_600_000),
        authTimeoutMs: intOption(values['auth-timeout'], '--auth-timeout', CAPF_SERVER_DEFAULTS.authTimeoutMs, 1000, 300_000),
        maxAuthFailures: intOption(values['max-auth-failures'], '--max-auth-failures', CAPF_SERVER_DEFAULTS.maxAuthFailures, 1, 100),
      });
    },
  },
];
