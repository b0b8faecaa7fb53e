/**
 * Phone configuration XML: `SEP<MAC>.cnf.xml` (per device), its encrypted-config companion stub, and
 * `XMLDefault.cnf.xml` (autoregistration). Element names follow the SEP<MAC>.cnf.xml format phones read (spec
 * §3.1/§3.2: `<TVS>`, `<capfAuthMode>`, `<capfList>`; §2.2: the stub's `fullConfig`, `certHash`, `encrConfig`).
 * Pure: inputs in, text out.
 */
import { createHash } from 'node:crypto';
import { el, renderXml, type XmlNode } from './xml.js';

export interface ServerEndpoint {
  hostname: string;
  address: string;
}

export interface ClusterEndpoints {
  callManagers: ServerEndpoint[]; // SIP call control, in priority order
  tvs: ServerEndpoint[];
  capf: ServerEndpoint[];
  sipPort: number;
  sipTlsPort: number;
  tvsPort: number;
  capfPort: number;
}

/** CUCM's device security modes. */
export const DeviceSecurityMode = { 'non-secure': 1, authenticated: 2, encrypted: 3 } as const;
export type DeviceSecurityModeName = keyof typeof DeviceSecurityMode;
/** capfAuthMode codes (spec §3.2): 0 none (no operation pending), 1 password, 2 empty password, 3 LSC→MIC, 4 MIC. */
export const CapfAuthMode = { none: 0, password: 1, 'null-string': 2, lsc: 3, mic: 4 } as const;
export type CapfAuthModeName = keyof typeof CapfAuthMode;

export interface DeviceConfigInput {
  name: string; // SEP<MAC>
  model: string;
  description?: string | null;
  securityMode: DeviceSecurityModeName;
  transport: 'udp' | 'tcp' | 'tls';
  capfAuthMode: CapfAuthModeName;
  digestUser?: string | null;
  /** The line's digest password; only for a config that hides it (cluster-configs.ts decides). Default empty. */
  authPassword?: string;
  directoryNumber?: string | null;
  loadInformation?: string;
  /** Encrypted configs: true on the stub and the full config that goes into .enc.sgn. */
  encrConfig: boolean;
}

const transportCode = { udp: 1, tcp: 2, tls: 4 } as const;

function callManagerGroup(c: ClusterEndpoints): XmlNode {
  return el('callManagerGroup', [
    el(
      'members',
      c.callManagers.map((m, i) =>
        el(
          'member',
          [
            el('callManager', [
              el('ports', [el('sipPort', c.sipPort), el('securedSipPort', c.sipTlsPort)]),
              el('processNodeName', m.address),
            ]),
          ],
          { priority: String(i) },
        ),
      ),
    ),
  ]);
}

function tvsList(c: ClusterEndpoints): XmlNode {
  // Up to 5 members, lower priority tried first (spec §3.1).
  return el('TVS', [
    el(
      'members',
      c.tvs.slice(0, 5).map((t, i) => el('member', [el('port', c.tvsPort), el('address', t.address)], { priority: String(i) })),
    ),
  ]);
}

function capfList(c: ClusterEndpoints): XmlNode {
  return el(
    'capfList',
    c.capf.slice(0, 5).map((s) => el('capf', [el('phonePort', c.capfPort), el('processNodeName', s.address)])),
  );
}

export function renderDeviceConfig(d: DeviceConfigInput, c: ClusterEndpoints): string {
  const line = d.directoryNumber
    ? [
        el('sipLines', [
          el(
            'line',
            [
              el('featureID', 9),
              el('featureLabel', d.directoryNumber),
              el('name', d.directoryNumber),
              el('displayName', d.description ?? d.directoryNumber),
              el('authName', d.digestUser ?? ''),
              el('authPassword', d.authPassword ?? ''),
              el('proxy', 'USECALLMANAGER'),
              el('port', d.transport === 'tls' ? c.sipTlsPort : c.sipPort),
            ],
            { button: '1', lineIndex: '1' },
          ),
        ]),
      ]
    : [];
  return renderXml(
    el('device', [
      el('fullConfig', true),
      el('deviceProtocol', 'SIP'),
      el('devicePool', [callManagerGroup(c)]),
      tvsList(c),
      el('sipProfile', [el('phoneLabel', d.description ?? d.name), el('transportLayerProtocol', transportCode[d.transport]), ...line]),
      el('loadInformation', d.loadInformation ?? ''),
      el('ipAddressMode', 0),
      el('capfAuthMode', CapfAuthMode[d.capfAuthMode]),
      capfList(c),
      el('deviceSecurityMode', DeviceSecurityMode[d.securityMode]),
      el('transportLayerProtocol', transportCode[d.transport]),
      el('encrConfig', d.encrConfig),
      el('model', d.model),
      el('name', d.name),
    ]),
  );
}

/** The `.cnf.xml.sgn` a phone gets when its full config is encrypted (spec §2.2 "companion stub"). */
export function renderStubConfig(d: DeviceConfigInput, c: ClusterEndpoints, deviceCertDer: Buffer | undefined): string {
  return renderXml(
    el('device', [
      el('fullConfig', false),
      el('ipAddressMode', 0),
      el('loadInformation', d.loadInformation ?? ''),
      el('capfAuthMode', CapfAuthMode[d.capfAuthMode]),
      capfList(c),
      // MD5 hex of the device certificate DER (spec §2.2, verified by the source).
      el('certHash', deviceCertDer ? createHash('md5').update(deviceCertDer).digest('hex') : ''),
      el('encrConfig', true),
    ]),
  );
}

/** XMLDefault.cnf.xml: what an unknown phone loads for autoregistration. */
export function renderDefaultConfig(c: ClusterEndpoints, loads: Record<string, string> = {}): string {
  return renderXml(
    el('Default', [
      callManagerGroup(c),
      tvsList(c),
      ...Object.entries(loads).map(([model, load]) => el('loadInformation', load, { model })),
      el('authenticationURL', ''),
      el('directoryURL', ''),
      el('idleURL', ''),
      el('informationURL', ''),
      el('messagesURL', ''),
      el('proxyServerURL', ''),
      el('servicesURL', ''),
    ]),
  );
}
