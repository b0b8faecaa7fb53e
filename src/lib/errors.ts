/**
 * The base of every typed error in sbd. Each domain (trust, store, pki, tftp, …) extends it with its own
 * stable `code` strings; `statusHint` carries the protocol status an I/O layer should answer with, if any.
 * Only I/O layers (daemons, CLI) turn an error into a wire response or a log line.
 */
export class SbdError extends Error {
  readonly code: string;
  readonly statusHint: number | undefined;

  constructor(code: string, message: string, options?: { statusHint?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusHint = options?.statusHint;
  }
}

/** lib's own codes; each room declares its codes once in its own table like this one. */
export const LibErrorCode = {
  /** A command line or administrative request that cannot be carried out as given. */
  usage: 'ERR_USAGE',
} as const;
export type LibErrorCode = (typeof LibErrorCode)[keyof typeof LibErrorCode];

/** A command line or administrative request that cannot be carried out as given. */
export class UsageError extends SbdError {
  declare readonly code: typeof LibErrorCode.usage;

  constructor(message: string) {
    super(LibErrorCode.usage, message);
  }
}

export function isSbdError(err: unknown): err is SbdError {
  return err instanceof SbdError;
}
