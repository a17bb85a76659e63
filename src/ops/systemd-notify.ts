/**
 * The sd_notify protocol (sd_notify(3)), without libsystemd: newline-separated `KEY=VALUE` lines in one
 * datagram to the AF_UNIX socket named by `NOTIFY_SOCKET`. Node's dgram has no unix sockets, so the
 * datagram goes through `unix-dgram` (a small native addon that builds without systemd headers). It is
 * loaded only when `NOTIFY_SOCKET` is set, so a machine where it failed to build still runs the broker.
 *
 * Without `NOTIFY_SOCKET` (not under systemd, or `Type=simple`) every call is a no-op.
 *
 * Abstract sockets (`@name`) are addressed as `\0name` as the protocol says. CAVEAT: unix-dgram 2.0.7
 * copies the path with strncpy and passes sizeof(sockaddr_un) as the address length, so it cannot reach
 * an abstract socket (the kernel sees a different, NUL-padded name and answers ECONNREFUSED). That send
 * failure is logged once, with that explanation. systemd's own socket, /run/systemd/notify, is a path.
 *
 * The watchdog (`startWatchdog`) sends `WATCHDOG=1` every `WATCHDOG_USEC / 2`, but only while the
 * caller's `isHealthy()` says so: a broker whose loop is stalled sends nothing because its timers do not
 * run, and one whose commits or forwarder are stuck withholds the ping on purpose, so systemd kills and
 * restarts it after `WatchdogSec`.
 *
 * A failure to send never throws and never crashes the process: it is logged once per run of failures.
 */
import { createRequire } from 'node:module';
import { errorMessage } from '../errors.js';
import type { Logger } from './logger.js';

export interface SystemdNotifierOptions {
  logger: Logger;
  /** Default `process.env`; tests pass their own. */
  env?: NodeJS.ProcessEnv;
  /** Default `process.pid`: compared with `WATCHDOG_PID`. */
  pid?: number;
}

export interface WatchdogOptions {
  /** Called before every ping; false (or a throw) withholds it. */
  isHealthy: () => boolean;
}

export interface WatchdogHandle {
  /** How often a ping is due: WATCHDOG_USEC / 2, in ms. */
  readonly intervalMs: number;
  stop(): void;
}

export interface SystemdNotifier {
  /** NOTIFY_SOCKET is set: messages are being sent. */
  readonly enabled: boolean;
  /** `READY=1`: listeners bound, log open. */
  ready(): void;
  /** `STATUS=line`, shown by `systemctl status`; newlines are flattened. */
  status(line: string): void;
  /** `STOPPING=1`: shutdown has begun. */
  stopping(): void;
  /** One `WATCHDOG=1`, unconditionally. */
  watchdog(): void;
  /** Raw assignments, e.g. `notify('RELOADING=1')`. */
  notify(state: string): void;
  /** null when systemd asked for no watchdog (or asked another process). */
  startWatchdog(options: WatchdogOptions): WatchdogHandle | null;
  /** Stops any watchdog; later calls are no-ops. */
  close(): void;
}

/** systemd caps nothing useful here, but a status line is for a terminal: keep it one short line. */
const STATUS_CHARS_MAX = 200;

export function createSystemdNotifier(options: SystemdNotifierOptions): SystemdNotifier {
  return new DatagramNotifier(options);
}

/** NOTIFY_SOCKET → the address to send to: `@name` is the abstract socket `\0name`. */
export function notifySocketAddress(value: string): string {
  return value.startsWith('@') ? `\0${value.slice(1)}` : value;
}

/**
 * The watchdog ping interval systemd asked for, in ms, or null for none: WATCHDOG_USEC unset, not a
 * positive integer, or WATCHDOG_PID naming another process (the variables were inherited).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  const watchdogPid = env['WATCHDOG_PID'];
  if (watchdogPid !== undefined && watchdogPid !== '' && Number(watchdogPid) !== pid) return null;
  // sd_watchdog_enabled(3): "send ... before half of this time has elapsed"
  return Math.max(1, Math.floor(usec / 2 / 1000));
}

/** The slice of unix-dgram's API used here (it ships no types). */
interface UnixDgramSocket {
  on(event: 'error', listener: (err: Error) => void): void;
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
}

interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

function loadUnixDgram(): UnixDgramModule {
  const require = createRequire(import.meta.url);
  return require('unix-dgram') as UnixDgramModule;
}

class DatagramNotifier implements SystemdNotifier {
  readonly enabled: boolean;
  private readonly address: string | null;
  private closed = false;
  private sendFailing = false;
  private readonly watchdogs = new Set<WatchdogHandle>();

  constructor(private readonly options: SystemdNotifierOptions) {
    const raw = (options.env ?? process.env)['NOTIFY_SOCKET'];
    this.address = raw === undefined || raw === '' ? null : notifySocketAddress(raw);
    this.enabled = this.address !== null;
  }

  ready(): void {
    this.notify('READY=1');
  }

  status(line: string): void {
    this.notify(`STATUS=${line.replace(/[\r\n]+/g, ' ').slice(0, STATUS_CHARS_MAX)}`);
  }

  stopping(): void {
    this.notify('STOPPING=1');
  }

  watchdog(): void {
    this.notify('WATCHDOG=1');
  }

  notify(state: string): void {
    if (this.address === null || this.closed) return;
    const socket = this.openSocket();
    if (socket === null) return;
    const message = Buffer.from(state, 'utf8');
    try {
      // unix-dgram calls back synchronously, so closing right after is safe.
      socket.send(message, 0, message.length, this.address, (err) => this.noteSend(err));
    } catch (err) {
      this.noteSend(err instanceof Error ? err : new Error(String(err)));
    } finally {
      closeQuietly(socket);
    }
  }

  startWatchdog(watchdog: WatchdogOptions): WatchdogHandle | null {
    if (!this.enabled || this.closed) return null;
    const intervalMs = watchdogIntervalMs(this.options.env ?? process.env, this.options.pid ?? process.pid);
    if (intervalMs === null) return null;
    const pinger = new WatchdogPinger(intervalMs, watchdog.isHealthy, () => this.watchdog(), this.options.logger);
    const handle: WatchdogHandle = {
      intervalMs,
      stop: () => {
        pinger.stop();
        this.watchdogs.delete(handle);
      },
    };
    this.watchdogs.add(handle);
    pinger.start();
    return handle;
  }

  close(): void {
    for (const handle of [...this.watchdogs]) handle.stop();
    this.closed = true;
  }

  /**
   * A fresh socket per message, as libsystemd's sd_notify does: messages are rare (a ping every
   * WATCHDOG_USEC/2, a status line now and then), and an open unix-dgram socket is a ref'd libuv handle
   * that would keep a finished process alive.
   */
  private openSocket(): UnixDgramSocket | null {
    try {
      const socket = loadUnixDgram().createSocket('unix_dgram');
      // Only sends without a callback emit 'error'; this listener keeps a stray one from crashing us.
      socket.on('error', (err) => this.noteSend(err));
      return socket;
    } catch (err) {
      this.options.logger.error({ err }, 'cannot open a unix datagram socket; systemd notifications disabled');
      this.closed = true;
      return null;
    }
  }

  private noteSend(err: Error | undefined): void {
    if (err === undefined) {
      this.sendFailing = false;
      return;
    }
    if (this.sendFailing) return;
    this.sendFailing = true;
    const abstract = this.address?.startsWith('\0') === true;
    const hint = abstract ? ' (unix-dgram cannot address abstract sockets; see systemd-notify.ts)' : '';
    this.options.logger.warn(
      { err: errorMessage(err), notifySocket: this.address?.replace('\0', '@') },
      `sd_notify send failed${hint}; will log again only after a success`,
    );
  }
}

function closeQuietly(socket: UnixDgramSocket): void {
  try {
    socket.close();
  } catch {
    // Nothing was kept open that a failed close could leak beyond this one descriptor.
  }
}

/** Pings on an unref'd interval while `isHealthy()`; logs when it starts and stops withholding. */
class WatchdogPinger {
  private timer: NodeJS.Timeout | null = null;
  private withholding = false;
  private healthError: unknown = undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly isHealthy: () => boolean,
    private readonly ping: () => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    // The watchdog must never be what keeps a process alive that is otherwise done.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const healthy = this.checkHealthy();
    if (healthy) this.ping();
    if (healthy === !this.withholding) return;
    this.withholding = !healthy;
    if (healthy) this.logger.info('healthy again; resuming systemd watchdog pings');
    else this.logger.warn({ intervalMs: this.intervalMs, err: this.healthError }, 'unhealthy; withholding systemd watchdog pings');
  }

  /** A health check that throws counts as unhealthy; its error goes into the one "withholding" line. */
  private checkHealthy(): boolean {
    try {
      this.healthError = undefined;
      return this.isHealthy();
    } catch (err) {
      this.healthError = err;
      return false;
    }
  }
}
