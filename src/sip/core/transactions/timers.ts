/**
 * Transaction timers (RFC 3261 §17.1.1.1, Table 4 in §A; RFC 6026 §8.11 for L and M). Every duration derives
 * from T1, T2 and T4, each a named option with the RFC's default; Timer D and the 100 Trying delay are options
 * of their own because the RFC gives them as fixed values rather than multiples.
 *
 * Reliable transports (TCP, TLS, SCTP, WS) never retransmit inside a transaction: Timers A, E and G are not
 * started, and D, I, J and K are zero, i.e. the transaction ends at once (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
 */

export interface TimerOptions {
  /** RTT estimate, ms; default 500 (§17.1.1.1). Retransmissions start at T1; timeouts are 64·T1. */
  t1?: number;
  /** Longest retransmit interval for non-INVITE requests and INVITE responses, ms; default 4000. */
  t2?: number;
  /** Longest time a message stays in the network, ms; default 5000 (Timers I and K). */
  t4?: number;
  /** Timer D, wait for response retransmissions on an unreliable transport, ms; default 32000 (§17.1.1.2: > 32 s). */
  timerD?: number;
  /** Delay before an INVITE server transaction sends 100 Trying itself, ms; default 200 (§17.2.1). 0: at once. */
  tryingDelay?: number;
  /** RFC 6026 Accepted states (Timers L and M) for 2xx to INVITE; default true. False: RFC 3261 as first written. */
  acceptedState?: boolean;
}

export const timerDefaults = { t1: 500, t2: 4000, t4: 5000, timerD: 32000, tryingDelay: 200, acceptedState: true } as const;

export type ResolvedTimers = Required<TimerOptions>;

export function resolveTimers(o: TimerOptions = {}): ResolvedTimers {
  const r = { ...timerDefaults, ...o };
  for (const k of ['t1', 't2', 't4', 'timerD', 'tryingDelay'] as const) {
    if (!Number.isFinite(r[k]) || r[k] < 0) throw new RangeError(`timer option ${k} must be a non-negative number of ms`);
  }
  if (r.t1 === 0) throw new RangeError('timer option t1 must be positive');
  return r;
}

/**
 * Timer names as the RFC spells them; `Trying` is the §17.2.1 200 ms wait before an automatic 100 Trying.
 * A: INVITE retransmit · B: INVITE timeout · D: wait for response retransmits · E: non-INVITE retransmit ·
 * F: non-INVITE timeout · G: INVITE final-response retransmit · H: wait for ACK · I: wait for ACK retransmits ·
 * J: wait for non-INVITE request retransmits · K: wait for non-INVITE response retransmits ·
 * L: wait for INVITE retransmits after a 2xx (RFC 6026) · M: wait for 2xx retransmits (RFC 6026).
 */
export const timerNames = ['A', 'B', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'Trying'] as const;
export type TimerName = (typeof timerNames)[number];

/** Transports with their own retransmission (§18): everything but UDP (and DTLS-less datagram kinds). */
export function isReliableTransport(transport: string): boolean {
  const t = transport.toUpperCase();
  return t !== 'UDP' && t !== 'DTLS-UDP';
}
