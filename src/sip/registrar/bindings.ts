/**
 * The location service (RFC 3261 §10.3): address-of-record → contact bindings, each with its expiry, the
 * Call-ID/CSeq that last wrote it (§10.3 step 7: a lower CSeq on the same Call-ID is out of order), and the
 * flow it arrived on (transport, source address/port, connection), because a phone behind NAT or on TLS is
 * reached over the connection it registered on (the idea of RFC 5626 outbound, keyed by the source).
 *
 * Kept in memory: see docs/sip-app.md "Registrations" for why (a TLS flow dies with the process; every store
 * write bumps the generation TFTP polls). Bounded: bindings per AOR and AORs in total are options.
 */
import type { MessageSource } from '../transports/types.js';

export interface Binding {
  /** The Contact URI as the phone wrote it (what goes into the Request-URI of requests to it). */
  contact: string;
  /** q-value ×1000 (0..1000), default 1000. */
  q: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  callId: string;
  cseq: number;
  source: MessageSource;
  /** The device this binding belongs to, when the AOR is a device's directory number. */
  device?: string;
  /** +sip.instance, if the phone sent one (RFC 5626 §4.1). */
  instance?: string;
}

export interface BindingTableOptions {
  /** Contacts one AOR may hold; default 10. More → 403 in the registrar. */
  maxBindingsPerAor?: number;
  /** Distinct AORs registered at once; default 200000. */
  maxAors?: number;
}

export const bindingDefaults = { maxBindingsPerAor: 10, maxAors: 200_000 } as const;

export class BindingTable {
  private readonly aors = new Map<string, Binding[]>();
  /** Contact URI (as stored) → AOR, for in-dialog requests whose Request-URI is a phone's Contact. */
  private readonly byContact = new Map<string, string>();
  readonly maxBindingsPerAor: number;
  readonly maxAors: number;

  constructor(o: BindingTableOptions = {}) {
    this.maxBindingsPerAor = o.maxBindingsPerAor ?? bindingDefaults.maxBindingsPerAor;
    this.maxAors = o.maxAors ?? bindingDefaults.maxAors;
  }

  get size(): number {
    return this.aors.size;
  }

  /** Live bindings, highest q first, newest first among equals. */
  lookup(aor: string, now: number): Binding[] {
    const list = this.aors.get(aor);
    if (!list) return [];
    const live = list.filter((b) => b.expiresAt > now);
    if (live.length !== list.length) this.store(aor, live);
    return live.sort((a, b) => b.q - a.q || b.expiresAt - a.expiresAt);
  }

  /** Replaces the AOR's bindings (an empty list removes the AOR). */
  store(aor: string, list: Binding[]): void {
    for (const b of this.aors.get(aor) ?? []) if (this.byContact.get(b.contact) === aor) this.byContact.delete(b.contact);
    if (list.length === 0) this.aors.delete(aor);
    else this.aors.set(aor, list);
    for (const b of list) this.byContact.set(b.contact, aor);
  }

  /** The live binding whose Contact is this URI, if any. */
  findByContact(contact: string, now: number): Binding | undefined {
    const aor = this.byContact.get(contact);
    if (aor === undefined) return undefined;
    return this.lookup(aor, now).find((b) => b.contact === contact);
  }

  hasRoomFor(aor: string): boolean {
    return this.aors.has(aor) || this.aors.size < this.maxAors;
  }

  /** Drops expired bindings; returns the AORs that lost their last binding with the device they belonged to. */
  sweep(now: number): Array<{ aor: string; device?: string }> {
    const emptied: Array<{ aor: string; device?: string }> = [];
    for (const [aor, list] of this.aors) {
      const live = list.filter((b) => b.expiresAt > now);
      if (live.length === list.length) continue;
      if (live.length === 0) emptied.push({ aor, ...(list[0]!.device ? { device: list[0]!.device } : {}) });
      this.store(aor, live);
    }
    return emptied;
  }

  *entries(): IterableIterator<[string, Binding[]]> {
    yield* this.aors.entries();
  }
}
