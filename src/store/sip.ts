import { X509Certificate } from 'node:crypto';
import { nowIso, toStoreError, type StoreContext } from './context.js';
import { deviceId, normaliseDeviceName } from './devices.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { bool, oneOf, optionalText, text } from './fields.js';

/**
 * SIP routing and trunk tables (schema step 4), used by the SIP daemon (src/sip) and its CLI:
 *  - partitions and calling search spaces (an ordered list of partitions) decide who may call whom: a caller
 *    reaches a number when the number's partition is in the caller's CSS, or is the <None> partition (null);
 *  - presence groups and policies (subscriber group → target group: allowed or not) decide SUBSCRIBE;
 *  - per-device settings: the partition of the device's directory number, its CSS and presence group;
 *  - trunks: the peer (an IP literal: incoming requests are recognised by their source address), the security
 *    profile (digest challenge 401/407, application-level authorization, the ACL of request kinds), a CSS for
 *    calls coming in, route patterns that send numbers to it, and per-realm credentials for the challenges the
 *    far end sends (the password encrypted by the caller: this module stores bytes, never a clear password);
 *  - a trunk's own TLS CA bundle (schema step 5): the certificates its TLS certificate must chain to when sbd
 *    dials it (NULL: the daemon's option, else the system bundle);
 *  - application users' own ACL, checked after digest authentication when the trunk asks for it.
 */

export const SIP_TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type SipTransport = (typeof SIP_TRANSPORTS)[number];

/** The request kinds a trunk (and an application user) may be allowed to send (CUCM's SIP trunk profile). */
export const SIP_REQUEST_KINDS = ['ood-refer', 'unsolicited-notify', 'replaces', 'presence-subscribe'] as const;
export type SipRequestKind = (typeof SIP_REQUEST_KINDS)[number];
export type SipRequestAcl = Record<SipRequestKind, boolean>;

/** Bounds on the names and patterns (CUCM's own limits: 50-character names, 48-digit patterns). */
export const SIP_LIMITS = {
  maxNameChars: 50,
  maxPatternChars: 48,
  maxCssPartitions: 64,
  maxRealmChars: 128,
  maxSecretBytes: 1024,
  /** A trunk's CA bundle: at most 256 KiB of PEM (some 150 certificates; a public bundle is ~200 KiB) and 200 blocks. */
  maxTrunkCaBytes: 262_144,
  maxTrunkCaCertificates: 200,
} as const;

export interface CssRow {
  name: string;
  description: string;
  /** In search order. */
  partitions: string[];
}

export interface DeviceSipSettings {
  device: string;
  partition: string | null;
  css: string | null;
  presenceGroup: string | null;
}

export interface TrunkInput {
  name: string;
  /** IPv4 or IPv6 literal of the peer. */
  host: string;
  port: number;
  transport: SipTransport;
  /** Challenge incoming requests with digest. */
  digestAuth: boolean;
  /** 401 (as a registrar/UAS) or 407 (as a proxy); default 407. */
  challengeStatus?: 401 | 407;
  /** Application user whose digest credentials the peer presents. */
  digestUser?: string | null;
  appLevelAuthorization?: boolean;
  acl?: Partial<SipRequestAcl>;
  /** CSS for calls coming in over the trunk; null reaches the <None> partition only. */
  css?: string | null;
  /** PEM CA bundle for the trunk's TLS certificate; null clears it; undefined keeps what a replaced trunk had. */
  tlsCaPem?: string | null;
}

export interface TrunkRow
  extends Required<Omit<TrunkInput, 'acl' | 'challengeStatus' | 'digestUser' | 'css' | 'appLevelAuthorization' | 'tlsCaPem'>> {
  /** The trunk's CA bundle as stored (each certificate re-encoded, nothing else kept), or null. */
  tlsCaPem: string | null;
  challengeStatus: 401 | 407;
  digestUser: string | null;
  appLevelAuthorization: boolean;
  acl: SipRequestAcl;
  css: string | null;
}

export interface RoutePatternRow {
  pattern: string;
  /** null is the <None> partition. */
  partition: string | null;
  trunk: string;
}

export interface TrunkCredentialRow {
  trunk: string;
  realm: string;
  username: string;
  passwordEnc: Buffer;
}

const E = StoreErrorCode.sipConfigInvalid;
const U = StoreErrorCode.sipConfigUnknown;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/;
const PATTERN = /^\+?[0-9X*#]*!?$/;
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;
const ACL_COLUMNS = {
  'ood-refer': 'accept_ood_refer',
  'unsolicited-notify': 'accept_unsolicited_notify',
  replaces: 'accept_replaces',
  'presence-subscribe': 'accept_presence_subscribe',
} as const;

function name(field: string, value: unknown): string {
  const v = text(E, field, value, SIP_LIMITS.maxNameChars);
  if (!NAME.test(v))
    throw new StoreError(E, `${field} '${v}' must start with a letter or digit and hold only letters, digits, space, '.', '_' or '-'`);
  return v;
}

function exists(ctx: StoreContext, table: string, what: string, value: string | null): void {
  if (value === null) return;
  if (!ctx.stmt(`SELECT 1 FROM ${table} WHERE name = ?`).get(value)) throw new StoreError(U, `no ${what} named '${value}'`);
}

function aclOf(r: Record<string, number>): SipRequestAcl {
  return {
    'ood-refer': r.accept_ood_refer === 1,
    'unsolicited-notify': r.accept_unsolicited_notify === 1,
    replaces: r.accept_replaces === 1,
    'presence-subscribe': r.accept_presence_subscribe === 1,
  };
}

function aclInput(acl: Partial<SipRequestAcl> | undefined): number[] {
  const out: number[] = [];
  for (const k of SIP_REQUEST_KINDS) out.push(bool(E, `acl.${k}`, acl?.[k] ?? false) ? 1 : 0);
  for (const k of Object.keys(acl ?? {}))
    if (!(k in ACL_COLUMNS)) throw new StoreError(E, `no request kind '${k}' (one of ${SIP_REQUEST_KINDS.join(', ')})`);
  return out;
}

const PEM_BLOCK = /-----BEGIN ([^-\r\n]{1,64})-----\r?\n([\s\S]*?)-----END ([^-\r\n]{1,64})-----/g;

/**
 * Checks a CA bundle and returns it re-encoded (one canonical PEM block per certificate, in the given order;
 * text between blocks, as `openssl x509 -text` leaves it, is dropped). Every block must be an X.509
 * CERTIFICATE: a private key or CSR pasted by mistake is refused and never stored.
 */
export function trunkCaBundle(value: unknown): string {
  const C = StoreErrorCode.sipTrunkCaInvalid;
  if (typeof value !== 'string') throw new StoreError(C, `the CA bundle must be PEM text, got ${typeof value}`);
  const bytes = Buffer.byteLength(value);
  if (bytes > SIP_LIMITS.maxTrunkCaBytes)
    throw new StoreError(C, `the CA bundle is ${bytes} bytes; the limit is ${SIP_LIMITS.maxTrunkCaBytes}`);
  const out: string[] = [];
  let n = 0;
  for (const m of value.matchAll(PEM_BLOCK)) {
    n++;
    if (n > SIP_LIMITS.maxTrunkCaCertificates)
      throw new StoreError(C, `the CA bundle holds more than ${SIP_LIMITS.maxTrunkCaCertificates} PEM blocks`);
    if (m[1] !== m[3]) throw new StoreError(C, `PEM block ${n} begins as '${m[1]}' but ends as '${m[3]}'`);
    if (m[1] !== 'CERTIFICATE')
      throw new StoreError(
        C,
        `PEM block ${n} is a '${m[1]}', not a CERTIFICATE${/KEY/.test(m[1]!) ? ' (a key never goes into a CA bundle)' : ''}`,
      );
    let x: X509Certificate;
    try {
      x = new X509Certificate(m[0]);
    } catch (err) {
      throw new StoreError(C, `PEM block ${n} is not a parsable X.509 certificate: ${(err as Error).message}`, { cause: err });
    }
    out.push(x.toString());
  }
  if (n === 0) {
    const stray = /-----BEGIN /.test(value) ? ' (a BEGIN line without its END line?)' : '';
    throw new StoreError(C, `the CA bundle holds no PEM CERTIFICATE block${stray}`);
  }
  // A BEGIN line left over after the last complete block: a truncated file.
  const rest = value.slice(value.lastIndexOf('-----END ') + 9);
  if (/-----BEGIN /.test(rest)) throw new StoreError(C, `PEM block ${n + 1} has no END line (truncated file?)`);
  return out.join('');
}

/** The SIP tables, bound to one store connection. Every method maps SQLite failures to StoreError. */
export class SipTables {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  #call<T>(fn: (ctx: StoreContext) => T): T {
    try {
      return fn(this.#ctx);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  putPartition(partition: string, description = ''): void {
    const n = name('partition', partition);
    const d = text(E, 'description', description, 128, { empty: true });
    this.#call((ctx) =>
      ctx.write(() => {
        ctx
          .stmt(`INSERT INTO sip_partitions (name, description, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET description = excluded.description, updated_at = excluded.updated_at`)
          .run(n, d, nowIso(ctx.clock));
      }),
    );
  }

  listPartitions(): { name: string; description: string }[] {
    return this.#call(
      (ctx) => ctx.stmt('SELECT name, description FROM sip_partitions ORDER BY name').all() as { name: string; description: string }[],
    );
  }

  /** Refused while a CSS, device or route pattern still uses it. */
  removePartition(partition: string): void {
    this.#call((ctx) =>
      ctx.write(() => {
        exists(ctx, 'sip_partitions', 'partition', partition);
        const used = ctx
          .stmt(`SELECT (SELECT count(*) FROM sip_css_members WHERE partition = @p) + (SELECT count(*) FROM sip_device_settings WHERE partition = @p)
        + (SELECT count(*) FROM sip_route_patterns WHERE partition = @p) AS n`)
          .get({ p: partition }) as { n: number };
        if (used.n > 0) throw new StoreError(E, `partition '${partition}' is still used ${used.n} times`);
        ctx.stmt('DELETE FROM sip_partitions WHERE name = ?').run(partition);
      }),
    );
  }

  /** Creates or replaces a calling search space with its partitions in search order. */
  putCss(css: string, partitions: readonly string[], description = ''): void {
    const n = name('calling search space', css);
    const d = text(E, 'description', description, 128, { empty: true });
    if (!Array.isArray(partitions) || partitions.length > SIP_LIMITS.maxCssPartitions) {
      throw new StoreError(E, `a calling search space holds at most ${SIP_LIMITS.maxCssPartitions} partitions`);
    }
    if (new Set(partitions).size !== partitions.length) throw new StoreError(E, 'a partition appears twice in the calling search space');
    this.#call((ctx) =>
      ctx.write(() => {
        for (const p of partitions) exists(ctx, 'sip_partitions', 'partition', p);
        ctx
          .stmt(`INSERT INTO sip_calling_search_spaces (name, description, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET description = excluded.description, updated_at = excluded.updated_at`)
          .run(n, d, nowIso(ctx.clock));
        ctx.stmt('DELETE FROM sip_css_members WHERE css = ?').run(n);
        partitions.forEach((p, i) => ctx.stmt('INSERT INTO sip_css_members (css, partition, position) VALUES (?, ?, ?)').run(n, p, i));
      }),
    );
  }

  getCss(css: string): CssRow | undefined {
    return this.#call((ctx) => {
      const r = ctx.stmt('SELECT name, description FROM sip_calling_search_spaces WHERE name = ?').get(css) as
        | { name: string; description: string }
        | undefined;
      if (!r) return undefined;
      const parts = ctx.stmt('SELECT partition FROM sip_css_members WHERE css = ? ORDER BY position').all(css) as { partition: string }[];
      return { ...r, partitions: parts.map((p) => p.partition) };
    });
  }

  listCss(): CssRow[] {
    return this.#call((ctx) =>
      (ctx.stmt('SELECT name FROM sip_calling_search_spaces ORDER BY name').all() as { name: string }[]).map((r) => this.getCss(r.name)!),
    );
  }

  removeCss(css: string): void {
    this.#call((ctx) =>
      ctx.write(() => {
        exists(ctx, 'sip_calling_search_spaces', 'calling search space', css);
        const used = ctx
          .stmt('SELECT (SELECT count(*) FROM sip_device_settings WHERE css = @p) + (SELECT count(*) FROM sip_trunks WHERE css = @p) AS n')
          .get({ p: css }) as { n: number };
        if (used.n > 0) throw new StoreError(E, `calling search space '${css}' is still used ${used.n} times`);
        ctx.stmt('DELETE FROM sip_calling_search_spaces WHERE name = ?').run(css);
      }),
    );
  }

  putPresenceGroup(group: string): void {
    const n = name('presence group', group);
    this.#call((ctx) =>
      ctx.write(() => {
        ctx
          .stmt(
            'INSERT INTO sip_presence_groups (name, updated_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at',
          )
          .run(n, nowIso(ctx.clock));
      }),
    );
  }

  listPresenceGroups(): string[] {
    return this.#call((ctx) =>
      (ctx.stmt('SELECT name FROM sip_presence_groups ORDER BY name').all() as { name: string }[]).map((r) => r.name),
    );
  }

  /** Whether members of `subscriberGroup` may watch members of `targetGroup`. */
  setPresencePolicy(subscriberGroup: string, targetGroup: string, allowed: boolean): void {
    const a = bool(E, 'allowed', allowed);
    this.#call((ctx) =>
      ctx.write(() => {
        exists(ctx, 'sip_presence_groups', 'presence group', subscriberGroup);
        exists(ctx, 'sip_presence_groups', 'presence group', targetGroup);
        ctx
          .stmt(`INSERT INTO sip_presence_policies (subscriber_group, target_group, allowed) VALUES (?, ?, ?)
        ON CONFLICT (subscriber_group, target_group) DO UPDATE SET allowed = excluded.allowed`)
          .run(subscriberGroup, targetGroup, a ? 1 : 0);
      }),
    );
  }

  /** The explicit policy, or undefined when none is set (the caller applies its default). */
  presencePolicy(subscriberGroup: string, targetGroup: string): boolean | undefined {
    return this.#call((ctx) => {
      const r = ctx
        .stmt('SELECT allowed FROM sip_presence_policies WHERE subscriber_group = ? AND target_group = ?')
        .get(subscriberGroup, targetGroup) as { allowed: number } | undefined;
      return r === undefined ? undefined : r.allowed === 1;
    });
  }

  /** Sets the given fields of a device's routing settings (null clears one: <None> partition, no CSS, no group). */
  setDeviceSettings(device: string, s: Partial<Omit<DeviceSipSettings, 'device'>>): DeviceSipSettings {
    const dev = normaliseDeviceName(device);
    for (const k of Object.keys(s))
      if (!['partition', 'css', 'presenceGroup'].includes(k)) throw new StoreError(E, `device settings have no field '${k}'`);
    return this.#call((ctx) =>
      ctx.write(() => {
        const id = deviceId(ctx, dev);
        const cur = this.getDeviceSettings(dev)!;
        const next = { ...cur, ...s };
        exists(ctx, 'sip_partitions', 'partition', next.partition);
        exists(ctx, 'sip_calling_search_spaces', 'calling search space', next.css);
        exists(ctx, 'sip_presence_groups', 'presence group', next.presenceGroup);
        ctx
          .stmt(`INSERT INTO sip_device_settings (device_id, partition, css, presence_group, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (device_id) DO UPDATE SET partition = excluded.partition, css = excluded.css, presence_group = excluded.presence_group,
          updated_at = excluded.updated_at`)
          .run(id, next.partition, next.css, next.presenceGroup, nowIso(ctx.clock));
        return next;
      }),
    );
  }

  /** Settings of a known device (all null when never set); undefined for an unknown device. */
  getDeviceSettings(device: string): DeviceSipSettings | undefined {
    return this.#call((ctx) => {
      const r = ctx
        .stmt(`SELECT d.name AS device, s.partition, s.css, s.presence_group AS presenceGroup
        FROM devices d LEFT JOIN sip_device_settings s ON s.device_id = d.id WHERE d.name = ?`)
        .get(String(device).toUpperCase()) as DeviceSipSettings | undefined;
      return r;
    });
  }

  putTrunk(t: TrunkInput): TrunkRow {
    const n = name('trunk', t.name);
    const host = text(E, 'host', t.host, 64);
    if (!IP.test(host))
      throw new StoreError(E, `trunk host '${host}' must be an IPv4 or IPv6 address (requests from it are recognised by source address)`);
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new StoreError(E, 'trunk port must be 1..65535');
    const transport = oneOf(E, 'transport', t.transport, SIP_TRANSPORTS);
    const digest = bool(E, 'digestAuth', t.digestAuth);
    const status = t.challengeStatus ?? 407;
    if (status !== 401 && status !== 407) throw new StoreError(E, 'challengeStatus must be 401 or 407');
    const digestUser = optionalText(E, 'digestUser', t.digestUser, 128);
    const appAuth = bool(E, 'appLevelAuthorization', t.appLevelAuthorization ?? false);
    if (appAuth && !digest) throw new StoreError(E, 'application-level authorization needs digest authentication on the trunk');
    if (digest && digestUser === null)
      throw new StoreError(E, 'a trunk with digest authentication needs digestUser (the application user)');
    const acl = aclInput(t.acl);
    const css = t.css ?? null;
    const ca = t.tlsCaPem === undefined || t.tlsCaPem === null ? null : trunkCaBundle(t.tlsCaPem);
    const keepCa = t.tlsCaPem === undefined ? 1 : 0;
    return this.#call((ctx) =>
      ctx.write(() => {
        exists(ctx, 'sip_calling_search_spaces', 'calling search space', css);
        if (digestUser !== null && !ctx.stmt('SELECT 1 FROM users WHERE userid = ?').get(digestUser)) {
          throw new StoreError(StoreErrorCode.userUnknown, `no user '${digestUser}'`);
        }
        ctx
          .stmt(`INSERT INTO sip_trunks (name, host, port, transport, digest_auth, challenge_status, digest_user, app_level_authorization,
          accept_ood_refer, accept_unsolicited_notify, accept_replaces, accept_presence_subscribe, css, tls_ca_pem, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET host = excluded.host, port = excluded.port, transport = excluded.transport,
          digest_auth = excluded.digest_auth, challenge_status = excluded.challenge_status, digest_user = excluded.digest_user,
          app_level_authorization = excluded.app_level_authorization, accept_ood_refer = excluded.accept_ood_refer,
          accept_unsolicited_notify = excluded.accept_unsolicited_notify, accept_replaces = excluded.accept_replaces,
          accept_presence_subscribe = excluded.accept_presence_subscribe, css = excluded.css,
          tls_ca_pem = CASE WHEN ? THEN sip_trunks.tls_ca_pem ELSE excluded.tls_ca_pem END, updated_at = excluded.updated_at`)
          .run(
            n,
            host.toLowerCase(),
            t.port,
            transport,
            digest ? 1 : 0,
            status,
            digestUser,
            appAuth ? 1 : 0,
            ...acl,
            css,
            ca,
            nowIso(ctx.clock),
            keepCa,
          );
        return this.getTrunk(n)!;
      }),
    );
  }

  #trunkRow(r: Record<string, unknown> | undefined): TrunkRow | undefined {
    if (!r) return undefined;
    return {
      name: r.name as string,
      host: r.host as string,
      port: r.port as number,
      transport: r.transport as SipTransport,
      digestAuth: r.digest_auth === 1,
      challengeStatus: r.challenge_status as 401 | 407,
      digestUser: r.digest_user as string | null,
      appLevelAuthorization: r.app_level_authorization === 1,
      acl: aclOf(r as Record<string, number>),
      css: r.css as string | null,
      tlsCaPem: (r.tls_ca_pem as string | null) ?? null,
    };
  }

  getTrunk(trunk: string): TrunkRow | undefined {
    return this.#call((ctx) =>
      this.#trunkRow(ctx.stmt('SELECT * FROM sip_trunks WHERE name = ?').get(trunk) as Record<string, unknown> | undefined),
    );
  }

  /** The trunk whose peer is this address (requests from it are the trunk's). */
  findTrunkByHost(address: string): TrunkRow | undefined {
    return this.#call((ctx) =>
      this.#trunkRow(
        ctx.stmt('SELECT * FROM sip_trunks WHERE host = ? ORDER BY name LIMIT 1').get(address.toLowerCase()) as
          | Record<string, unknown>
          | undefined,
      ),
    );
  }

  listTrunks(): TrunkRow[] {
    return this.#call((ctx) =>
      (ctx.stmt('SELECT * FROM sip_trunks ORDER BY name').all() as Record<string, unknown>[]).map((r) => this.#trunkRow(r)!),
    );
  }

  /** Sets (PEM bundle, checked) or clears (null) a trunk's TLS CA bundle; bumps the store generation. */
  setTrunkCa(trunk: string, pem: string | null): TrunkRow {
    const ca = pem === null ? null : trunkCaBundle(pem);
    return this.#call((ctx) =>
      ctx.write(() => {
        if (
          ctx.stmt('UPDATE sip_trunks SET tls_ca_pem = ?, updated_at = ? WHERE name = ?').run(ca, nowIso(ctx.clock), trunk).changes === 0
        ) {
          throw new StoreError(U, `no trunk named '${trunk}'`);
        }
        return this.getTrunk(trunk)!;
      }),
    );
  }

  removeTrunk(trunk: string): void {
    this.#call((ctx) =>
      ctx.write(() => {
        if (ctx.stmt('DELETE FROM sip_trunks WHERE name = ?').run(trunk).changes === 0)
          throw new StoreError(U, `no trunk named '${trunk}'`);
      }),
    );
  }

  /** A number pattern (digits, X for any digit, a trailing ! for any more digits) in a partition, sent to a trunk. */
  putRoutePattern(pattern: string, partition: string | null, trunk: string): void {
    const p = text(E, 'pattern', pattern, SIP_LIMITS.maxPatternChars);
    if (!PATTERN.test(p)) throw new StoreError(E, `route pattern '${p}' may hold digits, X, *, #, a leading + and a trailing !`);
    this.#call((ctx) =>
      ctx.write(() => {
        exists(ctx, 'sip_partitions', 'partition', partition);
        if (!this.getTrunk(trunk)) throw new StoreError(U, `no trunk named '${trunk}'`);
        ctx
          .stmt(`INSERT INTO sip_route_patterns (pattern, partition, trunk) VALUES (?, ?, ?)
        ON CONFLICT (pattern, partition) DO UPDATE SET trunk = excluded.trunk`)
          .run(p, partition ?? '', trunk);
      }),
    );
  }

  listRoutePatterns(): RoutePatternRow[] {
    return this.#call((ctx) =>
      (
        ctx.stmt('SELECT pattern, partition, trunk FROM sip_route_patterns ORDER BY partition, pattern').all() as {
          pattern: string;
          partition: string;
          trunk: string;
        }[]
      ).map((r) => ({ ...r, partition: r.partition === '' ? null : r.partition })),
    );
  }

  /** Stores the (already encrypted) password the daemon answers the far end's challenges in `realm` with. */
  putTrunkCredential(trunk: string, realm: string, username: string, passwordEnc: Buffer): void {
    const r = text(E, 'realm', realm, SIP_LIMITS.maxRealmChars);
    const u = text(E, 'username', username, 128);
    if (!Buffer.isBuffer(passwordEnc) || passwordEnc.length === 0 || passwordEnc.length > SIP_LIMITS.maxSecretBytes) {
      throw new StoreError(E, `encrypted password must be 1..${SIP_LIMITS.maxSecretBytes} bytes`);
    }
    this.#call((ctx) =>
      ctx.write(() => {
        if (!this.getTrunk(trunk)) throw new StoreError(U, `no trunk named '${trunk}'`);
        ctx
          .stmt(`INSERT INTO sip_trunk_credentials (trunk, realm, username, password_enc, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (trunk, realm) DO UPDATE SET username = excluded.username, password_enc = excluded.password_enc, updated_at = excluded.updated_at`)
          .run(trunk, r, u, passwordEnc, nowIso(ctx.clock));
      }),
    );
  }

  getTrunkCredential(trunk: string, realm: string): TrunkCredentialRow | undefined {
    return this.#call(
      (ctx) =>
        ctx
          .stmt('SELECT trunk, realm, username, password_enc AS passwordEnc FROM sip_trunk_credentials WHERE trunk = ? AND realm = ?')
          .get(trunk, realm) as TrunkCredentialRow | undefined,
    );
  }

  /** The request kinds an application user may send (application-level authorization). */
  putAppUserPermissions(userid: string, acl: Partial<SipRequestAcl>): void {
    const values = aclInput(acl);
    this.#call((ctx) =>
      ctx.write(() => {
        const u = ctx.stmt('SELECT id, kind FROM users WHERE userid = ?').get(userid) as { id: number; kind: string } | undefined;
        if (!u) throw new StoreError(StoreErrorCode.userUnknown, `no user '${userid}'`);
        if (u.kind !== 'application') throw new StoreError(E, `user '${userid}' is a ${u.kind} user, not an application user`);
        ctx
          .stmt(`INSERT INTO sip_app_user_permissions (user_id, accept_ood_refer, accept_unsolicited_notify, accept_replaces, accept_presence_subscribe, updated_at)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET accept_ood_refer = excluded.accept_ood_refer,
          accept_unsolicited_notify = excluded.accept_unsolicited_notify, accept_replaces = excluded.accept_replaces,
          accept_presence_subscribe = excluded.accept_presence_subscribe, updated_at = excluded.updated_at`)
          .run(u.id, ...values, nowIso(ctx.clock));
      }),
    );
  }

  /** All false when nothing was granted. */
  getAppUserPermissions(userid: string): SipRequestAcl {
    return this.#call((ctx) => {
      const r = ctx.stmt(`SELECT p.* FROM sip_app_user_permissions p JOIN users u ON u.id = p.user_id WHERE u.userid = ?`).get(userid) as
        | Record<string, number>
        | undefined;
      return r ? aclOf(r) : { 'ood-refer': false, 'unsolicited-notify': false, replaces: false, 'presence-subscribe': false };
    });
  }

  /** Forgets a phone's ITL report (the phone unregistered). True when there was one. */
  deleteDeviceItlHash(device: string): boolean {
    const dev = normaliseDeviceName(device);
    return this.#call((ctx) =>
      ctx.write(
        () => ctx.stmt('DELETE FROM device_itl_hashes WHERE device_id = (SELECT id FROM devices WHERE name = ?)').run(dev).changes > 0,
      ),
    );
  }
}
