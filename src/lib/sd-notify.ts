/**
 * What an sbd daemon tells systemd (Type=notify units in rootfs/usr/lib/systemd/system): READY=1 once it serves,
 * STATUS= lines, WATCHDOG=1 pings and STOPPING=1 on shutdown. See sd_notify(3) and systemd.service(5) WatchdogSec=.
 *
 * A daemon makes one call once its sockets are bound:
 *     const systemd = notifyReady(`serving TFTP on ${address}:${port}`);
 * and, when it shuts down:  systemd.stopping();
 * Outside systemd (NOTIFY_SOCKET unset: tests, host mode) every call is a no-op.
 */
import { sdNotify } from '../../native/sd-notify.js';

export interface SystemdNotifier {
  /** STATUS=…: one line shown by `systemctl status`. */
  status(text: string): void;
  /** STOPPING=1 and the watchdog timer stops. */
  stopping(): void;
  /** The watchdog ping period in ms (0 when systemd asked for none). */
  readonly watchdogIntervalMs: number;
}

export interface NotifyOptions {
  /** Environment to read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** The sender. Default: libsystemd's sd_notify through koffi. */
  notify?: (state: string) => number;
}

/**
 * The watchdog interval systemd asks of this process: half of WATCHDOG_USEC (sd_watchdog_enabled(3) advises
 * pinging at less than the full period), 0 when WATCHDOG_USEC is unset or invalid, or WATCHDOG_PID names
 * another process.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return 0;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return 0;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Tells systemd the daemon is ready (READY=1 with a STATUS line) and starts the watchdog pings it asked for. */
export function notifyReady(statusText: string, options: NotifyOptions = {}): SystemdNotifier {
  const env = options.env ?? process.env;
  const notify = options.notify ?? sdNotify;
  const interval = env.NOTIFY_SOCKET ? watchdogIntervalMs(env) : 0;
  notify(`READY=1\nSTATUS=${oneLine(statusText)}\nMAINPID=${process.pid}`);
  // The ping runs on the event loop on purpose: a daemon whose loop is stuck stops pinging and systemd restarts it.
  const timer = interval > 0 ? setInterval(() => notify('WATCHDOG=1'), interval) : undefined;
  timer?.unref();
  return {
    watchdogIntervalMs: interval,
    status: (text) => void notify(`STATUS=${oneLine(text)}`),
    stopping: () => {
      if (timer) clearInterval(timer);
      notify('STOPPING=1');
    },
  };
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
