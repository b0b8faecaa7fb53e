/**
 * `--ktls` / `--no-ktls` of sbd daemon tvs|capf|sip: kernel TLS on or off; off when neither is given, also where the
 * kernel has the TLS ULP (the image): measured there (bench/tls-ktls, docs/tls.md "Kernel TLS in the image"), kTLS
 * saves CPU per MiB on a kept connection but costs more per new connection, and new connections (TVS asks one
 * question per connection; phones reconnect at once after a power cut) are where the appliance is loaded.
 */
import { UsageError } from '../lib/errors.js';

export const ktlsOptions = { ktls: { type: 'boolean' }, 'no-ktls': { type: 'boolean' } } as const;

export function ktlsChoice(values: { ktls?: boolean; 'no-ktls'?: boolean }, tlsEngine: 'node' | 'native'): boolean {
  if (values.ktls && values['no-ktls']) throw new UsageError('--ktls and --no-ktls exclude each other');
  if (values.ktls && tlsEngine !== 'native') throw new UsageError('--ktls needs --tls-engine native');
  return values.ktls ?? false;
}
