/**
 * When a new backup is needed. A backup holds the private keys of its time: after a certificate regeneration
 * (above all CallManager, the TFTP signer, and ITLRecovery, the ITL signer phones hold) a restore of an older
 * backup would bring back keys the phones no longer trust, so the seeds require a new backup right away.
 * The last successful backup is known from the audit log.
 */
import type { Store } from '../store/index.js';

export interface BackupStatus {
  lastBackupAt: string | null;
  /** Current certificates issued after the last backup (all of them when there was none). */
  changedSince: string[];
  due: boolean;
}

export function backupStatus(store: Store): BackupStatus {
  const last = store.listAudit({ limit: 10_000 }).find((e) => e.action === 'backup' && e.result === 'success');
  const lastBackupAt = last?.at ?? null;
  const changedSince = store
    .listCertificates()
    .filter((c) => c.kind === 'identity' && (lastBackupAt === null || c.createdAt > lastBackupAt))
    .map((c) => `${c.name}${c.node ? '@' + c.node : ''}`);
  return { lastBackupAt, changedSince, due: changedSince.length > 0 };
}

/** The message shown after regenerating `certName`, or undefined when no backup needs proposing. */
export function backupProposal(certName: string): string | undefined {
  if (certName === 'tomcat') return undefined;
  const urgent = certName === 'CallManager' || certName === 'ITLRecovery';
  return `${urgent ? 'A new backup is required now' : 'Take a new backup'}: the ${certName} key changed and earlier backups hold the old one. Run "utils disaster_recovery backup FILE" (or "sbd backup create FILE --state DIR").`;
}
