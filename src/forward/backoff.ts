/**
 * Retry timing for the forwarder: exponential backoff with full jitter, and a sleep that a close() can cut
 * short.
 *
 * Full jitter (a uniformly random delay up to the exponential ceiling, AWS architecture blog "Exponential
 * Backoff And Jitter") rather than a fixed exponential: many gateways that lost the same central cluster at
 * the same moment must not all come back at the same moment.
 */

export interface BackoffLimits {
  /** The shortest delay and the base of the exponent. */
  minMs: number;
  /** The cap: no delay is longer, however many attempts failed. */
  maxMs: number;
}

/** Exponent past which the ceiling is at the cap for any sane min/max; keeps 2 ** n finite. */
const attemptExponentMax = 30;

/**
 * Delay before retry number `attempt` (1 = the first retry): uniform in [minMs, min(maxMs, minMs × 2^(attempt-1))].
 * `random` is injectable so tests can pin the jitter.
 */
export function backoffDelayMs(attempt: number, limits: BackoffLimits, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), attemptExponentMax);
  const ceilingMs = Math.min(limits.maxMs, limits.minMs * 2 ** exponent);
  return Math.round(limits.minMs + random() * Math.max(0, ceilingMs - limits.minMs));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects: the caller checks the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
