/**
 * `VerifyUnknownSigner` hooks over the TVS client (src/tvs/client.ts): TLS to a TVS server, which must present a
 * certificate the phone's own lists name with the TVS role (a phone pins, spec §3.1), one VERIFY_REQUEST with the
 * device name `CP-<model>-SEP<MAC>`, the roles of a "valid" answer.
 *
 * - `configTvsHook`: what a phone does — the servers of the `<TVS><members>` list of the config it holds, lowest
 *   priority first; a server that cannot be resolved or reached, or presents a certificate the phone does not
 *   hold, is skipped for the next one. The first answer (valid or invalid) decides.
 * - `tvsHook`: one fixed server (`sbd phone boot --tvs HOST:PORT`, an override).
 */
import { queryTvs } from '../tvs/client.js';
import { TvsError, TvsErrorCode } from '../tvs/core/errors.js';
import { SimError, SimErrorCode } from './errors.js';
import { phoneSourceAddress } from './phone-address.js';
import { reach, type HostResolver } from './name-resolution.js';
import type { EndpointRedirect, ServiceEndpoint } from './phone-config.js';
import type { TvsQueryContext, VerifyUnknownSigner } from './phone.js';

export interface TvsHookOptions {
  /** Whole exchange with one server. Default 10000 ms (the TVS client's default). */
  timeoutMs?: number;
  /**
   * Tries per server when the connection fails before an answer (refused, reset: a server shedding a burst with its
   * per-source cap, as 300 simulated phones on one address meet). Default 3, 250 ms more pause each time.
   */
  connectAttempts?: number;
}

export interface ConfigTvsHookOptions extends TvsHookOptions {
  /** Where a configured TVS member really listens (tests: port 0). Default: as configured. */
  redirect?: EndpointRedirect;
  /** How the phone resolves a member named by host name. Default: the system's resolver (name-resolution.ts). */
  resolver?: HostResolver;
}

async function ask(
  endpoint: ServiceEndpoint,
  certDer: Buffer,
  ctx: TvsQueryContext,
  options: TvsHookOptions,
): Promise<{ roles: readonly number[] }> {
  const attempts = options.connectAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await askOnce(endpoint, certDer, ctx, options);
    } catch (err) {
      const connection = err instanceof TvsError && err.code === TvsErrorCode.connection;
      if (!connection || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

async function askOnce(
  endpoint: ServiceEndpoint,
  certDer: Buffer,
  ctx: TvsQueryContext,
  options: TvsHookOptions,
): Promise<{ roles: readonly number[] }> {
  const answer = await queryTvs({
    host: endpoint.host,
    port: endpoint.port,
    deviceName: `CP-${ctx.model}-${ctx.deviceName}`,
    certDer,
    trustedServerCerts: ctx.tvsCertificates,
    localAddress: phoneSourceAddress(ctx.deviceName, endpoint.host),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  return { roles: answer.status === 'valid' ? answer.roles : [] };
}

function requirePins(ctx: TvsQueryContext): void {
  if (ctx.tvsCertificates.length === 0)
    throw new SimError(SimErrorCode.tvsNoCertificate, 'the installed trust lists name no TVS certificate');
}

export function tvsHook(endpoint: ServiceEndpoint, options: TvsHookOptions = {}): VerifyUnknownSigner {
  return async (certDer, ctx) => {
    requirePins(ctx);
    return ask(endpoint, certDer, ctx, options);
  };
}

export function configTvsHook(options: ConfigTvsHookOptions = {}): VerifyUnknownSigner {
  return async (certDer, ctx) => {
    requirePins(ctx);
    if (ctx.tvsServers.length === 0) throw new SimError(SimErrorCode.tvsNoServer, "the phone's config names no TVS server");
    const failures: string[] = [];
    for (const member of ctx.tvsServers) {
      try {
        return await ask(await reach('tvs', member, options), certDer, ctx, options);
      } catch (err) {
        failures.push(`${member.host}:${member.port}: ${(err as Error).message}`);
      }
    }
    throw new SimError(SimErrorCode.tvsFailed, failures.join('; '));
  };
}
