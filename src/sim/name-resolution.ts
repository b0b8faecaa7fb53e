/**
 * How a simulated phone reaches a server its config names (`<processNodeName>`, `<TVS><address>`, `<capf>`): an IP
 * address is used as it is; a host name only through a resolver. A phone has one only when DHCP (option 6) or its
 * settings give it a DNS server; on a LAN without DNS a name in its config leaves that server unreachable, which is
 * why sbd names its nodes by address unless the owner sets a server name (docs/config.md, ServerNames).
 * `systemResolver` asks the operating system (getaddrinfo: /etc/hosts, then /etc/resolv.conf), as the simulator
 * always did; `noResolver` is a phone with no DNS server: any name fails, and nothing is looked up.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SimError, SimErrorCode } from './errors.js';
import type { EndpointRedirect, ServiceEndpoint } from './phone-config.js';
import { loadPhone } from './phone-folder.js';
import type { FlowTransport, SipFlowOptions } from './sip-ua/sip-flow.js';
import { TrustListViewCache } from './trust-list-view.js';

/** A host of the config → the address to connect to; throws a SimError (`ERR_SIM_RESOLVE`) when it cannot. */
export type HostResolver = (host: string) => Promise<string>;

export const systemResolver: HostResolver = async (host) => {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch (err) {
    throw new SimError(SimErrorCode.resolve, `cannot resolve "${host}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
    });
  }
};

export const noResolver: HostResolver = async (host) => {
  if (isIP(host)) return host;
  throw new SimError(SimErrorCode.resolve, `cannot resolve "${host}": the phone has no DNS server`);
};

/** `--dns system|none` on the command line. */
export function resolverNamed(name: string): HostResolver | undefined {
  return name === 'system' ? systemResolver : name === 'none' ? noResolver : undefined;
}

/**
 * Where to connect for a configured endpoint: its host resolved (default: the system's resolver), then the
 * redirect applied to the address (a NAT in front of the appliance, or tests' port 0).
 */
export async function reach(
  service: 'tvs' | 'capf',
  configured: ServiceEndpoint,
  o: { resolver?: HostResolver; redirect?: EndpointRedirect },
): Promise<ServiceEndpoint> {
  const resolved = { host: await (o.resolver ?? systemResolver)(configured.host), port: configured.port };
  return o.redirect ? o.redirect(service, resolved) : resolved;
}

/**
 * Where the phone registers: the first call-control node of its accepted config (`<callManagerGroup>`, priority
 * order) whose host it can resolve, on the config's port for the transport (`securedSipPort` for TLS). Throws
 * ERR_SIM_RESOLVE naming every node when none resolves, ERR_SIM_SERVER when the config names none.
 */
export async function callControlFlow(
  stateDir: string,
  deviceName: string,
  transport: FlowTransport,
  resolver: HostResolver = systemResolver,
): Promise<SipFlowOptions> {
  const { services } = await loadPhone(stateDir, deviceName, new TrustListViewCache());
  if (services.callManagers.length === 0)
    throw new SimError(SimErrorCode.server, `${deviceName} holds no config that names a call-control node`);
  const failures: string[] = [];
  for (const cm of services.callManagers) {
    try {
      return { transport, host: await resolver(cm.host), port: transport === 'tls' ? cm.securedSipPort : cm.sipPort };
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  throw new SimError(SimErrorCode.resolve, `${deviceName} cannot reach its call control: ${failures.join('; ')}`);
}
