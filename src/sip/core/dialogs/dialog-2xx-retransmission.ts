/**
 * The UAS core's 2xx retransmission for INVITE (RFC 3261 §13.3.1.4). The ACK for a 2xx is end to end and
 * outside the INVITE transaction, so the UAS core itself resends the 2xx (T1, doubling to T2) until the ACK
 * with the INVITE's CSeq comes, and gives up at 64·T1 (the TU then ends the session with BYE). Under RFC 6026
 * the resends go through the INVITE server transaction in its Accepted state. Sans-I/O.
 * State table: docs/sip-transactions.md "Theory of operation".
 */

export type Uas2xxAction =
  | { type: 'arm'; at: number }
  | { type: 'cancel' }
  | { type: 'retransmit'; count: number }
  /** No ACK for 64·T1: §13.3.1.4 says the dialog is confirmed but the session SHOULD end (send BYE). */
  | { type: 'ack-timeout' };

export interface Uas2xxOptions {
  /** Default 500 ms (§17.1.1.1). */
  t1?: number;
  /** Default 4000 ms. */
  t2?: number;
}

export class Uas2xxRetransmission {
  state: 'new' | 'waiting' | 'acked' | 'gave-up' = 'new';
  readonly inviteSeq: number;
  retransmissions = 0;
  private readonly t1: number;
  private readonly t2: number;
  private interval: number;
  private deadline = 0;
  private due = 0;

  constructor(inviteSeq: number, o: Uas2xxOptions = {}) {
    this.inviteSeq = inviteSeq;
    this.t1 = o.t1 ?? 500;
    this.t2 = o.t2 ?? 4000;
    this.interval = this.t1;
  }

  start(now: number): Uas2xxAction[] {
    if (this.state !== 'new') return [];
    this.state = 'waiting';
    this.deadline = now + 64 * this.t1;
    return [this.arm(now + this.interval)];
  }

  /** The timer armed last has fired; early or late events after the end are ignored. */
  fire(now: number): Uas2xxAction[] {
    if (this.state !== 'waiting' || now < this.due) return [];
    if (now >= this.deadline) {
      this.state = 'gave-up';
      return [{ type: 'ack-timeout' }];
    }
    this.retransmissions++;
    this.interval = Math.min(2 * this.interval, this.t2);
    return [{ type: 'retransmit', count: this.retransmissions }, this.arm(Math.min(now + this.interval, this.deadline))];
  }

  /** An ACK arrived in the dialog; only the one with the INVITE's CSeq number stops the resends (§13.3.1.4). */
  ack(seq: number): Uas2xxAction[] {
    if (this.state !== 'waiting' || seq !== this.inviteSeq) return [];
    this.state = 'acked';
    return [{ type: 'cancel' }];
  }

  private arm(at: number): Uas2xxAction {
    this.due = at;
    return { type: 'arm', at };
  }
}
