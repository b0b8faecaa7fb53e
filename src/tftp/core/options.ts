/**
 * Option negotiation, RFC 2347 with blksize (RFC 2348), timeout and tsize (RFC 2349) and windowsize (RFC 7440):
 * the server side (`negotiate`: the request's options and the server's limits in, the OACK and the transfer's
 * parameters out; our choices where the RFCs leave room are listed there) and the client side.
 */
import { optionRefused } from './errors.js';
import type { TftpOption } from './packet.js';
import { tftpLimits } from '../limits.js';

/** RFC limits. */
export const BLKSIZE_MIN = 8;
export const BLKSIZE_MAX = 65464;
export const BLKSIZE_DEFAULT = 512;
export const WINDOWSIZE_MAX = 65535;
export const TIMEOUT_MAX_S = 255;
/** Largest RFC 2349 timeout we accept by default (seconds); above it the option is declined. */
export const MAX_TIMEOUT_S_DEFAULT: number = tftpLimits.maxTimeoutS.default;

export interface NegotiationLimits {
  /** Largest blksize granted. Default 65464 (RFC 2348). Larger requests are lowered to it. */
  maxBlksize: number;
  /** Largest windowsize granted. Default 64. Larger requests are lowered to it. */
  maxWindowsize: number;
  /** Smallest/largest RFC 2349 timeout (seconds) accepted. Defaults 1 and 10 (MAX_TIMEOUT_S_DEFAULT); outside it
   *  the option is declined. */
  minTimeoutS: number;
  maxTimeoutS: number;
  /** Whether each option is offered at all. Defaults true. */
  blksize: boolean;
  tsize: boolean;
  timeout: boolean;
  windowsize: boolean;
}

export const defaultNegotiationLimits: NegotiationLimits = {
  maxBlksize: BLKSIZE_MAX,
  maxWindowsize: tftpLimits.maxWindowsize.default as number,
  minTimeoutS: tftpLimits.minTimeoutS.default,
  maxTimeoutS: MAX_TIMEOUT_S_DEFAULT,
  blksize: true,
  tsize: true,
  timeout: true,
  windowsize: true,
};

export interface TransferParams {
  blksize: number;
  windowsize: number;
  /** RFC 2349 retransmission timeout the client asked for, in seconds, or undefined for the server's default. */
  timeoutS: number | undefined;
}

export interface Negotiated {
  params: TransferParams;
  /** Options for the OACK, in the request's order; empty means "answer with DATA, no OACK" (RFC 2347 §2). */
  oack: TftpOption[];
}

/** Parses a decimal option value without sign, spaces or exponent. */
export function parseDecimal(name: string, value: string, min: number, max: number): number {
  if (!/^[0-9]{1,10}$/.test(value)) throw optionRefused(`option ${name} has a value that is not a decimal number: "${value.slice(0, 20)}"`);
  const n = Number(value);
  if (n < min || n > max) throw optionRefused(`option ${name}=${n} is outside ${min}..${max}`);
  return n;
}

/**
 * Server side of RFC 2347 for a read request. `fileSize` is the size that will be sent (after netascii
 * conversion), used for tsize (RFC 2349 §3.2). Our choices where the RFCs leave room:
 * - an option we do not know is ignored (RFC 2347 §2: "options not acknowledged by the server must be ignored");
 * - a value outside the RFC's own range (blksize < 8, timeout 0 or > 255, windowsize 0 or > 65535, not a decimal
 *   number) or an option named twice refuses the request with error 8, as tftp-hpa does: the client asked for
 *   something no server can give, and silently dropping it would hide the bug;
 * - blksize and windowsize above our limit are lowered to it (RFC 2348 §3 and RFC 7440 §3 allow a smaller
 *   reply); a timeout outside our accepted range (default 1–10 s) is left out of the OACK: RFC 2349 ("Timeout
 *   Interval Option") says "the specified timeout value must match the value specified by the client", so the
 *   server may not answer with a bounded value, only decline the option (the transfer then runs on the server's
 *   own timeout). The bound exists because a spoofed RRQ with timeout=255 held a slot for (retries + 1) × 255 s.
 */
export function negotiate(options: readonly TftpOption[], fileSize: number, limits: NegotiationLimits): Negotiated {
  const params: TransferParams = { blksize: BLKSIZE_DEFAULT, windowsize: 1, timeoutS: undefined };
  const oack: TftpOption[] = [];
  const seen = new Set<string>();
  for (const [name, value] of options) {
    if (seen.has(name)) throw optionRefused(`option ${name} appears twice`);
    seen.add(name);
    switch (name) {
      case 'blksize': {
        const n = parseDecimal(name, value, BLKSIZE_MIN, BLKSIZE_MAX);
        if (!limits.blksize) break;
        params.blksize = Math.min(n, limits.maxBlksize);
        oack.push([name, String(params.blksize)]);
        break;
      }
      case 'windowsize': {
        const n = parseDecimal(name, value, 1, WINDOWSIZE_MAX);
        if (!limits.windowsize) break;
        params.windowsize = Math.min(n, limits.maxWindowsize);
        oack.push([name, String(params.windowsize)]);
        break;
      }
      case 'timeout': {
        const n = parseDecimal(name, value, 1, TIMEOUT_MAX_S);
        if (!limits.timeout || n < limits.minTimeoutS || n > limits.maxTimeoutS) break;
        params.timeoutS = n;
        oack.push([name, String(n)]);
        break;
      }
      case 'tsize': {
        // RFC 2349 §3.2: in a RRQ the client sends 0 and the server answers with the size.
        parseDecimal(name, value, 0, Number.MAX_SAFE_INTEGER);
        // An empty file's size is left out: curl (7.88) takes "tsize 0" in an OACK for an invalid value and
        // aborts; without it the client simply learns no size, which RFC 2347 allows.
        if (!limits.tsize || fileSize === 0) break;
        oack.push([name, String(fileSize)]);
        break;
      }
      default:
        break; // RFC 2347 §2: unknown options are ignored.
    }
  }
  return { params, oack };
}

/** What a client asks for. Undefined means "do not send the option". */
export interface RequestedOptions {
  blksize?: number | undefined;
  windowsize?: number | undefined;
  timeoutS?: number | undefined;
  /** Ask for the size (RFC 2349 §3.2: tsize 0 in a RRQ). */
  tsize?: boolean | undefined;
}

export function requestOptions(req: RequestedOptions): TftpOption[] {
  const out: TftpOption[] = [];
  if (req.blksize !== undefined) out.push(['blksize', String(req.blksize)]);
  if (req.tsize) out.push(['tsize', '0']);
  if (req.timeoutS !== undefined) out.push(['timeout', String(req.timeoutS)]);
  if (req.windowsize !== undefined) out.push(['windowsize', String(req.windowsize)]);
  return out;
}

export interface AcceptedOack {
  params: TransferParams;
  tsize: number | undefined;
}

/**
 * Client side of RFC 2347 §2: the OACK may only hold options we asked for, blksize and windowsize no larger than
 * asked (RFC 2348 §3, RFC 7440 §3), timeout equal (RFC 2349 §2). Anything else → error 8 to the server.
 */
export function acceptOack(requested: RequestedOptions, oack: readonly TftpOption[]): AcceptedOack {
  const params: TransferParams = { blksize: BLKSIZE_DEFAULT, windowsize: 1, timeoutS: undefined };
  let tsize: number | undefined;
  const seen = new Set<string>();
  for (const [name, value] of oack) {
    if (seen.has(name)) throw optionRefused(`OACK names option ${name} twice`);
    seen.add(name);
    switch (name) {
      case 'blksize':
        if (requested.blksize === undefined) throw optionRefused('OACK grants blksize, which was not requested');
        params.blksize = parseDecimal(name, value, BLKSIZE_MIN, requested.blksize);
        break;
      case 'windowsize':
        if (requested.windowsize === undefined) throw optionRefused('OACK grants windowsize, which was not requested');
        params.windowsize = parseDecimal(name, value, 1, requested.windowsize);
        break;
      case 'timeout':
        if (requested.timeoutS === undefined) throw optionRefused('OACK grants timeout, which was not requested');
        params.timeoutS = parseDecimal(name, value, requested.timeoutS, requested.timeoutS);
        break;
      case 'tsize':
        if (!requested.tsize) throw optionRefused('OACK grants tsize, which was not requested');
        tsize = parseDecimal(name, value, 0, Number.MAX_SAFE_INTEGER);
        break;
      default:
        throw optionRefused(`OACK names option ${name.slice(0, 20)}, which was not requested`);
    }
  }
  return { params, tsize };
}
