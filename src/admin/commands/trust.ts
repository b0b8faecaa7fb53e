/**
 * Trust lists and certificates on the admin console — the same functions as `sbd itl show`, `sbd cert list`,
 * `sbd cert regen`, `sbd itl reset`, `sbd cert export`:
 *   show itl · show ctl · show cert list · show cert own NAME · set cert regen NAME ·
 *   utils itl reset localkey|remotekey|complete · utils ctl reset localkey|complete · utils ctl update CTLFile ·
 *   file get tftp ITLRecovery.p12
 * Changes (regeneration, ITL reset) are recorded in the audit log through the same wrappers as the CLI's. Where
 * the seeds' procedures then reset the phones (regeneration, every ITL/CTL reset step), the console asks "Reset
 * all phones now?" (phones.ts offerPhoneReset).
 */
import type { AdminCommand } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import type { Clock } from '../../lib/clock.js';
import { withState } from '../../store/state.js';
import { parseIdentityName, regenerateCertificate } from '../../cluster/certs.js';
import { readFileSync } from 'node:fs';
import { ctlReset, ctlUpdate, itlReset } from '../../cluster/itl-reset.js';
import { exportIdentityP12, minExportPasswordLength } from '../../cluster/p12.js';
import { identityNames } from '../../pki/profiles.js';
import { buildCtl, buildItl, isMixedMode } from '../../trust/cluster-lists.js';
import { servedTrustListText } from './served-trust-list.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { backupProposal } from '../../backup/proposal.js';
import { offerPhoneReset } from './phones.js';

/**
 * Said before an ITLRecovery regeneration is confirmed (issue 18 item 5). The facts (spec cisco-trust-formats §1.5):
 * "Tokenless CTL (CUCM ≥ 10): signed by the publisher's CallManager certificate"; "ITL from CUCM 12.0: signed by
 * the ITLRecovery certificate"; the CUCM 10 CTL "already carries ITLRecovery as a second SAST".
 */
export function itlRecoveryRegenWarnings(stateDir: string): string[] {
  const { mixed, ctlSigner, itlSigner } = withState(
    stateDir,
    ({ store }) => ({
      mixed: isMixedMode(store),
      ctlSigner: store.getParam('CtlResetSigner'),
      itlSigner: store.getParam('ItlResetSigner'),
    }),
    { readonly: true },
  );
  const w = [
    'ITLRecovery signs the ITL: phones holding the old ITLRecovery accept the new ITL only through TVS (or an ITL reset). Export the new key afterwards ("file get tftp ITLRecovery.p12").',
  ];
  if (itlSigner !== 'ITLRecovery')
    w.push(`An ITL reset is under way (the ITL is signed by ${itlSigner}): finish it with "utils itl reset complete" first.`);
  if (mixed) {
    w.push(
      'The cluster is in mixed mode with a tokenless CTL, signed by the CallManager certificate of the publisher. The CTL carries ITLRecovery as a SAST record: ' +
        'it is rebuilt with the new ITLRecovery ("utils ctl update CTLFile" does it again), and phones accept that CTL because the CallManager certificate in the CTL they hold signs it.',
    );
    if (ctlSigner === 'ITLRecovery')
      w.push(
        'A CTL reset is under way (the CTL is signed by ITLRecovery): run "utils ctl reset complete" first, or phones will not accept the next CTL.',
      );
  }
  return w;
}

export function trustCommands(stateDir: string, clock: Clock): AdminCommand[] {
  const names = () => [...identityNames];
  return [
    {
      words: ['show', 'itl'],
      params: '',
      summary: 'the ITL file TFTP serves now: MD5, SHA-1, SHA-256 of its bytes, header, every record, signature check',
      run: (_args, io) =>
        io.out(
          withState(stateDir, ({ store }) => servedTrustListText(store, 'ITLFile.tlv', () => buildItl(store, clock)), { readonly: true }) ??
            'No ITL file.',
        ),
    },
    {
      words: ['show', 'ctl'],
      params: '',
      summary: 'the CTL file TFTP serves now (mixed mode only): MD5, SHA-1, SHA-256 of its bytes and its records',
      run: (_args, io) => {
        const text = withState(
          stateDir,
          ({ store }) => (isMixedMode(store) ? servedTrustListText(store, 'CTLFile.tlv', () => buildCtl(store, clock)) : undefined),
          { readonly: true },
        );
        io.out(text ?? 'No CTL file: the cluster is in non-secure mode.');
      },
    },
    {
      words: ['show', 'cert', 'list'],
      params: '',
      summary: "the appliance's certificates (name, node, serial, expiry, subject)",
      run: (_args, io) => {
        const rows = withState(stateDir, ({ store }) => store.listCertificates({ includeHistory: false }), { readonly: true });
        io.out(
          rows
            .map(
              (c) =>
                `${c.name.padEnd(12)} ${(c.node ?? 'cluster').padEnd(12)} ${c.serialHex}  ${c.notAfter}  ${c.subject.replace(/\n/g, ', ')}`,
            )
            .join('\n') || '(no certificates)',
        );
      },
    },
    {
      words: ['show', 'cert', 'own'],
      params: 'NAME',
      summary: 'one of the appliance certificates in full (PEM)',
      minArgs: 1,
      maxArgs: 1,
      complete: names,
      run: (args, io) => {
        const name = parseIdentityName(args[0]!);
        const rows = withState(stateDir, ({ store }) => store.listCertificates({ name }), { readonly: true });
        if (rows.length === 0) throw new AdminError(AdminErrorCode.args, `no ${name} certificate in the store`);
        for (const c of rows) {
          io.out(
            [
              `[${c.name}${c.node ? ` on ${c.node}` : ''}]`,
              `Subject    : ${c.subject.replace(/\n/g, ', ')}`,
              `Issuer     : ${c.issuer.replace(/\n/g, ', ')}`,
              `Serial     : ${c.serialHex}`,
              `Valid      : ${c.notBefore} to ${c.notAfter}`,
              `SHA-256    : ${c.sha256Hex}`,
              c.pem.trimEnd(),
            ].join('\n'),
          );
        }
      },
    },
    {
      words: ['set', 'cert', 'regen'],
      params: 'NAME',
      summary: 'regenerate a certificate (warns about order and ITLRecovery; asks first)',
      minArgs: 1,
      maxArgs: 1,
      complete: names,
      run: async (args, io) => {
        const name = parseIdentityName(args[0]!);
        if (name === 'ITLRecovery') for (const w of itlRecoveryRegenWarnings(stateDir)) io.out(`WARNING: ${w}`);
        if (!(await io.confirm(`Regenerate the ${name} certificate? Phones must then be reset.`))) {
          io.out('cancelled');
          return;
        }
        const r = withState(stateDir, (s) =>
          auditedSync(s.store, { user: currentAdminUser(), action: AuditAction.certRegen, detail: name }, () =>
            regenerateCertificate(s, name, clock),
          ),
        );
        io.out(`Regenerated ${r.certificate.name}: serial ${r.certificate.serialHex}, valid until ${r.certificate.notAfter}`);
        io.out(`ITL rebuilt: sha256 ${r.itlSha256}`);
        for (const w of r.warnings) io.out(`WARNING: ${w}`);
        const proposal = backupProposal(r.certificate.name);
        if (proposal) io.out(`BACKUP: ${proposal}`);
        await offerPhoneReset(stateDir, io, `regenerating ${r.certificate.name}`);
      },
    },
    {
      words: ['utils', 'itl', 'reset'],
      params: 'localkey|remotekey FILE.p12|complete',
      summary: 'bulk ITL reset: sign with the CallManager key (localkey) or an imported key (remotekey), then ITLRecovery again (complete)',
      minArgs: 1,
      maxArgs: 2,
      complete: () => ['localkey', 'remotekey', 'complete'],
      run: async (args, io) => {
        const step = args[0]!.toLowerCase();
        if (step !== 'localkey' && step !== 'remotekey' && step !== 'complete')
          throw new AdminError(AdminErrorCode.args, `unknown step "${args[0]}": localkey, remotekey or complete`);
        if ((step === 'remotekey') !== (args.length === 2))
          throw new AdminError(
            AdminErrorCode.args,
            step === 'remotekey'
              ? 'remotekey needs the PKCS#12 file of the key: utils itl reset remotekey FILE.p12'
              : `${step} takes no file`,
          );
        let remote: { p12: Buffer; password: string } | undefined;
        if (step === 'remotekey') {
          let p12: Buffer;
          try {
            p12 = readFileSync(args[1]!);
          } catch (err) {
            throw new AdminError(
              AdminErrorCode.args,
              `cannot read ${args[1]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
            );
          }
          remote = { p12, password: await io.secret('PKCS#12 password: ') };
        }
        const r = withState(stateDir, (s) =>
          auditedSync(s.store, { user: currentAdminUser(), action: AuditAction.itlReset, detail: step }, () =>
            itlReset(s, step, clock, remote),
          ),
        );
        io.out(`ITL signed by ${r.signer}: sha256 ${r.itlSha256}`);
        io.out(r.message);
        await offerPhoneReset(stateDir, io, `utils itl reset ${step}`);
      },
    },
    {
      words: ['utils', 'ctl', 'reset'],
      params: 'localkey|complete',
      summary: 'CTL reset (mixed mode): sign the CTL with ITLRecovery (localkey), then the CallManager key again (complete)',
      minArgs: 1,
      maxArgs: 1,
      complete: () => ['localkey', 'complete'],
      run: async (args, io) => {
        const step = args[0]!.toLowerCase();
        if (step !== 'localkey' && step !== 'complete')
          throw new AdminError(AdminErrorCode.args, `unknown step "${args[0]}": localkey or complete`);
        const r = withState(stateDir, (s) =>
          auditedSync(s.store, { user: currentAdminUser(), action: AuditAction.ctlReset, detail: step }, () => ctlReset(s, step, clock)),
        );
        io.out(`CTL signed by ${r.signer}`);
        io.out(r.message);
        await offerPhoneReset(stateDir, io, `utils ctl reset ${step}`);
      },
    },
    {
      words: ['utils', 'ctl', 'update'],
      params: 'CTLFile',
      summary: 'rebuild the CTL (mixed mode) from the current certificates and sign it again',
      minArgs: 1,
      maxArgs: 1,
      complete: () => ['CTLFile'],
      run: async (args, io) => {
        if (args[0]!.toLowerCase() !== 'ctlfile') throw new AdminError(AdminErrorCode.args, `no file "${args[0]}" to update: CTLFile`);
        const r = withState(stateDir, (s) =>
          auditedSync(s.store, { user: currentAdminUser(), action: AuditAction.ctlReset, detail: 'update CTLFile' }, () =>
            ctlUpdate(s, clock),
          ),
        );
        io.out(`CTL signed by ${r.signer}: ${r.bytes} bytes, sha256 ${r.sha256}`);
        io.out(r.message);
        await offerPhoneReset(stateDir, io, 'utils ctl update CTLFile');
      },
    },
    {
      words: ['file', 'get', 'tftp'],
      params: 'ITLRecovery.p12',
      summary: 'export the ITLRecovery key and certificate as a password-protected PKCS#12 (printed as base64)',
      minArgs: 1,
      maxArgs: 1,
      complete: () => ['ITLRecovery.p12'],
      run: async (args, io) => {
        if (args[0] !== 'ITLRecovery.p12') throw new AdminError(AdminErrorCode.args, `no file "${args[0]}" to get: ITLRecovery.p12`);
        const password = await io.secret(`Export password (at least ${minExportPasswordLength} characters): `);
        if ((await io.secret('Export password again: ')) !== password)
          throw new AdminError(AdminErrorCode.args, 'the two passwords differ');
        const der = withState(stateDir, (s) => exportIdentityP12(s, 'ITLRecovery', password), { readonly: true });
        const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
        io.out(
          `ITLRecovery.p12 (${der.length} bytes, PKCS#12). Save the lines below to a file and decode with "base64 -d":\n-----BEGIN PKCS12-----\n${b64}-----END PKCS12-----`,
        );
      },
    },
  ];
}
