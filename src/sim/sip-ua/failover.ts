/**
 * A phone's registration across its call-manager group (the config's `<callManagerGroup><members>`, spec §3.1):
 * it registers with the first member that answers, primary first. When its current member stops answering — the
 * TCP/TLS flow closes, or a refresh REGISTER gets no final response (a UDP server that went silent) — it registers
 * with the next member that answers, as a Cisco phone fails over to its secondary; a later failure starts again at
 * the primary (fall-back). Its trust lists are untouched: fail-over changes where it registers, nothing else.
 */
import { systemResolver, type HostResolver } from '../name-resolution.js';
import type { CallManagerEndpoint, EndpointRedirect } from '../phone-config.js';
import { SipUaError, SipUaErrorCode } from './errors.js';
import type { FlowTransport, SipFlowOptions } from './sip-flow.js';
import type { SipResponse } from '../../sip/core/messages/message.js';
import { SipPhone, type SipPhoneOptions } from './user-agent.js';

export interface FailoverOptions {
  /** The group's members in priority order (`phoneConfigServices(config).callManagers`). */
  members: readonly CallManagerEndpoint[];
  /** Default 'tls' (securedSipPort); 'tcp' and 'udp' use sipPort. */
  transport?: FlowTransport;
  /** The phone's options apart from its flow (line, credentials, trust-list report, ...). */
  phone: Omit<SipPhoneOptions, 'flow' | 'onFlowLost'>;
  /** TLS settings of every flow (the CAs the phone trusts, its LSC). */
  tls?: Pick<SipFlowOptions, 'ca' | 'cert' | 'key'>;
  /** Where a member really listens (tests bind port 0). Default: as configured. */
  redirect?: EndpointRedirect;
  /** How a member named by host name is resolved. Default: the system's resolver (name-resolution.ts). */
  resolver?: HostResolver;
  /** Refresh REGISTER interval: how soon a silent member is noticed. Default 30000 ms; 0 for none. */
  keepaliveMs?: number;
  /** A REGISTER (or connect) without an answer this long counts as the member being down. Default 5000 ms. */
  registerTimeoutMs?: number;
  /** Registration expiry asked for. Default 600 s. */
  expires?: number;
  /** Told after each move to another member (`from` undefined for the first registration). */
  onRegistered?: (member: CallManagerEndpoint, from: CallManagerEndpoint | undefined, why: string) => void;
}

const DEFAULTS = { keepaliveMs: 30_000, registerTimeoutMs: 5_000, expires: 600 } as const;

export class FailoverRegistration {
  readonly o: FailoverOptions;
  /** The phone registered now, and the member it is registered with. */
  phone: SipPhone | undefined;
  member: CallManagerEndpoint | undefined;
  /** The final response of the last successful REGISTER with the current member. */
  registered: SipResponse | undefined;
  /** Moves after the first registration, and each member's failure text, for reports and tests. */
  readonly stats = { failovers: 0, failures: [] as string[] };
  #timer: NodeJS.Timeout | undefined;
  #moving: Promise<void> | undefined;
  #closed = false;

  constructor(o: FailoverOptions) {
    if (o.members.length === 0) throw new SipUaError(SipUaErrorCode.transport, "the phone's config names no call manager");
    this.o = o;
  }

  /** Registers with the first member that answers; rejects when none does. */
  async start(): Promise<CallManagerEndpoint> {
    await this.#moveOn(undefined, 'start');
    return this.member!;
  }

  /** Resolves once the phone is registered again after a fail-over in progress (at once when none is). */
  async settled(): Promise<void> {
    while (this.#moving) await this.#moving;
  }

  #moveOn(failed: CallManagerEndpoint | undefined, why: string): Promise<void> {
    if (this.#moving) return this.#moving;
    this.#moving = this.#register(failed, why).finally(() => {
      this.#moving = undefined;
    });
    return this.#moving;
  }

  async #register(failed: CallManagerEndpoint | undefined, why: string): Promise<void> {
    this.#stopTimer();
    const from = this.member;
    this.phone?.close();
    this.phone = undefined;
    this.member = undefined;
    const tried: string[] = [];
    for (const member of this.o.members) {
      if (this.#closed) return;
      if (member === failed) continue;
      try {
        const phone = await this.#connect(member);
        if (this.#closed) {
          phone.close(); // closed while this member was answering
          return;
        }
        this.phone = phone;
        this.member = member;
        if (from !== undefined || failed !== undefined) this.stats.failovers++;
        this.o.onRegistered?.(member, from, why);
        this.#arm();
        return;
      } catch (err) {
        tried.push(`${member.host}: ${(err as Error).message}`);
      }
    }
    this.stats.failures.push(...tried);
    throw new SipUaError(SipUaErrorCode.transport, `no call manager of the group answered (${tried.join('; ') || 'none left to try'})`);
  }

  async #connect(member: CallManagerEndpoint): Promise<SipPhone> {
    const transport = this.o.transport ?? 'tls';
    const configured = {
      host: await (this.o.resolver ?? systemResolver)(member.host),
      port: transport === 'tls' ? member.securedSipPort : member.sipPort,
    };
    const where = this.o.redirect?.('sip', configured) ?? configured;
    const timeoutMs = this.o.registerTimeoutMs ?? DEFAULTS.registerTimeoutMs;
    const phone = await SipPhone.connect({
      ...this.o.phone,
      domain: this.o.phone.domain ?? configured.host,
      requestTimeoutMs: timeoutMs,
      flow: { transport, host: where.host, port: where.port, connectTimeoutMs: timeoutMs, ...this.o.tls },
      onFlowLost: (err) => this.#lost(member, `the flow to ${member.host} closed${err ? `: ${err.message}` : ''}`),
    });
    try {
      this.registered = await phone.register(this.o.expires ?? DEFAULTS.expires);
    } catch (err) {
      phone.close();
      throw err;
    }
    return phone;
  }

  #lost(member: CallManagerEndpoint, why: string): void {
    if (this.#closed || this.member !== member) return;
    this.#moveOn(member, why).catch(() => {
      // Nobody answered: try again at the next refresh tick, as a phone keeps trying its list.
      this.#arm();
    });
  }

  #arm(): void {
    const every = this.o.keepaliveMs ?? DEFAULTS.keepaliveMs;
    if (every <= 0 || this.#closed) return;
    this.#stopTimer();
    this.#timer = setTimeout(() => void this.#refresh(), every);
    this.#timer.unref();
  }

  async #refresh(): Promise<void> {
    const { phone, member } = this;
    if (this.#closed) return;
    if (!phone || !member) {
      await this.#moveOn(undefined, 'retry').catch(() => this.#arm());
      return;
    }
    try {
      this.registered = await phone.register(this.o.expires ?? DEFAULTS.expires);
      this.#arm();
    } catch (err) {
      if (err instanceof SipUaError && (err.code === SipUaErrorCode.timeout || err.code === SipUaErrorCode.transport))
        this.#lost(member, `REGISTER to ${member.host} failed: ${err.message}`);
      else this.#arm();
    }
  }

  #stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    this.#closed = true;
    this.#stopTimer();
    this.phone?.close();
    this.phone = undefined;
  }
}
