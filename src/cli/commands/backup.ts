/**
 * `sbd backup create|restore|show|status`: the Disaster Recovery System from the command line (the admin
 * shell's `utils disaster_recovery backup|restore` call the same functions). The passphrase comes from
 * SBD_BACKUP_PASSPHRASE or the first line of stdin, never from the command line.
 */
import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { openState } from '../../store/state.js';
import { AuditAction, audited, currentAdminUser, recordAudit, AUDIT_RESULT } from '../../cluster/audit.js';
import { backupStatus, createBackup, peekBackup, restoreBackup } from '../../backup/index.js';
import { isSbdError } from '../../lib/errors.js';
import { readSecret, withStateAsync } from './user.js';

const stateOpt = { state: { type: 'string' } } as const;
export const PASSPHRASE_ENV = 'SBD_BACKUP_PASSPHRASE';

export const commands: Command[] = [
  {
    path: ['backup', 'create'],
    summary: 'write one encrypted file with the store and every private key (AES-256-GCM, key from scrypt)',
    usage: `sbd backup create FILE --state DIR   (passphrase from ${PASSPHRASE_ENV} or stdin)`,
    async run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const file = required(positionals[0], 'FILE');
      const dir = required(values.state, '--state');
      const passphrase = await readSecret(PASSPHRASE_ENV, 'backup passphrase');
      const r = await withStateAsync(dir, (s) =>
        audited(s.store, { user: currentAdminUser(), action: AuditAction.backup, detail: file }, () =>
          createBackup({ stateDir: dir, file, passphrase }),
        ),
      );
      ctx.out(`backup written: ${r.file} (${r.bytes} bytes, mode 0600)`);
      for (const f of r.manifest.files) ctx.out(`  ${f.name}  ${f.size} bytes  sha256 ${f.sha256}`);
      return 0;
    },
  },
  {
    path: ['backup', 'restore'],
    summary: 'restore a backup: refused untouched if the passphrase is wrong or the file altered; else swapped in atomically',
    usage: `sbd backup restore FILE --state DIR   (passphrase from ${PASSPHRASE_ENV} or stdin)`,
    async run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const file = required(positionals[0], 'FILE');
      const dir = required(values.state, '--state');
      const passphrase = await readSecret(PASSPHRASE_ENV, 'backup passphrase');
      const user = currentAdminUser();
      let r;
      try {
        r = await restoreBackup({ stateDir: dir, file, passphrase });
      } catch (err) {
        // Refused: the state is the one it was, so the refusal goes into its audit log (when it has one).
        try {
          const s = openState(dir);
          try {
            recordAudit(
              s.store,
              { user, action: AuditAction.restore, detail: file },
              `${AUDIT_RESULT.failure}${isSbdError(err) ? ' ' + err.code : ''}`,
            );
          } finally {
            s.store.close();
          }
        } catch {
          /* no usable state to record into: the error below is what matters */
        }
        throw err;
      }
      // Recorded in the restored store: it is the one the appliance runs on from now on.
      await withStateAsync(
        dir,
        async (s) =>
          void recordAudit(
            s.store,
            { user, action: AuditAction.restore, detail: `${file} (backup of ${r.manifest.createdAt})` },
            AUDIT_RESULT.success,
          ),
      );
      ctx.out(
        `restored backup of ${r.manifest.createdAt} (sbd ${r.manifest.sbdVersion}, schema ${r.manifest.schemaVersion}${r.migratedFrom !== undefined ? ', migrated to this sbd' : ''}) into ${dir}`,
      );
      ctx.out(`restart these services so they use the restored store and keys: ${r.restartServices.join(' ') || '(none)'}`);
      return 0;
    },
  },
  {
    path: ['backup', 'show'],
    summary: "list a backup's manifest (not yet authenticated: restore checks it with the passphrase)",
    usage: 'sbd backup show FILE',
    run(args, ctx) {
      const { positionals } = parse(args, {});
      const file = required(positionals[0], 'FILE');
      const { kdf, manifest } = peekBackup(readFileSync(file));
      ctx.out(
        `sbd backup of ${manifest.createdAt}, sbd ${manifest.sbdVersion}, schema ${manifest.schemaVersion}, nodes ${manifest.nodes.join(', ')}`,
      );
      ctx.out(`key derivation scrypt ln=${kdf.log2N},r=${kdf.r},p=${kdf.p}; AES-256-GCM (manifest unverified until restore)`);
      for (const f of manifest.files) ctx.out(`  ${f.name}  ${f.size} bytes  sha256 ${f.sha256}`);
      return 0;
    },
  },
  {
    path: ['backup', 'status'],
    summary: 'when the last backup was taken and whether certificates changed since (a new backup is due)',
    usage: 'sbd backup status --state DIR',
    run(args, ctx) {
      const { values } = parse(args, stateOpt, false);
      const s = openState(required(values.state, '--state'), { readonly: true });
      try {
        const st = backupStatus(s.store);
        ctx.out(`last backup: ${st.lastBackupAt ?? 'never'}`);
        ctx.out(
          st.due
            ? `a new backup is due: certificates changed since: ${st.changedSince.join(', ')}`
            : 'no certificate changed since: no backup due',
        );
      } finally {
        s.store.close();
      }
      return 0;
    },
  },
];
