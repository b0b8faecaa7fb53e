/** Administrative reports: each builds a Report from the store; formatText / formatCsv print it. */
export { formatText, formatCsv, formatReport, csvField, NONE, type Report, type ReportColumn } from './table.js';
export {
  itlStatusReport,
  itlStatusRows,
  recordPhoneItlReport,
  itlFileHash,
  ItlFileStatus,
  ItlReportStatus,
  ITL_HASH_TEXT_CHARS,
} from './itl-status.js';
export type { ItlStatusRow, PhoneItlReport, ItlFileStatusValue, ItlReportStatusValue } from './itl-status.js';
export { featureListReport, setPhoneFeatures } from './feature-list.js';
export { outdatedCredentialsReport, outdatedCredentialRows, type OutdatedCredentialRow } from './credentials.js';
export { auditReport } from './audit-log.js';
