/**
 * libsystemd's sd_notify(3) through koffi: the service manager's notification protocol (a datagram on the Unix
 * socket in $NOTIFY_SOCKET), which Node 20 cannot send itself (node:dgram has no AF_UNIX). libsystemd.so.0 is
 * loaded on first use only, so hosts without systemd never touch it while NOTIFY_SOCKET is unset.
 */
import koffi from 'koffi';

type SdNotifyFn = (unsetEnvironment: number, state: string) => number;

let fn: SdNotifyFn | undefined;

function sdNotifyFn(): SdNotifyFn {
  fn ??= koffi.load('libsystemd.so.0').func('int sd_notify(int unset_environment, const char *state)') as SdNotifyFn;
  return fn;
}

/**
 * Sends `state` (newline-separated VAR=value assignments, e.g. "READY=1\nSTATUS=serving") to the service manager.
 * Returns sd_notify's result: > 0 sent, 0 when $NOTIFY_SOCKET is unset (no-op, libsystemd not even loaded),
 * < 0 a negative errno.
 */
export function sdNotify(state: string): number {
  if (!process.env.NOTIFY_SOCKET) return 0;
  return sdNotifyFn()(0, state);
}
