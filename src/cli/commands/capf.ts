/**
 * `sbd capf install|delete|fetch SEP<MAC>` (schedule the operation the way the admin does on the phone's page),
 * `sbd capf show SEP<MAC>`, and `sbd capf enroll`, the phone side, keeping its key and LSC in a phone folder:
 *   PHONEDIR/lsc.pem, lsc.key   the LSC CAPF issued and its key (0600)
 *   PHONEDIR/mic.pem, mic.key   a manufacturer certificate for --auth mic (or lsc falling back to MIC)
 */
import { randomInt, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { withState } from '../../store/state.js';
import { readKeyFile, writeKeyFile } from '../../pki/keys.js';
import { CAPF_AUTH_MODES, normaliseDeviceName, type CapfAuthMode } from '../../store/index.js';
import { CAPF_AUTH_STRING_DIGITS } from '../../store/devices.js';
import { capfCertificatesFromTrustList, enrollWithCapf, type CapfClientAuthInput } from '../../capf/client.js';
import { keySpecText, parseKeySpecText, DEFAULT_CAPF_KEY_SPEC } from '../../capf/core/key-spec.js';
import { pendingStatus } from '../../capf/operation-status.js';
import { hostPort } from './daemon-tvs.js';

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}

function authMode(text: string): CapfAuthMode {
  const mode = text as CapfAuthMode;
  if (!(CAPF_AUTH_MODES as readonly string[]).includes(mode))
    throw new UsageError(`--auth must be one of ${CAPF_AUTH_MODES.join(', ')} or profile`);
  return mode;
}

function schedule(operation: 'install' | 'delete' | 'fetch'): Command {
  return {
    path: ['capf', operation],
    summary: `schedule a CAPF ${operation} for a phone (it happens when the phone next contacts CAPF)`,
    usage: `sbd capf ${operation} SEP<MAC> --auth none|password|lsc|mic|profile [--password DIGITS]${operation === 'install' ? ' [--key rsa-2048|rsa-3072|rsa-4096|ec-P-256|ec-P-384|ec-P-521]' : ''} --state DIR`,
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        state: { type: 'string' },
        auth: { type: 'string' },
        password: { type: 'string' },
        key: { type: 'string' },
      });
      const name = normaliseDeviceName(required(positionals[0], 'SEP<MAC>'));
      const stateDir = required(values.state, '--state');
      // No default: "none" lets whoever reaches port 3804 first with this MAC get the LSC; the administrator says so,
      // or names "profile": the CAPF authentication mode of the device's security profile (schema 10).
      const auth = required(values.auth, '--auth none|password|lsc|mic|profile');
      const mode =
        auth !== 'profile'
          ? authMode(auth)
          : withState(
              stateDir,
              ({ store }) => {
                const d = store.getDevice(name);
                if (!d) throw new UsageError(`no device ${name}`);
                return store.getSecurityProfile(d.securityProfile)?.capfAuthMode ?? 'password';
              },
              { readonly: true },
            );
      if (values.password !== undefined && mode !== 'password') throw new UsageError('--password goes with --auth password');
      const { min, max } = CAPF_AUTH_STRING_DIGITS;
      if (values.password !== undefined && !new RegExp(`^\\d{${min},${max}}$`).test(values.password))
        throw new UsageError(`--password must be ${min} to ${max} digits`);
      if (values.key !== undefined && operation !== 'install') throw new UsageError('--key goes with install');
      const keySpec = values.key === undefined ? DEFAULT_CAPF_KEY_SPEC : parseKeySpecText(values.key);
      if (!keySpec) throw new UsageError('--key must be rsa-2048, rsa-3072, rsa-4096, ec-P-256, ec-P-384 or ec-P-521');
      // CUCM generates the auth string when the administrator asks for one without typing it.
      const password = mode === 'password' ? (values.password ?? String(randomInt(10 ** (min - 1), 10 ** min))) : null;
      const d = withState(stateDir, ({ store }) =>
        store.updateDevice(name, {
          capfOperation: operation,
          capfAuthMode: mode,
          capfAuthString: password,
          capfAuthFailures: 0,
          capfStatus: pendingStatus(operation, operation === 'install' ? keySpec : undefined),
        }),
      );
      ctx.out(`${d.name}: ${d.capfStatus} (authentication ${mode})`);
      if (mode === 'none') ctx.err(`warning: --auth none: any host that reaches CAPF first and names ${d.name} completes the ${operation}`);
      if (password !== null && values.password === undefined) ctx.out(`authentication string: ${password}`);
      return 0;
    },
  };
}

export const commands: Command[] = [
  schedule('install'),
  schedule('delete'),
  schedule('fetch'),
  {
    path: ['capf', 'show'],
    summary: "show a phone's pending CAPF operation, its status and its LSC",
    usage: 'sbd capf show SEP<MAC> --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' } });
      const name = normaliseDeviceName(required(positionals[0], 'SEP<MAC>'));
      const d = withState(required(values.state, '--state'), ({ store }) => store.getDevice(name), { readonly: true });
      if (!d) throw new UsageError(`no device ${name}`);
      const notes = [...(d.capfAuthString ? ['auth string set'] : []), ...(d.capfAuthFailures > 0 ? [`${d.capfAuthFailures} failed`] : [])];
      ctx.out(
        `operation: ${d.capfOperation}\nauthentication: ${d.capfAuthMode}${notes.length ? ` (${notes.join(', ')})` : ''}\nstatus: ${d.capfStatus ?? '-'}`,
      );
      if (d.lscPem) {
        const c = new X509Certificate(d.lscPem);
        ctx.out(`LSC: serial ${c.serialNumber.toLowerCase()}, issuer ${c.issuer.replace(/\n/g, ', ')}, valid to ${c.validTo}`);
      } else ctx.out('LSC: none');
      return 0;
    },
  },
  {
    path: ['capf', 'enroll'],
    summary: 'act as a phone towards CAPF: authenticate, then install, fetch or delete the LSC in PHONEDIR',
    usage:
      'sbd capf enroll HOST[:PORT] --mac MAC --state PHONEDIR [--auth none|password|lsc|mic] [--password DIGITS] (--capf-cert CAPF.pem | --itl ITLFile.tlv) [--timeout MS]',
    async run(args, ctx) {
      const { values, positionals } = parse(args, {
        mac: { type: 'string' },
        state: { type: 'string' },
        auth: { type: 'string' },
        password: { type: 'string' },
        'capf-cert': { type: 'string', multiple: true },
        itl: { type: 'string' },
        timeout: { type: 'string' },
      });
      const { host, port } = hostPort(required(positionals[0], 'HOST[:PORT]'), 3804);
      const mac = required(values.mac, '--mac').replace(/[:.-]/g, '').toUpperCase();
      const deviceName = normaliseDeviceName(`SEP${mac}`);
      const dir = required(values.state, '--state');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const files = {
        lscPem: join(dir, 'lsc.pem'),
        lscKey: join(dir, 'lsc.key'),
        micPem: join(dir, 'mic.pem'),
        micKey: join(dir, 'mic.key'),
      };
      const mode = values.auth === undefined ? (values.password !== undefined ? 'password' : 'none') : authMode(values.auth);
      let auth: CapfClientAuthInput;
      if (mode === 'none') auth = { type: 'none' };
      else if (mode === 'password') auth = { type: 'password', password: required(values.password, '--password') };
      else {
        // capfAuthMode "LSC falling back to MIC": the LSC when the phone has one.
        const useLsc = mode === 'lsc' && existsSync(files.lscPem);
        const [pem, key] = useLsc ? [files.lscPem, files.lscKey] : [files.micPem, files.micKey];
        if (!existsSync(pem))
          throw new UsageError(`--auth ${mode} needs ${mode === 'lsc' ? `${files.lscPem} or ` : ''}${files.micPem} and its key`);
        auth = { type: useLsc ? 'lsc' : 'mic', certPem: readFileSync(pem, 'utf8'), keyPem: readKeyFile(key) };
      }
      const trusted: Buffer[] = (values['capf-cert'] ?? []).map((f) => new X509Certificate(readFileSync(f)).raw);
      if (values.itl) trusted.push(...capfCertificatesFromTrustList(readFileSync(values.itl)));
      if (trusted.length === 0) throw new UsageError('give the CAPF certificate to trust: --capf-cert or --itl (its CAPF records)');
      const r = await enrollWithCapf({
        host,
        port,
        deviceName,
        auth,
        trustedServerCerts: trusted,
        ...(existsSync(files.lscPem) ? { currentLscPem: readFileSync(files.lscPem, 'utf8') } : {}),
        timeoutMs: intOption(values.timeout, '--timeout', 120000, 1, 3_600_000),
      });
      switch (r.operation) {
        case 'install':
          writeKeyFile(files.lscKey, r.privateKeyPem);
          writeAtomic(files.lscPem, r.lscPem);
          ctx.out(
            `installed LSC (${keySpecText(r.keySpec)}) serial ${new X509Certificate(r.lscPem).serialNumber.toLowerCase()} in ${files.lscPem}`,
          );
          break;
        case 'fetch':
          ctx.out(r.sent ? `sent ${files.lscPem} to CAPF` : 'CAPF asked for the LSC; this phone has none');
          break;
        case 'delete':
          rmSync(files.lscPem, { force: true });
          rmSync(files.lscKey, { force: true });
          ctx.out(`deleted the LSC from ${dir}`);
          break;
        case 'none':
          ctx.out('no operation pending');
          break;
      }
      return 0;
    },
  },
];
