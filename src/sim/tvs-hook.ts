/**
 * A `VerifyUnknownSigner` over the TVS client (src/tvs/client.ts): TLS to the TVS server, which must present a
 * certificate the phone's own lists name with the TVS role (a phone pins, spec §3.1), one VERIFY_REQUEST with the
 * device name `CP-<model>-SEP<MAC>`, the roles of a "valid" answer.
 */
import { queryTvs } from '../tvs/client.js';
import type { VerifyUnknownSigner } from './phone.js';
import type { TftpEndpoint } from './tftp-fetcher.js';

export interface TvsHookOptions {
  /** Whole exchange. Default 10000 ms (the TVS client's default). */
  timeoutMs?: number;
}

export function tvsHook(endpoint: TftpEndpoint, options: TvsHookOptions = {}): VerifyUnknownSigner {
  return async (certDer, ctx) => {
    if (ctx.tvsCertificates.length === 0) throw new Error('the installed trust lists name no TVS certificate');
    const answer = await queryTvs({
      host: endpoint.host,
      port: endpoint.port,
      deviceName: `CP-${ctx.model}-${ctx.deviceName}`,
      certDer,
      trustedServerCerts: ctx.tvsCertificates,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    return { roles: answer.status === 'valid' ? answer.roles : [] };
  };
}
