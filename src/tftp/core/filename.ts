/**
 * Which names a TFTP client may ask for. Phones ask for plain names (`ITLSEP001122334455.tlv`) and sometimes a
 * relative path into a folder of static files (`locales/de/...`). Everything else is refused before any file
 * source sees it, with TFTP error 2 (access violation, RFC 1350 §5) and a message that says what was wrong.
 */
import { printable, TftpError, type TftpErrorName } from './errors.js';
import { tftpLimits } from '../limits.js';

/** Default for the `maxFilenameLength` option: RFC 2347 requests fit in 512 bytes, so names are shorter anyway. */
export const MAX_FILENAME_LENGTH_DEFAULT: number = tftpLimits.maxFilenameLength.default;

function refuse(code: TftpErrorName, message: string): TftpError {
  return new TftpError(code, message);
}

/** Returns undefined when the name is acceptable, else the error to answer with. */
export function checkFilename(name: string, maxLength = MAX_FILENAME_LENGTH_DEFAULT): TftpError | undefined {
  if (name.length === 0) return refuse('ERR_TFTP_NAME_EMPTY', 'empty file name');
  if (name.length > maxLength) return refuse('ERR_TFTP_NAME_TOO_LONG', `file name of ${name.length} bytes is longer than ${maxLength}`);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0) return refuse('ERR_TFTP_NAME_NUL', `file name contains a NUL byte: "${printable(name)}"`);
    if (c < 0x20 || c >= 0x7f)
      return refuse(
        'ERR_TFTP_NAME_UNPRINTABLE',
        `file name contains a non-printable byte 0x${c.toString(16).padStart(2, '0')}: "${printable(name)}"`,
      );
    if (c === 0x5c) return refuse('ERR_TFTP_NAME_BACKSLASH', `file name contains a backslash: "${printable(name)}"`);
  }
  if (name[0] === '/') return refuse('ERR_TFTP_NAME_ABSOLUTE', `absolute path refused: "${printable(name)}"`);
  if (/^[A-Za-z]:/.test(name)) return refuse('ERR_TFTP_NAME_ABSOLUTE', `drive-letter path refused: "${printable(name)}"`);
  for (const seg of name.split('/')) {
    if (seg === '..') return refuse('ERR_TFTP_NAME_PARENT', `".." in file name refused: "${printable(name)}"`);
    if (seg === '' || seg === '.') return refuse('ERR_TFTP_NAME_SEGMENT', `empty or "." path segment refused: "${printable(name)}"`);
  }
  return undefined;
}
