/**
 * The Disaster Recovery System on the admin console, the same functions as `sbd backup …`:
 *   utils disaster_recovery backup FILE · utils disaster_recovery restore FILE · utils disaster_recovery status
 * The passphrase is asked on the console without echo (AdminIo.secret; a new backup's passphrase twice, since a
 * mistyped one cannot be recovered), or by `askSecret` when the caller passes one. After a restore the services
 * named by the restored store are restarted through systemd when it runs (else they are listed).
 */
import type { AdminCommand, AdminIo } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import type { Systemd } from '../systemd.js';
import { openState } from '../../store/state.js';
import { AuditAction, AUDIT_RESULT, audited, currentAdminUser, recordAudit } from '../../cluster/audit.js';
import { backupStatus, createBackup, restoreBackup } from '../../backup/index.js';
import { isSbdError } from '../../lib/errors.js';

export interface DisasterRecoveryOptions {
  /** Asks for the passphrase. Default: the console's own no-echo prompt (AdminIo.secret). */
  askSecret?: (prompt: string) => Promise<string>;
  /** Restarts the services after a restore when systemd runs. */
  systemd?: Systemd;
}

/** The console's no-echo prompt; `twice` asks again and refuses a mismatch (for a new backup). */
async function consoleSecret(io: AdminIo, prompt: string, twice: boolean): Promise<string> {
  const first = await io.secret(`${prompt}: `);
  if (twice && (await io.secret(`${prompt} again: `)) !== first) throw new AdminError(AdminErrorCode.args, 'the two passphrases differ');
  return first;
}

function record(stateDir: string, action: typeof AuditAction.backup | typeof AuditAction.restore, detail: string, result: string): void {
  try {
    const s = openState(stateDir);
    try {
      recordAudit(s.store, { user: currentAdminUser(), action, detail }, result);
    } finally {
      s.store.close();
    }
  } catch {
    /* no usable store to record into (wiped state before a restore) */
  }
}

export function disasterRecoveryCommands(stateDir: string, options: DisasterRecoveryOptions = {}): AdminCommand[] {
  const ask = (io: AdminIo, prompt: string, twice: boolean): Promise<string> =>
    options.askSecret ? options.askSecret(prompt) : consoleSecret(io, prompt, twice);
  return [
    {
      words: ['utils', 'disaster_recovery', 'backup'],
      params: 'FILE',
      summary: 'write an encrypted backup of the store and every private key to FILE',
      minArgs: 1,
      maxArgs: 1,
      run: async (args, io) => {
        const file = args[0]!;
        const passphrase = await ask(io, 'Backup passphrase', true);
        const s = openState(stateDir);
        try {
          const r = await audited(s.store, { user: currentAdminUser(), action: AuditAction.backup, detail: file }, () =>
            createBackup({ stateDir, file, passphrase }),
          );
          io.out(
            `Backup written: ${r.file} (${r.bytes} bytes, ${r.manifest.files.length} files: the store and ${r.manifest.files.length - 1} private keys).\nKeep the passphrase: without it the backup cannot be restored.`,
          );
        } finally {
          s.store.close();
        }
      },
    },
    {
      words: ['utils', 'disaster_recovery', 'restore'],
      params: 'FILE',
      summary: 'restore a backup (refused untouched if the passphrase is wrong or the file altered) and restart the services',
      minArgs: 1,
      maxArgs: 1,
      run: async (args, io) => {
        const file = args[0]!;
        if (!(await io.confirm(`Replace the whole appliance state with the backup ${file}? Changes made since it was taken are lost.`))) {
          io.out('cancelled');
          return;
        }
        const passphrase = await ask(io, 'Backup passphrase', false);
        let r;
        try {
          r = await restoreBackup({ stateDir, file, passphrase });
        } catch (err) {
          record(stateDir, AuditAction.restore, file, `${AUDIT_RESULT.failure}${isSbdError(err) ? ' ' + err.code : ''}`);
          throw err;
        }
        record(stateDir, AuditAction.restore, `${file} (backup of ${r.manifest.createdAt})`, AUDIT_RESULT.success);
        io.out(`Restored the backup of ${r.manifest.createdAt}.`);
        if (r.leftover) io.out(`warning: the replaced state could not be removed entirely: remove ${r.leftover} (it holds the old keys)`);
        const systemd = options.systemd;
        if (systemd?.booted) {
          const present = new Set(systemd.daemons());
          for (const unit of r.restartServices.filter((u) => present.has(u))) {
            const st = systemd.restart(unit);
            io.out(`${unit}: ${st.activeState} (${st.subState})`);
          }
        } else {
          io.out(`Restart these services: ${r.restartServices.join(' ')}`);
        }
      },
    },
    {
      words: ['utils', 'disaster_recovery', 'status'],
      params: '',
      summary: 'the last backup and whether certificates changed since (a new backup is due)',
      run: (_args, io) => {
        const s = openState(stateDir, { readonly: true });
        try {
          const st = backupStatus(s.store);
          io.out(
            `Last backup: ${st.lastBackupAt ?? 'never'}\n${st.due ? `A new backup is due: certificates changed since: ${st.changedSince.join(', ')}` : 'No certificate changed since: no backup due.'}`,
          );
        } finally {
          s.store.close();
        }
      },
    },
  ];
}
