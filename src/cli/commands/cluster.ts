/** Appliance administration from the command line: the same functions the admin shell calls. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command, CommandContext } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { systemClock } from '../../lib/clock.js';
import { UsageError } from '../../lib/errors.js';
import { initAppliance, missingIdentities, pregenerateKeys } from '../../cluster/init.js';
import { regenerateCertificate } from '../../cluster/certs.js';
import { withState } from '../../store/state.js';
import { ctlReset, ctlUpdate, itlReset } from '../../cluster/itl-reset.js';
import { exportIdentityP12 } from '../../cluster/p12.js';
import { parseIdentityName } from '../../cluster/certs.js';
import { buildCtl, buildItl, publisher, signerOf } from '../../trust/cluster-lists.js';
import { deviceConfigFile, defaultConfigFile } from '../../config/cluster-configs.js';
import { buildSgn } from '../../trust/sgn.js';
import type { HashName } from '../../trust/tags.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { backupProposal } from '../../backup/proposal.js';
import { resetAllPhonesAfter, ROLLBACK_PARAM, rollbackNotice } from '../../cluster/phone-reset.js';
import { lowersTlsMinimum, TLS_MIN_VERSION_PARAM, tlsMinVersionWarnings } from '../../cluster/tls-min-version.js';
import { addPhone } from '../../cluster/devices.js';
import {
  digestDeliveryNotice,
  prepareLogin,
  setupPhoneDigest,
  signedConfigParamNotice,
  SIGNED_CONFIG_PARAM,
  type DeliveryNotice,
  type PhoneDigestSetup,
} from '../../cluster/phone-digest.js';

/** Write a file atomically: a temp file in the same folder, then rename (no half-written file on failure). */
export function writeAtomic(path: string, bytes: Buffer | string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes, { mode });
  renameSync(tmp, path);
}

const stateOpt = { state: { type: 'string' } } as const;

/** The password once (when generated: the administrator has no other way to learn it), then where it travels. */
function printDigestSetup(ctx: CommandContext, setup: PhoneDigestSetup | undefined, notice: DeliveryNotice | undefined): void {
  if (setup) {
    ctx.out(`digest user ${setup.userid} (realm ${setup.realm})${setup.createdUser ? ', created' : ''}`);
    if (setup.generated) ctx.out(`digest password (shown once, not stored in clear): ${setup.password}`);
  }
  if (!notice) return;
  for (const n of notice.notes) ctx.out(n);
  for (const w of notice.warnings) ctx.err(`WARNING: ${w}`);
}

export const commands: Command[] = [
  {
    path: ['init'],
    summary: 'create a store with this node, its certificates and the first ITL (TFTP activation)',
    usage: 'sbd init --state DIR [--hostname H] [--ip A] [--key-bits 2048|4096]',
    async run(args, ctx) {
      const { values } = parse(
        args,
        { ...stateOpt, hostname: { type: 'string' }, ip: { type: 'string' }, 'key-bits': { type: 'string' } },
        false,
      );
      const bits = intOption(values['key-bits'], '--key-bits', 2048, 2048, 4096);
      if (bits !== 2048 && bits !== 4096) throw new UsageError('--key-bits must be 2048 or 4096 (trust-list signers cannot use 3072)');
      const dir = required(values.state, '--state');
      const keySpec = { type: 'rsa', bits } as const;
      // The identities to issue (all on a new store, what a power cut left missing on a half-made one): their keys are
      // made in parallel first (spread over the CPUs, not one after another).
      const privateKeys = await pregenerateKeys(keySpec, missingIdentities(dir));
      const r = initAppliance({
        dir,
        hostname: values.hostname ?? 'sbd',
        ipv4: values.ip,
        clock: systemClock,
        keySpec,
        privateKeys,
      });
      ctx.out(
        r.created
          ? `created node ${r.node.name} (${r.node.hostname}${r.node.ipv4 ? ', ' + r.node.ipv4 : ''})`
          : `node ${r.node.name} already initialised`,
      );
      if (r.created && !r.node.ipv4 && !r.node.ipv6)
        ctx.err(
          `WARNING: no --ip: phone configs name this node by its host name "${r.node.hostname}", which phones without DNS cannot resolve; name it by address with "sbd param set ServerNames ${r.node.name}=ADDRESS" (docs/config.md)`,
        );
      ctx.out(r.issued.length ? `issued certificates: ${r.issued.join(', ')}` : 'all certificates present');
      ctx.out(`TFTP activated: ITLFile.tlv ${r.itlBytes} bytes, sha256 ${r.itlSha256}`);
      return 0;
    },
  },
  {
    path: ['device', 'add'],
    summary: 'add a phone (SEP<MAC>) to the store; with digest, its password is generated (or given) and shown once',
    usage:
      'sbd device add SEP<MAC> --model M [--security-profile P] [--dn NUMBER] [--digest-user U] [--digest-password P] --state DIR\n' +
      '  digest (the profile requires it, or --digest-user/--digest-password): the digest user defaults to the device name;\n' +
      '  the password is generated unless given (--digest-password or SBD_DIGEST_PASSWORD) and printed once',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...stateOpt,
        model: { type: 'string' },
        'security-profile': { type: 'string' },
        dn: { type: 'string' },
        'digest-user': { type: 'string' },
        'digest-password': { type: 'string' },
        description: { type: 'string' },
      });
      const name = required(positionals[0], 'SEP<MAC>');
      const given = values['digest-password'] ?? process.env.SBD_DIGEST_PASSWORD;
      const login = await prepareLogin();
      const r = withState(required(values.state, '--state'), ({ store, layout }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.deviceAdd, detail: name.toUpperCase() }, () => {
          const a = addPhone(
            store,
            layout.keysDir,
            {
              name,
              model: required(values.model, '--model'),
              ...(values['security-profile'] ? { securityProfile: values['security-profile'] } : {}),
              ...(values.description ? { description: values.description } : {}),
              directoryNumber: values.dn ?? null,
              ...(values['digest-user'] !== undefined ? { digestUser: values['digest-user'] } : {}),
              ...(given !== undefined ? { digestPassword: given } : {}),
            },
            login,
          );
          return { d: a.device, kept: a.kept, setup: a.setup, notice: a.notice };
        }),
      );
      ctx.out(`added ${r.d.name} (${r.d.model}, ${r.d.securityProfile})`);
      if (r.kept) {
        ctx.out(`digest user ${r.kept.userid} (realm ${r.kept.realm}) exists: its digest password is kept`);
        if (!r.kept.deliverable) {
          ctx.err(
            `WARNING: ${r.kept.userid}'s digest password is known only as a hash, so no config can carry it: enter it on the phone by hand, or run "sbd device digest-reset ${r.d.name}" for a new one that can be delivered`,
          );
        }
      }
      printDigestSetup(ctx, r.setup, r.kept && !r.kept.deliverable ? undefined : r.notice);
      return 0;
    },
  },
  {
    path: ['device', 'digest-reset'],
    summary: "give a phone's digest user a new password (generated unless given), shown once; configs are rebuilt",
    usage: 'sbd device digest-reset SEP<MAC> [--digest-user U] [--digest-password P] --state DIR   (or SBD_DIGEST_PASSWORD)',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...stateOpt,
        'digest-user': { type: 'string' },
        'digest-password': { type: 'string' },
      });
      const name = required(positionals[0], 'SEP<MAC>').toUpperCase();
      const given = values['digest-password'] ?? process.env.SBD_DIGEST_PASSWORD;
      const login = await prepareLogin();
      const r = withState(required(values.state, '--state'), ({ store, layout }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.digestReset, detail: name }, () =>
          store.transaction(() => {
            let d = store.getDevice(name);
            if (!d) throw new UsageError(`no device ${name}`);
            const user = values['digest-user'] ?? d.digestUser ?? name;
            if (d.digestUser !== user) d = store.updateDevice(name, { digestUser: user });
            const setup = setupPhoneDigest(store, layout.keysDir, user, given, login);
            return { d, setup, notice: digestDeliveryNotice(store, d) };
          }),
        ),
      );
      printDigestSetup(ctx, r.setup, r.notice);
      return 0;
    },
  },
  {
    path: ['device', 'list'],
    summary: 'list the phones in the store',
    usage: 'sbd device list --state DIR',
    run(args, ctx) {
      const { values } = parse(args, stateOpt, false);
      withState(
        required(values.state, '--state'),
        ({ store }) => {
          for (const d of store.listDevices()) ctx.out(`${d.name}  ${d.model}  ${d.securityProfile}${d.lscPem ? '  LSC' : ''}`);
        },
        { readonly: true },
      );
      return 0;
    },
  },
  {
    path: ['itl', 'build'],
    summary: 'write ITLFile.tlv, CTLFile.tlv (mixed mode) and the signed configs of every device',
    usage: 'sbd itl build --state DIR --out DIR',
    run(args, ctx) {
      const { values } = parse(args, { ...stateOpt, out: { type: 'string' } }, false);
      const out = required(values.out, '--out');
      const files = withState(
        required(values.state, '--state'),
        ({ store }) => {
          const f = new Map<string, Buffer>();
          f.set('ITLFile.tlv', buildItl(store, systemClock));
          const ctl = buildCtl(store, systemClock);
          if (ctl) f.set('CTLFile.tlv', ctl);
          f.set('XMLDefault.cnf.xml', defaultConfigFile(store, false, systemClock));
          f.set('XMLDefault.cnf.xml.sgn', defaultConfigFile(store, true, systemClock));
          for (const d of store.listDevices()) {
            for (const suffix of ['.cnf.xml', '.cnf.xml.sgn', '.cnf.xml.enc.sgn'] as const) {
              const b = deviceConfigFile(store, d, suffix, systemClock);
              if (b) f.set(d.name + suffix, b);
            }
          }
          return f;
        },
        { readonly: true },
      );
      mkdirSync(out, { recursive: true });
      for (const [name, bytes] of files) {
        writeAtomic(join(out, name), bytes);
        ctx.out(`${name}  ${bytes.length} bytes`);
      }
      return 0;
    },
  },
  {
    path: ['sgn'],
    summary: "sign a static file (ring list, locale, firmware) with the TFTP node's CallManager key into NAME.sgn",
    usage: 'sbd sgn FILE --state DIR [--name SERVED_NAME] [--out FILE.sgn] [--hash sha1|sha256|sha512]',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...stateOpt,
        name: { type: 'string' },
        out: { type: 'string' },
        hash: { type: 'string' },
      });
      const file = required(positionals[0], 'FILE');
      const served = (values.name ?? basename(file)) + '.sgn';
      const hash = (values.hash ?? 'sha1') as HashName;
      if (!['sha1', 'sha256', 'sha512'].includes(hash)) throw new UsageError('--hash must be sha1, sha256 or sha512');
      const body = readFileSync(file);
      const bytes = withState(
        required(values.state, '--state'),
        ({ store }) => {
          const cm = store.currentCertificate('CallManager', publisher(store).name);
          if (!cm) throw new UsageError('the store has no CallManager certificate');
          return buildSgn({ body, filename: served, signer: signerOf(cm), timestamp: Math.floor(Date.now() / 1000), hash });
        },
        { readonly: true },
      );
      const out = values.out ?? `${file}.sgn`;
      writeAtomic(out, bytes);
      ctx.out(`${out}: ${bytes.length} bytes, FILENAME ${served}`);
      return 0;
    },
  },
  {
    path: ['cert', 'regen'],
    summary: 'regenerate one of the appliance certificates (CallManager, TVS, CAPF, ITLRecovery, tomcat)',
    usage:
      'sbd cert regen NAME --state DIR [--node NODE] [--reset-phones]   (--reset-phones: reset every phone through sbd-sipd afterwards)',
    async run(args, ctx) {
      const { values, positionals } = parse(args, { ...stateOpt, node: { type: 'string' }, 'reset-phones': { type: 'boolean' } });
      const name = required(positionals[0], 'NAME');
      const r = withState(required(values.state, '--state'), (s) =>
        auditedSync(
          s.store,
          { user: currentAdminUser(), action: AuditAction.certRegen, detail: `${name}${values.node ? ' on ' + values.node : ''}` },
          () => regenerateCertificate(s, name, systemClock, values.node),
        ),
      );
      ctx.out(
        `regenerated ${r.certificate.name}${r.certificate.node ? ' on ' + r.certificate.node : ''}: serial ${r.certificate.serialHex}, valid until ${r.certificate.notAfter}`,
      );
      if (r.replaced) ctx.out(`previous certificate (serial ${r.replaced.serialHex}) kept as history`);
      ctx.out(`ITL rebuilt: sha256 ${r.itlSha256}`);
      for (const w of r.warnings) ctx.out(`WARNING: ${w}`);
      const proposal = backupProposal(r.certificate.name);
      if (proposal) ctx.out(`BACKUP: ${proposal}`);
      await phonesAfter(values, ctx, `regenerating ${r.certificate.name}`);
      return 0;
    },
  },
  {
    path: ['cert', 'list'],
    summary: 'list certificates (current and, with --history, replaced ones)',
    usage: 'sbd cert list --state DIR [--history]',
    run(args, ctx) {
      const { values } = parse(args, { ...stateOpt, history: { type: 'boolean' } }, false);
      withState(
        required(values.state, '--state'),
        ({ store }) => {
          for (const c of store.listCertificates({ includeHistory: values.history === true })) {
            ctx.out(
              `${c.name.padEnd(12)} ${(c.node ?? 'cluster').padEnd(12)} ${c.current ? 'current' : 'history'}  ${c.serialHex}  ${c.notAfter}  ${c.subject.replace(/\n/g, ', ')}`,
            );
          }
        },
        { readonly: true },
      );
      return 0;
    },
  },
  {
    path: ['cert', 'export'],
    summary: 'export an identity (default ITLRecovery) as a password-protected PKCS#12',
    usage: 'sbd cert export [NAME] --out FILE.p12 --state DIR   (password from SBD_P12_PASSWORD or --password)',
    run(args, ctx) {
      const { values, positionals } = parse(args, { ...stateOpt, out: { type: 'string' }, password: { type: 'string' } });
      const name = parseIdentityName(positionals[0] ?? 'ITLRecovery');
      const password = values.password ?? process.env.SBD_P12_PASSWORD;
      if (!password) throw new UsageError('give the export password with --password or SBD_P12_PASSWORD');
      const der = withState(required(values.state, '--state'), (s) => exportIdentityP12(s, name, password), { readonly: true });
      const out = required(values.out, '--out');
      writeAtomic(out, der, 0o600);
      ctx.out(`${out}: ${name} certificate and key, PKCS#12 (${der.length} bytes, AES-256, mode 0600)`);
      return 0;
    },
  },
  {
    path: ['itl', 'reset'],
    summary: 'bulk ITL reset: sign with the CallManager key (localkey) or an imported key (remotekey), then ITLRecovery again (complete)',
    usage:
      'sbd itl reset localkey|remotekey|complete [--p12 FILE.p12] --state DIR [--reset-phones]   (remotekey: password from SBD_P12_PASSWORD or --password)',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        ...stateOpt,
        p12: { type: 'string' },
        password: { type: 'string' },
        'reset-phones': { type: 'boolean' },
      });
      const step = required(positionals[0], 'localkey|remotekey|complete');
      if (step !== 'localkey' && step !== 'remotekey' && step !== 'complete')
        throw new UsageError(`unknown step "${step}": localkey, remotekey or complete`);
      let remote: { p12: Buffer; password: string } | undefined;
      if (step === 'remotekey') {
        const password = values.password ?? process.env.SBD_P12_PASSWORD;
        if (!password) throw new UsageError('give the PKCS#12 password with --password or SBD_P12_PASSWORD');
        remote = { p12: readFileSync(required(values.p12, '--p12')), password };
      }
      const r = withState(required(values.state, '--state'), (s) =>
        auditedSync(s.store, { user: currentAdminUser(), action: AuditAction.itlReset, detail: step }, () =>
          itlReset(s, step, systemClock, remote),
        ),
      );
      ctx.out(`ITL signed by ${r.signer}: sha256 ${r.itlSha256}`);
      ctx.out(r.message);
      await phonesAfter(values, ctx, `itl reset ${step}`);
      return 0;
    },
  },
  {
    path: ['ctl', 'reset'],
    summary: 'CTL reset (mixed mode): sign the CTL with ITLRecovery (localkey), then the CallManager key again (complete)',
    usage: 'sbd ctl reset localkey|complete --state DIR [--reset-phones]',
    async run(args, ctx) {
      const { values, positionals } = parse(args, { ...stateOpt, 'reset-phones': { type: 'boolean' } });
      const step = required(positionals[0], 'localkey|complete');
      if (step !== 'localkey' && step !== 'complete') throw new UsageError(`unknown step "${step}": localkey or complete`);
      const r = withState(required(values.state, '--state'), (s) =>
        auditedSync(s.store, { user: currentAdminUser(), action: AuditAction.ctlReset, detail: step }, () =>
          ctlReset(s, step, systemClock),
        ),
      );
      ctx.out(`CTL signed by ${r.signer}`);
      ctx.out(r.message);
      await phonesAfter(values, ctx, `ctl reset ${step}`);
      return 0;
    },
  },
  {
    path: ['ctl', 'update'],
    summary: 'rebuild the CTL (mixed mode) from the current certificates and sign it again (utils ctl update CTLFile)',
    usage: 'sbd ctl update CTLFile --state DIR [--reset-phones]',
    async run(args, ctx) {
      const { values, positionals } = parse(args, { ...stateOpt, 'reset-phones': { type: 'boolean' } });
      const file = required(positionals[0], 'CTLFile');
      if (file.toLowerCase() !== 'ctlfile') throw new UsageError(`no file "${file}" to update: CTLFile`);
      const r = withState(required(values.state, '--state'), (s) =>
        auditedSync(s.store, { user: currentAdminUser(), action: AuditAction.ctlReset, detail: 'update CTLFile' }, () =>
          ctlUpdate(s, systemClock),
        ),
      );
      ctx.out(`CTL signed by ${r.signer}: ${r.bytes} bytes, sha256 ${r.sha256}`);
      ctx.out(r.message);
      await phonesAfter(values, ctx, 'ctl update CTLFile');
      return 0;
    },
  },
  {
    path: ['param', 'set'],
    summary: 'set an enterprise parameter (validated); trust lists rebuild on the next request',
    usage: 'sbd param set NAME VALUE --state DIR   (PrepareClusterForRollback: every phone is reset through sbd-sipd when it changes)',
    async run(args, ctx) {
      const { values, positionals } = parse(args, stateOpt);
      const name = required(positionals[0], 'NAME');
      const value = required(positionals[1], 'VALUE');
      const rollback = name.toLowerCase() === ROLLBACK_PARAM.toLowerCase();
      const { notice, change } = withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.paramSet, detail: `${name}=${value}` }, () => {
          const before = rollback ? store.getBoolParam(ROLLBACK_PARAM) : undefined;
          // No question on the CLI (scripts run it); the console asks (admin/commands/params.ts).
          const tlsLowered = name === TLS_MIN_VERSION_PARAM && lowersTlsMinimum(store.getParam(name), value);
          store.setParam(name, value);
          return {
            notice:
              name === SIGNED_CONFIG_PARAM
                ? signedConfigParamNotice(store, store.getBoolParam(name))
                : tlsLowered
                  ? tlsMinVersionWarnings(value).map((w) => `WARNING: ${w}`)
                  : [],
            change: rollback ? { before, after: store.getBoolParam(ROLLBACK_PARAM) } : undefined,
          };
        }),
      );
      ctx.out(`${name} = ${value}`);
      for (const line of notice) ctx.err(line);
      if (change && change.before !== change.after) {
        for (const line of rollbackNotice(change.after)) ctx.err(line);
        // As CUCM 10.5+ does: every phone is reset at once to take the rollback ITL (or, back, the signed one).
        await resetAllPhonesAfter(values.state!, `${ROLLBACK_PARAM} = ${change.after}`, ctx.out);
      }
      return 0;
    },
  },
  {
    path: ['param', 'show'],
    summary: 'list enterprise parameters with their values and defaults',
    usage: 'sbd param show --state DIR',
    run(args, ctx) {
      const { values } = parse(args, stateOpt, false);
      withState(
        required(values.state, '--state'),
        ({ store }) => {
          for (const p of store.listParams()) ctx.out(`${p.name.padEnd(28)} ${p.value}${p.isDefault ? '' : `  (default ${p.default})`}`);
        },
        { readonly: true },
      );
      return 0;
    },
  },
];

/** `--reset-phones`: reset every phone through sbd-sipd after the step; otherwise say how. */
async function phonesAfter(
  values: { state?: string | undefined; 'reset-phones'?: boolean | undefined },
  ctx: CommandContext,
  step: string,
): Promise<void> {
  if (values['reset-phones']) await resetAllPhonesAfter(required(values.state, '--state'), step, ctx.out);
  else ctx.out('Reset the phones so they take it: sbd phone reset --all (or run this step with --reset-phones).');
}
