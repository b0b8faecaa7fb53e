/** The store's public surface: `openStore`, the `Store` class, its row types and its error type. */
export { openStore, Store } from './store.js';
export type { OpenStoreOptions } from './open.js';
export { OPEN_DEFAULTS } from './open.js';
export { StoreError, StoreErrorCode, isStoreError } from './errors.js';
export { APPLICATION_ID, SCHEMA_VERSION, MIGRATIONS } from './migrations.js';
export type { NodeRow, NodeInput, NodeService } from './nodes.js';
export { NODE_SERVICES } from './nodes.js';
export type { CertRow, CertInput, CertKind } from './certificates.js';
export { CERT_LIMITS } from './certificates.js';
export type { ParamRow } from './params.js';
export type { ParamDef, ParamType } from './params-registry.js';
export { PARAMS, SRTP_SUITES } from './params-registry.js';
export type { DeviceRow, DeviceInput, DevicePatch, CapfOperation, CapfAuthMode } from './devices.js';
export { normaliseDeviceName, CAPF_OPERATIONS, CAPF_AUTH_MODES, DEVICE_LIMITS } from './devices.js';
export type { SecurityProfileRow, SecurityProfileInput, DeviceSecurityMode, ProfileTransport } from './security-profiles.js';
export {
  DEFAULT_SECURITY_PROFILE,
  DEVICE_SECURITY_MODES,
  PROFILE_TRANSPORTS,
  PROFILE_DEFAULTS,
  PROFILE_LIMITS,
} from './security-profiles.js';
export type { ModelFeatures, ModelFeaturesRow, ModelResetMethod } from './model-features.js';
export { MODEL_RESET_METHODS, modelKey } from './model-features.js';
export type { UserRow, UserInput, UserKind, DigestCredentialRow } from './users.js';
export { USER_KINDS } from './users.js';
export type { ServerItlHashRow, DeviceItlHashRow } from './itl-hashes.js';
export type { CmGroupRow } from './cm-groups.js';
export { CM_GROUP_LIMITS, DEFAULT_CM_GROUP } from './cm-groups.js';
export type { ServedTrustFileRow, DeviceTrustReportInput, DeviceTrustReportRow, TrustListFile } from './trust-reports.js';
export { TRUST_LIST_FILES, NOT_INSTALLED, MAX_SERVED_TRUST_FILE_BYTES } from './trust-reports.js';
export type { AuditEntry, AuditInput } from './audit.js';
export { AUDIT_LIMITS } from './audit.js';
export { SipTables, SIP_LIMITS, SIP_REQUEST_KINDS, SIP_TRANSPORTS } from './sip.js';
export type {
  CssRow,
  DeviceSipSettings,
  RoutePatternRow,
  SipRequestAcl,
  SipRequestKind,
  SipTransport,
  TrunkCredentialRow,
  TrunkInput,
  TrunkRow,
} from './sip.js';
