/**
 * What sbd-tftpd's two servers share: TftpServer (server.ts, the TypeScript reference over ./core) and
 * NativeTftpServer (native-server.ts, the C data plane). The daemon and the socket-level tests take either.
 */
import type { ResolvedTftpServerOptions, TftpServerCounters } from './server.js';

export interface TftpServerLike {
  readonly options: ResolvedTftpServerOptions;
  readonly counters: TftpServerCounters;
  /** Transfers running now (a pending open counts). */
  readonly activeTransfers: number;
  /** Transfer sockets open, and of those the ones free for reuse. */
  readonly transferSockets: number;
  readonly idleSockets: number;
  /** The first request socket's port. */
  readonly port: number;
  listen(): Promise<void>;
  addresses(): { address: string; port: number; family: string }[];
  /** Brings `counters` up to date (the native engine's live in C until asked). */
  sync(): Promise<void>;
  close(): Promise<void>;
}
