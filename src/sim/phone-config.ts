/**
 * What a phone reads from the config it last accepted to reach call control and trust services (spec §3.1, §3.2):
 *   <callManagerGroup><members><member priority="0.."><callManager><ports><sipPort>…</sipPort>
 *     <securedSipPort>…</securedSipPort></ports><processNodeName>HOST</processNodeName>…
 *   <TVS><members><member priority="0..4"><port>2445</port><address>HOST</address></member>…</members></TVS>
 *   <capfAuthMode>0..4</capfAuthMode>
 *   <capfList><capf><phonePort>3804</phonePort><processNodeName>HOST</processNodeName></capf>…</capfList>
 * A phone uses the config stored in its flash, so the TVS it asks during a boot is the one the previous boot's
 * config named. At most 5 entries of each list are used, lowest priority first (spec §3.1 "up to 5 members").
 */
export interface ServiceEndpoint {
  host: string;
  port: number;
}

/** capfAuthMode codes (spec §3.2). 0: no CAPF operation pending. */
export const CapfAuthModeCode = { none: 0, password: 1, nullString: 2, lscOrMic: 3, mic: 4 } as const;

/** A call-control node of `<callManagerGroup>`: where the phone registers (SIP over TCP/UDP, or TLS). */
export interface CallManagerEndpoint {
  host: string;
  sipPort: number;
  securedSipPort: number;
}

export interface PhoneConfigServices {
  /** Call-control nodes in priority order (the phone registers with the first it reaches). */
  callManagers: CallManagerEndpoint[];
  /** TVS servers in the order the phone tries them. */
  tvs: ServiceEndpoint[];
  /** CAPF servers in list order. */
  capf: ServiceEndpoint[];
  /** undefined when the config carries no capfAuthMode. */
  capfAuthMode: number | undefined;
}

export const PHONE_CONFIG_LIMITS = {
  maxMembers: 5,
  defaultTvsPort: 2445,
  defaultCapfPort: 3804,
  defaultSipPort: 5060,
  defaultSecuredSipPort: 5061,
} as const;

const XML_ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" };

function text(inner: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([^<]*)</${tag}>`).exec(inner);
  return m ? m[1]!.trim().replace(/&(?:amp|lt|gt|quot|apos);/g, (e) => XML_ENTITIES[e]!) : undefined;
}

function port(value: string | undefined, fallback: number): number {
  const n = value === undefined ? fallback : Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : fallback;
}

function blocks(xml: string, tag: string): Array<{ attrs: string; inner: string }> {
  return [...xml.matchAll(new RegExp(`<${tag}(\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => ({ attrs: m[1] ?? '', inner: m[2]! }));
}

function callManagers(doc: string): CallManagerEndpoint[] {
  const group = blocks(doc, 'callManagerGroup')[0]?.inner ?? '';
  return blocks(group, 'member')
    .map((m, i) => {
      const priority = /priority="(\d+)"/.exec(m.attrs);
      const ports = blocks(m.inner, 'ports')[0]?.inner ?? '';
      return {
        priority: priority ? Number(priority[1]) : i,
        host: text(m.inner, 'processNodeName'),
        sipPort: port(text(ports, 'sipPort'), PHONE_CONFIG_LIMITS.defaultSipPort),
        securedSipPort: port(text(ports, 'securedSipPort'), PHONE_CONFIG_LIMITS.defaultSecuredSipPort),
      };
    })
    .filter((m): m is { priority: number; host: string; sipPort: number; securedSipPort: number } => !!m.host)
    .sort((a, b) => a.priority - b.priority)
    .map(({ host, sipPort, securedSipPort }) => ({ host, sipPort, securedSipPort }));
}

export function phoneConfigServices(xml: Buffer | string): PhoneConfigServices {
  const doc = typeof xml === 'string' ? xml : xml.toString('utf8');
  const tvsBlock = blocks(doc, 'TVS')[0]?.inner ?? '';
  const tvs = blocks(tvsBlock, 'member')
    .map((m, i) => {
      const priority = /priority="(\d+)"/.exec(m.attrs);
      return {
        priority: priority ? Number(priority[1]) : i,
        host: text(m.inner, 'address'),
        port: port(text(m.inner, 'port'), PHONE_CONFIG_LIMITS.defaultTvsPort),
      };
    })
    .filter((m): m is { priority: number; host: string; port: number } => !!m.host)
    .sort((a, b) => a.priority - b.priority)
    .slice(0, PHONE_CONFIG_LIMITS.maxMembers)
    .map(({ host, port: p }) => ({ host, port: p }));
  const capfBlock = blocks(doc, 'capfList')[0]?.inner ?? '';
  const capf = blocks(capfBlock, 'capf')
    .map((c) => ({ host: text(c.inner, 'processNodeName'), port: port(text(c.inner, 'phonePort'), PHONE_CONFIG_LIMITS.defaultCapfPort) }))
    .filter((c): c is ServiceEndpoint => !!c.host)
    .slice(0, PHONE_CONFIG_LIMITS.maxMembers);
  const mode = text(doc, 'capfAuthMode');
  return { callManagers: callManagers(doc), tvs, capf, capfAuthMode: mode !== undefined && /^\d$/.test(mode) ? Number(mode) : undefined };
}

/**
 * Where a configured endpoint really listens. A simulator runs its services on other ports than the config
 * names (tests bind port 0), like a NAT in front of the appliance. Default: as configured.
 */
export type EndpointRedirect = (service: 'tvs' | 'capf' | 'sip', endpoint: ServiceEndpoint) => ServiceEndpoint;

/** `FROM=TO` pairs (`127.0.0.1:2445=127.0.0.1:40123`) as a redirect; unlisted endpoints stay as they are. */
export function redirectFromPairs(pairs: ReadonlyArray<readonly [ServiceEndpoint, ServiceEndpoint]>): EndpointRedirect {
  const map = new Map(pairs.map(([from, to]) => [`${from.host}:${from.port}`, to]));
  return (_service, ep) => map.get(`${ep.host}:${ep.port}`) ?? ep;
}

/** The first line of `<sipLines>`: its number and the digest credentials the config delivers (spec §3.1). */
export interface PhoneLineCredentials {
  /** `<name>`: the directory number the line registers. */
  line: string;
  /** `<authName>`: the digest user; empty when the config names none. */
  authName: string;
  /** `<authPassword>`: empty when the config does not carry the password (it is entered by hand then). */
  authPassword: string;
}

export function phoneLineCredentials(xml: Buffer | string): PhoneLineCredentials | undefined {
  const doc = typeof xml === 'string' ? xml : xml.toString('utf8');
  const lines = blocks(doc, 'sipLines')[0]?.inner;
  const first = lines === undefined ? undefined : blocks(lines, 'line')[0]?.inner;
  const line = first === undefined ? undefined : text(first, 'name');
  if (first === undefined || !line) return undefined;
  return { line, authName: text(first, 'authName') ?? '', authPassword: text(first, 'authPassword') ?? '' };
}
