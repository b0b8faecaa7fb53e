/**
 * What a transfer core asks its I/O shell to do. Cores never touch sockets or timers: they return these.
 */
export type TransferAction =
  /** Send bytes to the transfer's peer (or, when `port` is set, to that port on the peer's address). */
  | { type: 'send'; bytes: Buffer; port?: number }
  /** (Re)arm the transfer's single timer to fire at this absolute time (ms, the clock the caller passes in). */
  | { type: 'timer'; at: number }
  /** The transfer is over; the shell stops its timer and releases it. `expired`: its lifetime ran out. */
  | { type: 'done'; ok: boolean; reason: string; tftpCode?: number; expired?: boolean };
