/** `file get tftp ITLRecovery.p12`: the cluster's ITLRecovery identity as a password-protected PKCS#12. */
import { UsageError } from '../lib/errors.js';
import { privateKeyOf } from '../pki/identity-store.js';
import { exportPkcs12 } from '../pki/pkcs12.js';
import type { IdentityName } from '../pki/profiles.js';
import type { State } from '../store/state.js';

export const minExportPasswordLength = 8;

export function exportIdentityP12(state: State, name: IdentityName, password: string, node?: string): Buffer {
  if (password.length < minExportPasswordLength)
    throw new UsageError(`the export password must be at least ${minExportPasswordLength} characters`);
  const nodes = state.store.listNodes();
  const scope = name === 'ITLRecovery' ? null : (node ?? (nodes.find((n) => n.isPublisher) ?? nodes[0])?.name ?? null);
  const row = state.store.currentCertificate(name, scope);
  if (!row) throw new UsageError(`no current ${name} certificate`);
  return exportPkcs12({ certPem: row.pem, privateKeyPem: privateKeyOf(row), password, friendlyName: name });
}
