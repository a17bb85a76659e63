/**
 * Event loop responsiveness, as a number health checks and the watchdog can read.
 *
 * A timer-drift check: a tick every `tickMs` notes how late it ran. `lagMs()` is the worst lateness in the
 * current and the previous window (so one read right after a window turns over still sees a recent stall),
 * or the time since the last tick if that is worse: a caller reading from a timer that fired right after
 * a long stall sees the stall even before this monitor's own tick has run.
 *
 * Not `perf_hooks.monitorEventLoopDelay`: its `reset()` drops the interval in progress, so a stall that
 * starts right after a window turns over is never recorded (seen on Node 20), and it cannot report a stall
 * still in progress.
 */

export interface EventLoopMonitor {
  /** Worst event loop delay seen recently, in ms beyond the tick interval. */
  lagMs(): number;
  close(): void;
}

export interface EventLoopMonitorOptions {
  /** Default 100 ms: fine enough to see a stall that delays acks, cheap enough on a Pi. */
  tickMs?: number;
  /** How long a stall keeps counting; default 10 s. */
  windowMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export function createEventLoopMonitor(options: EventLoopMonitorOptions = {}): EventLoopMonitor {
  const tickMs = options.tickMs ?? 100;
  const windowMs = options.windowMs ?? 10_000;
  const now = options.now ?? (() => performance.now());
  let lastTickAt = now();
  let windowStartedAt = lastTickAt;
  let currentMaxMs = 0;
  let previousMaxMs = 0;

  const timer = setInterval(() => {
    const at = now();
    currentMaxMs = Math.max(currentMaxMs, at - lastTickAt - tickMs);
    lastTickAt = at;
    if (at - windowStartedAt >= windowMs) {
      previousMaxMs = currentMaxMs;
      currentMaxMs = 0;
      windowStartedAt = at;
    }
  }, tickMs);
  // Measuring must never be what keeps the process alive.
  timer.unref();

  return {
    lagMs: () => Math.max(0, currentMaxMs, previousMaxMs, now() - lastTickAt - tickMs),
    close: () => clearInterval(timer),
  };
}
