/**
 * `--ktls` / `--no-ktls` of sbd daemon tvs|capf|sip: kernel TLS on, off, or (neither) on where the kernel has the
 * TLS ULP and the listener runs on the engine (defaultKtls, src/tls/engine-library.ts; the image loads the module).
 */
import { UsageError } from '../lib/errors.js';
import { defaultKtls } from '../tls/engine-library.js';

export const ktlsOptions = { ktls: { type: 'boolean' }, 'no-ktls': { type: 'boolean' } } as const;

export function ktlsChoice(values: { ktls?: boolean; 'no-ktls'?: boolean }, tlsEngine: 'node' | 'native'): boolean {
  if (values.ktls && values['no-ktls']) throw new UsageError('--ktls and --no-ktls exclude each other');
  if (values.ktls && tlsEngine !== 'native') throw new UsageError('--ktls needs --tls-engine native');
  if (values.ktls) return true;
  if (values['no-ktls']) return false;
  return defaultKtls(tlsEngine);
}
