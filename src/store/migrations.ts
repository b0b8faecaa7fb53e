import type Database from 'better-sqlite3';
import { SEEDED_MODEL_FEATURES } from '../lib/phone-models.js';

/**
 * The schema, as an ordered list of steps. Step N takes a store at `PRAGMA user_version` N-1 to N. The opener
 * runs every missing step inside ONE transaction (foreign keys off, `foreign_key_check` before commit), so an
 * interrupted upgrade leaves the old store untouched.
 *
 * Rules for whoever adds step N+1: never edit a released step (stores in the field were built by it); add a
 * new step instead; rebuild a table with the SQLite "12-step" procedure (create new, copy, drop, rename) when a
 * column or constraint changes; seed rows with INSERT OR IGNORE so an administrator's edits survive.
 */

/** `PRAGMA application_id`: "SBD1" in ASCII. Lets us tell our file from any other SQLite database. */
export const APPLICATION_ID = 0x53424431;
/** The `sbd_meta` row `magic` carries this; checked together with application_id. */
export const STORE_MAGIC = 'sbd-store';

export interface MigrationStep {
  readonly version: number;
  readonly summary: string;
  up(db: Database.Database, now: string): void;
}

const v1 = `
CREATE TABLE sbd_meta (
  key TEXT PRIMARY KEY,
  value ANY NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE nodes (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  hostname TEXT NOT NULL,
  ipv4 TEXT,
  ipv6 TEXT,
  is_publisher INTEGER NOT NULL DEFAULT 0 CHECK (is_publisher IN (0, 1)),
  created_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX nodes_single_publisher ON nodes (is_publisher) WHERE is_publisher = 1;

CREATE TABLE node_services (
  node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
  service TEXT NOT NULL,
  PRIMARY KEY (node_id, service)
) STRICT, WITHOUT ROWID;

CREATE TABLE certificates (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  node_id INTEGER REFERENCES nodes (id),
  kind TEXT NOT NULL CHECK (kind IN ('identity', 'trust')),
  purpose TEXT,
  pem TEXT NOT NULL,
  der BLOB NOT NULL,
  key_file TEXT,
  subject TEXT NOT NULL,
  issuer TEXT NOT NULL,
  serial_hex TEXT NOT NULL,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  sha256_hex TEXT NOT NULL,
  sha1_hex TEXT NOT NULL,
  current INTEGER NOT NULL CHECK (current IN (0, 1)),
  created_at TEXT NOT NULL,
  replaced_at TEXT,
  CHECK ((current = 1) = (replaced_at IS NULL))
) STRICT;
-- One current identity per (name, node); NULL node means cluster-wide, hence ifnull.
CREATE UNIQUE INDEX certificates_one_current_identity
  ON certificates (name, ifnull(node_id, 0)) WHERE current = 1 AND kind = 'identity';
CREATE UNIQUE INDEX certificates_trust_once
  ON certificates (name, ifnull(node_id, 0), sha256_hex) WHERE current = 1 AND kind = 'trust';
CREATE INDEX certificates_by_sha256 ON certificates (sha256_hex);
CREATE INDEX certificates_by_name ON certificates (name, node_id, created_at);

CREATE TABLE params (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE devices (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  model TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  security_profile TEXT NOT NULL,
  lsc_pem TEXT,
  symmetric_key_hex TEXT,
  digest_user TEXT,
  directory_number TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
`;

/** Standard profiles, named as CUCM ships them where CUCM has a fixed name. */
export const SEEDED_SECURITY_PROFILES = [
  // Digest on (since schema 6): the profile every phone gets by default must not let a stranger register its line.
  ['Universal Device Template - Model-independent Security Profile', 'non-secure', 0, 'tcp+udp', 1],
  ['Authenticated Profile', 'authenticated', 0, 'tls', 0],
  ['Encrypted Profile', 'encrypted', 1, 'tls', 0],
] as const;

const v2 = `
CREATE TABLE security_profiles (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  device_security_mode TEXT NOT NULL CHECK (device_security_mode IN ('non-secure', 'authenticated', 'encrypted')),
  tftp_encrypted_config INTEGER NOT NULL CHECK (tftp_encrypted_config IN (0, 1)),
  transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls', 'tcp+udp')),
  digest_auth INTEGER NOT NULL CHECK (digest_auth IN (0, 1)),
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE model_features (
  model TEXT PRIMARY KEY,
  security_by_default INTEGER NOT NULL CHECK (security_by_default IN (0, 1)),
  encrypted_config INTEGER NOT NULL CHECK (encrypted_config IN (0, 1)),
  ec_keys INTEGER NOT NULL CHECK (ec_keys IN (0, 1)),
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- devices gains CAPF state and a foreign key to its profile: SQLite cannot add a constraint in place, so the
-- table is rebuilt (create, copy, drop, rename).
CREATE TABLE devices_v2 (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  model TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  security_profile TEXT NOT NULL REFERENCES security_profiles (name) ON UPDATE CASCADE,
  lsc_pem TEXT,
  symmetric_key_hex TEXT,
  digest_user TEXT,
  directory_number TEXT,
  capf_operation TEXT NOT NULL DEFAULT 'none' CHECK (capf_operation IN ('none', 'install', 'delete', 'fetch')),
  capf_auth_mode TEXT NOT NULL DEFAULT 'none' CHECK (capf_auth_mode IN ('none', 'password', 'lsc', 'mic')),
  capf_auth_string TEXT,
  capf_status TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
INSERT INTO devices_v2 (id, name, model, description, security_profile, lsc_pem, symmetric_key_hex, digest_user,
                        directory_number, created_at, updated_at)
  SELECT id, name, model, description, security_profile, lsc_pem, symmetric_key_hex, digest_user,
         directory_number, created_at, updated_at FROM devices;
DROP TABLE devices;
ALTER TABLE devices_v2 RENAME TO devices;
CREATE INDEX devices_by_profile ON devices (security_profile);
`;

const v3 = `
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  userid TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL DEFAULT 'end' CHECK (kind IN ('end', 'application', 'admin')),
  credential_hash TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  params TEXT,
  pin_hash TEXT,
  pin_algorithm TEXT,
  failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  locked_until TEXT,
  last_login TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CHECK ((pin_hash IS NULL) = (pin_algorithm IS NULL))
) STRICT;

CREATE TABLE digest_credentials (
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  realm TEXT NOT NULL,
  ha1_md5 TEXT NOT NULL,
  ha1_sha256 TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (user_id, realm)
) STRICT, WITHOUT ROWID;

CREATE TABLE server_itl_hashes (
  server TEXT NOT NULL,
  file TEXT NOT NULL,
  sha256_hex TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (server, file)
) STRICT, WITHOUT ROWID;

CREATE TABLE device_itl_hashes (
  device_id INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  sha256_hex TEXT NOT NULL,
  at TEXT NOT NULL,
  status TEXT
) STRICT;

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  user_name TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_by_at ON audit_log (at);
`;

// SIP call routing and trunks (src/store/sip.ts). A NULL partition is CUCM's "<None>" partition: every calling
// search space reaches it. Trunk passwords are stored encrypted (AES-256-GCM under a key file in keys/).
const v4 = `
CREATE TABLE sip_partitions (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sip_calling_search_spaces (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sip_css_members (
  css TEXT NOT NULL REFERENCES sip_calling_search_spaces (name) ON DELETE CASCADE ON UPDATE CASCADE,
  partition TEXT NOT NULL REFERENCES sip_partitions (name) ON UPDATE CASCADE,
  position INTEGER NOT NULL CHECK (position >= 0),
  PRIMARY KEY (css, partition)
) STRICT, WITHOUT ROWID;

CREATE TABLE sip_presence_groups (
  name TEXT PRIMARY KEY,
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sip_presence_policies (
  subscriber_group TEXT NOT NULL REFERENCES sip_presence_groups (name) ON DELETE CASCADE,
  target_group TEXT NOT NULL REFERENCES sip_presence_groups (name) ON DELETE CASCADE,
  allowed INTEGER NOT NULL CHECK (allowed IN (0, 1)),
  PRIMARY KEY (subscriber_group, target_group)
) STRICT, WITHOUT ROWID;

CREATE TABLE sip_device_settings (
  device_id INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  partition TEXT REFERENCES sip_partitions (name),
  css TEXT REFERENCES sip_calling_search_spaces (name),
  presence_group TEXT REFERENCES sip_presence_groups (name),
  updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE sip_trunks (
  name TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
  digest_auth INTEGER NOT NULL CHECK (digest_auth IN (0, 1)),
  challenge_status INTEGER NOT NULL CHECK (challenge_status IN (401, 407)),
  digest_user TEXT,
  app_level_authorization INTEGER NOT NULL CHECK (app_level_authorization IN (0, 1)),
  accept_ood_refer INTEGER NOT NULL CHECK (accept_ood_refer IN (0, 1)),
  accept_unsolicited_notify INTEGER NOT NULL CHECK (accept_unsolicited_notify IN (0, 1)),
  accept_replaces INTEGER NOT NULL CHECK (accept_replaces IN (0, 1)),
  accept_presence_subscribe INTEGER NOT NULL CHECK (accept_presence_subscribe IN (0, 1)),
  css TEXT REFERENCES sip_calling_search_spaces (name),
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sip_trunks_by_host ON sip_trunks (host);

CREATE TABLE sip_route_patterns (
  pattern TEXT NOT NULL,
  partition TEXT NOT NULL DEFAULT '', -- '' is the <None> partition (a key column cannot be NULL)
  trunk TEXT NOT NULL REFERENCES sip_trunks (name) ON DELETE CASCADE,
  PRIMARY KEY (pattern, partition)
) STRICT, WITHOUT ROWID;

CREATE TABLE sip_trunk_credentials (
  trunk TEXT NOT NULL REFERENCES sip_trunks (name) ON DELETE CASCADE,
  realm TEXT NOT NULL,
  username TEXT NOT NULL,
  password_enc BLOB NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (trunk, realm)
) STRICT, WITHOUT ROWID;

CREATE TABLE sip_app_user_permissions (
  user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  accept_ood_refer INTEGER NOT NULL CHECK (accept_ood_refer IN (0, 1)),
  accept_unsolicited_notify INTEGER NOT NULL CHECK (accept_unsolicited_notify IN (0, 1)),
  accept_replaces INTEGER NOT NULL CHECK (accept_replaces IN (0, 1)),
  accept_presence_subscribe INTEGER NOT NULL CHECK (accept_presence_subscribe IN (0, 1)),
  updated_at TEXT NOT NULL
) STRICT;
`;

// A trunk's own CA bundle (PEM, one or more certificates) for verifying its TLS certificate when sbd dials it;
// NULL: the daemon's option, else the system bundle. ADD COLUMN keeps every row in place (no rebuild needed
// for a nullable column); the length bound mirrors SIP_LIMITS.maxTrunkCaBytes of src/store/sip.ts.
const v5 = `
ALTER TABLE sip_trunks ADD COLUMN tls_ca_pem TEXT CHECK (tls_ca_pem IS NULL OR length(CAST(tls_ca_pem AS BLOB)) BETWEEN 1 AND 262144);
`;

// Secure defaults (issue 16). The default phone profile requires digest: a REGISTER without credentials never
// binds. Each profile names the digest algorithms it challenges with, in order (MD5 first by default: sipp 3.6,
// baresip and Cisco phones answer only the first challenge they understand and most understand only MD5).
// CAPF counts failed authentications per pending operation so a guessed auth string costs the operation.
const v6 = `
ALTER TABLE security_profiles ADD COLUMN digest_algorithms TEXT NOT NULL DEFAULT 'MD5'
  CHECK (digest_algorithms IN ('MD5', 'SHA-256', 'MD5,SHA-256', 'SHA-256,MD5'));
UPDATE security_profiles SET digest_auth = 1
  WHERE name = 'Universal Device Template - Model-independent Security Profile';
ALTER TABLE devices ADD COLUMN capf_auth_failures INTEGER NOT NULL DEFAULT 0 CHECK (capf_auth_failures BETWEEN 0 AND 1000000);
`;

// A phone's digest password, kept encrypted (src/credentials/phone-secret.ts: version ‖ IV ‖ tag ‖ ciphertext of at
// most 128 bytes) so it can be delivered in the phone's encrypted config; NULL: only the HA1s are known.
const v7 = `
ALTER TABLE digest_credentials ADD COLUMN password_enc BLOB CHECK (password_enc IS NULL OR length(password_enc) BETWEEN 30 AND 157);
`;

// Real phones' trust reports (issue 18): the DeviceTLInfo alarm names the SHA-1 (older firmware: MD5) of the ITL
// and CTL a phone holds, or 'not-installed', and the TFTP server each came from. TFTP records the bytes it serves
// for ITLFile.tlv and CTLFile.tlv with their MD5 and SHA-1 (the SHA-256 was already there), so the ITL File Status
// report compares like with like and `show itl` prints what is served without signing anything.
const v8 = `
ALTER TABLE server_itl_hashes ADD COLUMN sha1_hex TEXT CHECK (sha1_hex IS NULL OR length(sha1_hex) = 40);
ALTER TABLE server_itl_hashes ADD COLUMN md5_hex TEXT CHECK (md5_hex IS NULL OR length(md5_hex) = 32);
ALTER TABLE server_itl_hashes ADD COLUMN bytes BLOB CHECK (bytes IS NULL OR length(bytes) BETWEEN 1 AND 1048576);
CREATE TABLE device_trust_reports (
  device_id INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  itl_signature TEXT NOT NULL CHECK (itl_signature = 'not-installed' OR length(itl_signature) IN (32, 40)),
  itl_tftp_server TEXT CHECK (itl_tftp_server IS NULL OR length(itl_tftp_server) BETWEEN 1 AND 253),
  ctl_signature TEXT CHECK (ctl_signature IS NULL OR ctl_signature = 'not-installed' OR length(ctl_signature) IN (32, 40)),
  ctl_tftp_server TEXT CHECK (ctl_tftp_server IS NULL OR length(ctl_tftp_server) BETWEEN 1 AND 253),
  at TEXT NOT NULL
) STRICT;
`;

// How a model is told to reset (src/sip/phone-control/notify.ts): NULL chooses by the registration's User-Agent
// (Cisco enterprise firmware: service-control; others: check-sync); a value overrides it for the model (issue 18).
const v9 = `
ALTER TABLE model_features ADD COLUMN reset_method TEXT
  CHECK (reset_method IS NULL OR reset_method IN ('service-control', 'check-sync', 'check-sync-reboot'));
`;

// Per-profile settings CUCM's Phone Security Profile page has (issue 18 item 7): the nonce validity time (seconds a
// SIP digest nonce is accepted before a new challenge with stale=true; sbd keeps its 300 s default where CUCM has 600)
// and the CAPF authentication mode a CAPF operation scheduled for the profile's phones uses unless told otherwise
// (default 'password': an authentication string; 'none' lets whoever reaches CAPF first with the MAC enrol).
const v10 = `
ALTER TABLE security_profiles ADD COLUMN nonce_validity_seconds INTEGER NOT NULL DEFAULT 300
  CHECK (nonce_validity_seconds BETWEEN 15 AND 3600);
ALTER TABLE security_profiles ADD COLUMN capf_auth_mode TEXT NOT NULL DEFAULT 'password'
  CHECK (capf_auth_mode IN ('none', 'password', 'lsc', 'mic'));
`;

// Call-manager groups (issue 21 item 4): ordered call-control nodes (CUCM's Unified CM Group: primary, secondary,
// tertiary) and the group each phone uses; a phone without a row uses the default group (config/cm-groups.ts).
// Removing a node drops it from its groups; a group in use by phones cannot be removed (RESTRICT).
const v11 = `
CREATE TABLE cm_groups (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at TEXT NOT NULL
);
CREATE TABLE cm_group_members (
  group_id INTEGER NOT NULL REFERENCES cm_groups (id) ON DELETE CASCADE,
  node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
  position INTEGER NOT NULL CHECK (position BETWEEN 0 AND 2),
  PRIMARY KEY (group_id, node_id),
  UNIQUE (group_id, position)
);
CREATE TABLE device_cm_groups (
  device_id INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  group_id INTEGER NOT NULL REFERENCES cm_groups (id) ON DELETE RESTRICT
);
`;

export const MIGRATIONS: readonly MigrationStep[] = [
  {
    version: 1,
    summary: 'meta, nodes and services, certificates with history, enterprise parameters, devices',
    up(db, now) {
      db.exec(v1);
      const meta = db.prepare('INSERT INTO sbd_meta (key, value) VALUES (?, ?)');
      meta.run('magic', STORE_MAGIC);
      meta.run('generation', 0);
      meta.run('created_at', now);
    },
  },
  {
    version: 2,
    summary: 'security profiles, phone feature list, device CAPF state',
    up(db, now) {
      // Profiles first, then the rebuilt devices table can reference them. Names that v1 devices use but
      // that are not standard become non-secure profiles so no device loses its profile.
      db.exec(v2.slice(0, v2.indexOf('-- devices gains')));
      const profile = db.prepare(
        `INSERT OR IGNORE INTO security_profiles
           (name, description, device_security_mode, tftp_encrypted_config, transport, digest_auth, updated_at)
         VALUES (?, '', ?, ?, ?, ?, ?)`,
      );
      for (const [name, mode, enc, transport, digest] of SEEDED_SECURITY_PROFILES) profile.run(name, mode, enc, transport, digest, now);
      db.prepare(
        `INSERT OR IGNORE INTO security_profiles
           (name, description, device_security_mode, tftp_encrypted_config, transport, digest_auth, updated_at)
         SELECT DISTINCT security_profile, 'added by schema migration 2', 'non-secure', 0, 'tcp+udp', 0, ? FROM devices`,
      ).run(now);
      const model = db.prepare(
        'INSERT OR IGNORE INTO model_features (model, security_by_default, encrypted_config, ec_keys, updated_at) VALUES (?, ?, ?, ?, ?)',
      );
      for (const [m, sbd, enc, ec] of SEEDED_MODEL_FEATURES) model.run(m, sbd, enc, ec, now);
      db.exec(v2.slice(v2.indexOf('-- devices gains')));
    },
  },
  {
    version: 3,
    summary: 'users and digest credentials, ITL hashes per TFTP server and per device, audit log',
    up(db) {
      db.exec(v3);
    },
  },
  {
    version: 4,
    summary: 'SIP partitions, calling search spaces, presence groups, device routing settings, trunks with ACLs and encrypted credentials',
    up(db) {
      db.exec(v4);
    },
  },
  {
    version: 5,
    summary: 'per-trunk TLS CA bundle (sip_trunks.tls_ca_pem)',
    up(db) {
      db.exec(v5);
    },
  },
  {
    version: 6,
    summary: 'secure defaults: digest required by the default phone profile, digest algorithms per profile, CAPF failure counter',
    up(db, now) {
      db.exec(v6);
      db.prepare(
        "UPDATE security_profiles SET updated_at = ? WHERE name = 'Universal Device Template - Model-independent Security Profile'",
      ).run(now);
    },
  },
  {
    version: 7,
    summary: "a phone's digest password stored encrypted for delivery in its config (digest_credentials.password_enc)",
    up(db) {
      db.exec(v7);
    },
  },
  {
    version: 8,
    summary: "phones' DeviceTLInfo trust reports (device_trust_reports); MD5, SHA-1 and bytes of the ITL/CTL each TFTP server serves",
    up(db) {
      db.exec(v8);
    },
  },
  {
    version: 9,
    summary: 'per-model reset method override in the phone feature list (model_features.reset_method)',
    up(db) {
      db.exec(v9);
    },
  },
  {
    version: 10,
    summary: 'nonce validity time and CAPF authentication mode per security profile',
    up(db) {
      db.exec(v10);
    },
  },
  {
    version: 11,
    summary:
      'call-manager groups: ordered call-control nodes and the group each phone uses (cm_groups, cm_group_members, device_cm_groups)',
    up(db) {
      db.exec(v11);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
