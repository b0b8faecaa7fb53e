/** Encrypted backup and restore of the appliance state (store + private keys): the Disaster Recovery System. */
export { BackupError, BackupErrorCode } from './errors.js';
export {
  BACKUP_KDF,
  BACKUP_LIMITS,
  BACKUP_MAGIC,
  HEADER_BYTES,
  TAG_BYTES,
  sealBackup,
  openBackup,
  peekBackup,
  checkPassphrase,
} from './format.js';
export type { BackupKdf, BackupManifest, BackupFileEntry, BackupFile, OpenedBackup } from './format.js';
export { createBackup, readKeyFiles, type CreateBackupOptions, type CreateBackupResult } from './create.js';
export { backupStatus, backupProposal, type BackupStatus } from './proposal.js';
export { restoreBackup, RESTORE_DEFAULTS, SERVICE_UNITS, type RestoreBackupOptions, type RestoreBackupResult } from './restore.js';
