/** `sbd daemon sip` (sbd-sipd; daemons/sipd.ts runs it): registrar and call routing over UDP, TCP and TLS. */
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { ktlsChoice, ktlsOptions } from '../ktls.js';
import { UsageError } from '../../lib/errors.js';
import { digestAlgorithms, digestServerDefaults, type DigestAlgorithm } from '../../sip/core/auth/digest.js';
import { runSipd, sipDaemonDefaults } from '../../daemons/sipd.js';
import { streamTransportDefaults } from '../../sip/transports/stream-transport.js';
import { registrarDefaults } from '../../sip/registrar/registrar.js';

function algorithms(text: string | undefined): DigestAlgorithm[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(',').map((s) => s.trim().toUpperCase());
  for (const a of list)
    if (!(digestAlgorithms as readonly string[]).includes(a))
      throw new UsageError(`--digest-algorithms: '${a}' is not one of ${digestAlgorithms.join(', ')}`);
  if (new Set(list).size !== list.length) throw new UsageError('--digest-algorithms: an algorithm is named twice');
  return list as DigestAlgorithm[];
}

export const commands: Command[] = [
  {
    path: ['daemon', 'sip'],
    summary: 'run the SIP daemon (sbd-sipd): registrar with digest, trunks, routing by partitions/CSS, SRTP policy',
    usage:
      'sbd daemon sip --state DIR [--store-url postgres://USER@HOST:PORT/DB [--primary-url URL]] [--bind ADDR] [--port N] [--tls-port M|--no-tls] [--advertise ADDR] [--node NAME]\n' +
      '                [--require-client-cert] [--digest-algorithms MD5[,SHA-256]] [--min-expires S] [--max-expires S]\n' +
      '                [--max-connections-per-source N] [--message-timeout MS] [--tls-engine node|native [--ktls|--no-ktls]]\n' +
      "  --store-url: the store is read from the node's PostgreSQL (password in PGPASSWORD; DIR then holds the keys only);\n" +
      "  --primary-url: where phones' reports go (the publisher's primary), default --store-url.\n" +
      '  --tls-engine: the TLS listener on the C TLS engine (native, docs/tls.md; the default where it is built) or on\n' +
      '  node:tls (node, the reference);\n' +
      "  --ktls, --no-ktls: the engine hands each session's record layer to the kernel (the `tls` module) or not;\n" +
      '  default: where the kernel has the module (/proc/net/tls_stat), as in the image.\n' +
      '  TCP/TLS: at most N sockets from one address (default 100); a connection that does not complete a SIP message\n' +
      '  within MS of opening or of its first bytes is closed (default 10000).\n' +
      "  Phones are challenged with their security profile's digest algorithms (default MD5: sipp, baresip, linphone\n" +
      '  and Cisco phones answer it); --digest-algorithms sets those offered where no phone profile applies\n' +
      '  (trunks), default MD5.',
    async run(args) {
      const { values } = parse(
        args,
        {
          state: { type: 'string' },
          'store-url': { type: 'string' },
          'primary-url': { type: 'string' },
          bind: { type: 'string' },
          port: { type: 'string' },
          'tls-port': { type: 'string' },
          'no-tls': { type: 'boolean' },
          advertise: { type: 'string' },
          node: { type: 'string' },
          'require-client-cert': { type: 'boolean' },
          'digest-algorithms': { type: 'string' },
          'min-expires': { type: 'string' },
          'max-expires': { type: 'string' },
          'max-connections-per-source': { type: 'string' },
          'message-timeout': { type: 'string' },
          'tls-engine': { type: 'string' },
          ...ktlsOptions,
        },
        false,
      );
      const minExpires = intOption(values['min-expires'], '--min-expires', registrarDefaults.minExpires, 1, 86400);
      const maxExpires = intOption(values['max-expires'], '--max-expires', registrarDefaults.maxExpires, minExpires, 86400);
      const algs = algorithms(values['digest-algorithms']);
      const tlsEngine = values['tls-engine'] ?? streamTransportDefaults.tlsEngine;
      if (tlsEngine !== 'node' && tlsEngine !== 'native') throw new UsageError('--tls-engine must be node or native');
      if (values['primary-url'] !== undefined && !values['store-url']) throw new UsageError('--primary-url needs --store-url');
      const ktls = ktlsChoice(values, tlsEngine);
      return runSipd({
        stateDir: required(values.state, '--state'),
        ...(values['store-url'] ? { storeUrl: values['store-url'] } : {}),
        ...(values['primary-url'] ? { primaryUrl: values['primary-url'] } : {}),
        host: values.bind ?? sipDaemonDefaults.host,
        port: intOption(values.port, '--port', sipDaemonDefaults.port, 0, 65535),
        tlsPort: values['no-tls'] ? null : intOption(values['tls-port'], '--tls-port', sipDaemonDefaults.tlsPort, 0, 65535),
        ...(values.advertise ? { advertise: values.advertise } : {}),
        ...(values.node ? { node: values.node } : {}),
        requireClientCertificate: values['require-client-cert'] ?? false,
        tlsEngine,
        ktls,
        // Never SHA-256 first by default: sipp 3.6 refuses it, baresip and Cisco phones answer only the first challenge.
        digestAlgorithms: algs ?? digestServerDefaults.algorithms,
        messageTimeout: intOption(values['message-timeout'], '--message-timeout', streamTransportDefaults.messageTimeout, 100, 86_400_000),
        maxConnectionsPerSource: intOption(
          values['max-connections-per-source'],
          '--max-connections-per-source',
          streamTransportDefaults.maxConnectionsPerSource,
          1,
          1_000_000,
        ),
        registrar: { minExpires, maxExpires, defaultExpires: Math.min(maxExpires, Math.max(minExpires, registrarDefaults.defaultExpires)) },
      });
    },
  },
];
