/**
 * The backup file, sans I/O: files (name + bytes) in, one sealed buffer out (`sealBackup`, which gives the byte
 * layout), and back. scrypt (RFC 7914) derives the AES-256-GCM key and a passphrase check, so a wrong passphrase is
 * told apart from an altered file; any altered byte of header, manifest or ciphertext is refused, and each file's
 * SHA-256 must match the manifest after decryption.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { BackupError, BackupErrorCode } from './errors.js';

export const BACKUP_MAGIC = Buffer.from('SBDBKUP\0', 'latin1');
export const BACKUP_FORMAT_VERSION = 1;
export const HEADER_BYTES = 104;
export const TAG_BYTES = 16;
const KDF_SCRYPT = 1;

export interface BackupKdf {
  /** log2 of scrypt's N. Default 17 (128 MiB with r = 8: slow to guess, once per backup or restore). */
  log2N: number;
  /** Default 8. */
  r: number;
  /** Default 1. */
  p: number;
}

export const BACKUP_KDF: Readonly<BackupKdf> = { log2N: 17, r: 8, p: 1 };

/** Bounds on what a backup may ask of the machine that opens it, and on passphrases. */
export const BACKUP_LIMITS = {
  minLog2N: 14,
  maxLog2N: 20,
  maxR: 32,
  maxP: 16,
  maxManifestBytes: 1024 * 1024,
  maxFiles: 10_000,
  minPassphraseChars: 12,
  maxPassphraseBytes: 1024,
} as const;

export interface BackupFileEntry {
  /** 'sbd.db' or 'keys/<file>'. */
  name: string;
  size: number;
  sha256: string;
  /** Unix permission bits to restore with. */
  mode: number;
}

export interface BackupManifest {
  format: 'sbd-backup';
  version: number;
  createdAt: string;
  sbdVersion: string;
  schemaVersion: number;
  nodes: string[];
  files: BackupFileEntry[];
}

export interface BackupFile {
  name: string;
  bytes: Buffer;
  mode: number;
}

const NAME = /^(sbd\.db|keys\/[A-Za-z0-9_][A-Za-z0-9._-]{0,199})$/;

export function checkPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || [...passphrase].length < BACKUP_LIMITS.minPassphraseChars) {
    throw new BackupError(BackupErrorCode.input, `the backup passphrase must be at least ${BACKUP_LIMITS.minPassphraseChars} characters`);
  }
  if (Buffer.byteLength(passphrase) > BACKUP_LIMITS.maxPassphraseBytes) {
    throw new BackupError(BackupErrorCode.input, `the backup passphrase must be at most ${BACKUP_LIMITS.maxPassphraseBytes} bytes`);
  }
  return passphrase;
}

function checkKdf(k: BackupKdf): void {
  const L = BACKUP_LIMITS;
  if (
    !Number.isInteger(k.log2N) ||
    k.log2N < L.minLog2N ||
    k.log2N > L.maxLog2N ||
    !Number.isInteger(k.r) ||
    k.r < 1 ||
    k.r > L.maxR ||
    !Number.isInteger(k.p) ||
    k.p < 1 ||
    k.p > L.maxP
  ) {
    throw new BackupError(
      BackupErrorCode.format,
      `scrypt parameters ln=${k.log2N},r=${k.r},p=${k.p} outside the accepted range (ln ${L.minLog2N}..${L.maxLog2N}, r 1..${L.maxR}, p 1..${L.maxP})`,
    );
  }
}

function deriveKeys(passphrase: string, salt: Buffer, k: BackupKdf): Promise<{ aesKey: Buffer; check: Buffer }> {
  const N = 2 ** k.log2N;
  return new Promise((resolve, reject) =>
    scryptCb(
      Buffer.from(passphrase.normalize('NFC'), 'utf8'),
      salt,
      64,
      { N, r: k.r, p: k.p, maxmem: 128 * N * k.r + 128 * k.r * k.p + 1024 * 1024 },
      (err, out) => {
        if (err) reject(new BackupError(BackupErrorCode.io, `key derivation failed: ${err.message}`, { cause: err }));
        else resolve({ aesKey: out.subarray(0, 32), check: createHash('sha256').update(out.subarray(32)).digest() });
      },
    ),
  );
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface SealInput {
  files: readonly BackupFile[];
  passphrase: string;
  createdAt: string;
  sbdVersion: string;
  schemaVersion: number;
  nodes: string[];
  kdf?: BackupKdf;
}

/**
 * Layout (big-endian):
 *   0   8  magic "SBDBKUP\0"
 *   8   2  format version (1)
 *   10  1  key derivation: 1 = scrypt (RFC 7914)
 *   11  1  log2 N        12  1  r        13  1  p        14  2  reserved (0)
 *   16  32 salt
 *   48  12 AES-GCM nonce (NIST SP 800-38D §8.2.2: random 96 bits, one key per file so it never repeats)
 *   60  32 passphrase check: SHA-256 of the second half of the scrypt output
 *   92  4  manifest length M        96  8  ciphertext length C
 *   104 M  manifest (UTF-8 JSON: file names, sizes, SHA-256) — readable without the passphrase, authenticated
 *   ..  C  AES-256-GCM ciphertext of the files' bytes, concatenated in manifest order
 *   ..  16 GCM tag over header + manifest (additional data) and the ciphertext
 * scrypt derives 64 bytes: the first 32 are the AES key, the last 32 only feed the passphrase check, which tells
 * a wrong passphrase apart from an altered file. Any altered byte of the header, manifest or ciphertext is
 * refused: by the format checks, the passphrase check or the tag; after decryption each file's SHA-256 must
 * match the manifest too.
 */
export async function sealBackup(input: SealInput): Promise<{ bytes: Buffer; manifest: BackupManifest }> {
  const passphrase = checkPassphrase(input.passphrase);
  const kdf = input.kdf ?? BACKUP_KDF;
  checkKdf(kdf);
  const names = new Set<string>();
  for (const f of input.files) {
    if (!NAME.test(f.name) || names.has(f.name)) throw new BackupError(BackupErrorCode.input, `cannot back up a file named "${f.name}"`);
    names.add(f.name);
  }
  if (input.files.length > BACKUP_LIMITS.maxFiles)
    throw new BackupError(BackupErrorCode.input, `more than ${BACKUP_LIMITS.maxFiles} files`);
  const manifest: BackupManifest = {
    format: 'sbd-backup',
    version: BACKUP_FORMAT_VERSION,
    createdAt: input.createdAt,
    sbdVersion: input.sbdVersion,
    schemaVersion: input.schemaVersion,
    nodes: input.nodes,
    files: input.files.map((f) => ({ name: f.name, size: f.bytes.length, sha256: sha256(f.bytes), mode: f.mode & 0o777 })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  if (manifestBytes.length > BACKUP_LIMITS.maxManifestBytes) throw new BackupError(BackupErrorCode.input, 'manifest too large');
  const plaintextLength = input.files.reduce((n, f) => n + f.bytes.length, 0);
  const salt = randomBytes(32);
  const nonce = randomBytes(12);
  const { aesKey, check } = await deriveKeys(passphrase, salt, kdf);
  const header = Buffer.alloc(HEADER_BYTES);
  BACKUP_MAGIC.copy(header, 0);
  header.writeUInt16BE(BACKUP_FORMAT_VERSION, 8);
  header.writeUInt8(KDF_SCRYPT, 10);
  header.writeUInt8(kdf.log2N, 11);
  header.writeUInt8(kdf.r, 12);
  header.writeUInt8(kdf.p, 13);
  salt.copy(header, 16);
  nonce.copy(header, 48);
  check.copy(header, 60);
  header.writeUInt32BE(manifestBytes.length, 92);
  header.writeBigUInt64BE(BigInt(plaintextLength), 96);
  const cipher = createCipheriv('aes-256-gcm', aesKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([header, manifestBytes]));
  const parts = [header, manifestBytes, ...input.files.map((f) => cipher.update(f.bytes)), cipher.final(), cipher.getAuthTag()];
  return { bytes: Buffer.concat(parts), manifest };
}

interface Header {
  kdf: BackupKdf;
  salt: Buffer;
  nonce: Buffer;
  check: Buffer;
  manifestLength: number;
  ciphertextLength: number;
}

function parseHeader(bytes: Buffer): Header {
  const fmt = (why: string): BackupError => new BackupError(BackupErrorCode.format, `not a usable sbd backup: ${why}`);
  if (bytes.length < HEADER_BYTES + TAG_BYTES) throw fmt(`${bytes.length} bytes is shorter than a header and tag`);
  if (!bytes.subarray(0, 8).equals(BACKUP_MAGIC)) throw fmt('no "SBDBKUP" magic at the start');
  const version = bytes.readUInt16BE(8);
  if (version !== BACKUP_FORMAT_VERSION) throw fmt(`format version ${version}; this sbd reads version ${BACKUP_FORMAT_VERSION}`);
  if (bytes.readUInt8(10) !== KDF_SCRYPT) throw fmt(`unknown key derivation ${bytes.readUInt8(10)}`);
  if (bytes.readUInt16BE(14) !== 0) throw fmt('reserved header bytes are not zero');
  const kdf = { log2N: bytes.readUInt8(11), r: bytes.readUInt8(12), p: bytes.readUInt8(13) };
  checkKdf(kdf);
  const manifestLength = bytes.readUInt32BE(92);
  const c = bytes.readBigUInt64BE(96);
  if (manifestLength > BACKUP_LIMITS.maxManifestBytes)
    throw fmt(`manifest length ${manifestLength} above ${BACKUP_LIMITS.maxManifestBytes}`);
  const expected = BigInt(HEADER_BYTES + manifestLength + TAG_BYTES) + c;
  if (expected !== BigInt(bytes.length))
    throw fmt(`the header announces ${expected} bytes, the file has ${bytes.length} (truncated or altered)`);
  return {
    kdf,
    salt: bytes.subarray(16, 48),
    nonce: bytes.subarray(48, 60),
    check: bytes.subarray(60, 92),
    manifestLength,
    ciphertextLength: Number(c),
  };
}

/** What can be read without the passphrase: the header fields and the (not yet authenticated) manifest. */
export function peekBackup(bytes: Buffer): { kdf: BackupKdf; manifest: BackupManifest } {
  const h = parseHeader(bytes);
  return { kdf: h.kdf, manifest: parseManifest(bytes.subarray(HEADER_BYTES, HEADER_BYTES + h.manifestLength), h.ciphertextLength) };
}

function parseManifest(raw: Buffer, payloadLength: number): BackupManifest {
  const bad = (why: string): BackupError => new BackupError(BackupErrorCode.tampered, `backup manifest is not valid: ${why}`);
  let m: BackupManifest;
  try {
    m = JSON.parse(raw.toString('utf8')) as BackupManifest;
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (typeof m !== 'object' || m === null || m.format !== 'sbd-backup' || m.version !== BACKUP_FORMAT_VERSION || !Array.isArray(m.files))
    throw bad('missing fields');
  if (typeof m.createdAt !== 'string' || typeof m.schemaVersion !== 'number' || !Array.isArray(m.nodes)) throw bad('missing fields');
  if (m.files.length > BACKUP_LIMITS.maxFiles) throw bad('too many files');
  const seen = new Set<string>();
  let total = 0;
  for (const f of m.files) {
    if (typeof f?.name !== 'string' || !NAME.test(f.name) || seen.has(f.name)) throw bad(`file name ${JSON.stringify(f?.name)}`);
    if (!Number.isSafeInteger(f.size) || f.size < 0 || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256))
      throw bad(`entry for ${f.name}`);
    if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o777) throw bad(`mode of ${f.name}`);
    seen.add(f.name);
    total += f.size;
  }
  if (!seen.has('sbd.db')) throw bad('no sbd.db');
  if (total !== payloadLength) throw bad(`file sizes add up to ${total}, the content is ${payloadLength} bytes`);
  return m;
}

export interface OpenedBackup {
  manifest: BackupManifest;
  files: BackupFile[];
}

/** Checks and decrypts a backup; any failure is a BackupError and nothing is returned. */
export async function openBackup(bytes: Buffer, passphrase: string): Promise<OpenedBackup> {
  const h = parseHeader(bytes);
  const { aesKey, check } = await deriveKeys(typeof passphrase === 'string' ? passphrase : '', h.salt, h.kdf);
  if (!timingSafeEqual(check, h.check)) {
    throw new BackupError(
      BackupErrorCode.passphrase,
      'the passphrase does not open this backup (wrong passphrase, or the key fields of its header were altered)',
    );
  }
  const aadEnd = HEADER_BYTES + h.manifestLength;
  const ciphertext = bytes.subarray(aadEnd, aadEnd + h.ciphertextLength);
  const decipher = createDecipheriv('aes-256-gcm', aesKey, h.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(bytes.subarray(0, aadEnd));
  decipher.setAuthTag(bytes.subarray(aadEnd + h.ciphertextLength));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (err) {
    throw new BackupError(
      BackupErrorCode.tampered,
      'the backup failed its integrity check (AES-GCM tag): the header, manifest or content was altered or damaged',
      { cause: err },
    );
  }
  const manifest = parseManifest(bytes.subarray(HEADER_BYTES, aadEnd), h.ciphertextLength);
  const files: BackupFile[] = [];
  let at = 0;
  for (const f of manifest.files) {
    const content = plaintext.subarray(at, at + f.size);
    at += f.size;
    if (sha256(content) !== f.sha256)
      throw new BackupError(BackupErrorCode.tampered, `${f.name} does not match its SHA-256 in the manifest`);
    files.push({ name: f.name, bytes: content, mode: f.mode });
  }
  return { manifest, files };
}
