/**
 * One shared handle on OpenSSL's libcrypto (the same library node:crypto links on Debian 12) through koffi.
 * Each area declares the functions it needs in its own file next to this one, from `libcrypto()`.
 */
import koffi from 'koffi';

let lib: koffi.IKoffiLib | undefined;

export function libcrypto(): koffi.IKoffiLib {
  lib ??= koffi.load('libcrypto.so.3');
  return lib;
}
