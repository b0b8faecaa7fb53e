/** What transports hand to the layer above, and how it answers. */
import type { SipMessage } from '../core/messages/message.js';

export type TransportKind = 'udp' | 'tcp' | 'tls';

export interface MessageSource {
  transport: TransportKind;
  address: string;
  port: number;
  /** Set for TCP/TLS: the connection the message arrived on (responses reuse it, §18.2.2). */
  connectionId?: number;
  /** Subject of the client certificate for mutual TLS, when one was presented and verified. */
  peerCertificate?: { subject: string; fingerprint256: string; issuer: string };
}

export interface InboundMessage {
  message: SipMessage;
  source: MessageSource;
}

export type MessageHandler = (inbound: InboundMessage) => void;

/** Counters a daemon can log or export; transports never log by themselves. */
export interface TransportStats {
  received: number;
  parseErrors: number;
  sent: number;
  connections: number;
  rejectedConnections: number;
  /** Connections we opened (requests to trunks over TCP/TLS). */
  outboundConnections: number;
  /** Outbound connections that failed: refused, timed out, certificate not trusted. */
  connectFailures: number;
  /** Connections closed because a message did not complete within messageTimeout. */
  messageTimeouts: number;
}

export function emptyStats(): TransportStats {
  return {
    received: 0,
    parseErrors: 0,
    sent: 0,
    connections: 0,
    rejectedConnections: 0,
    outboundConnections: 0,
    connectFailures: 0,
    messageTimeouts: 0,
  };
}
