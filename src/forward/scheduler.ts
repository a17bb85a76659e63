/**
 * Who may send next: a bounded number of sends in flight, granted highest `priority` first, within a
 * byte-rate token bucket when `rateLimitBytesPerSec` is set.
 *
 * This is where stream priority takes effect. While a backlog drains, every partition loop of every stream
 * has a batch ready; slots (and, on a metered link, bytes) go to the higher-priority streams first, so
 * alarms get upstream before bulk telemetry. Within one priority, first come, first served.
 *
 * The bucket may go into debt by one batch: a batch larger than the bucket must still be sendable, and it
 * then holds the next grant back until the debt is paid off, which keeps the long-run rate exact.
 *
 * Concurrency: single event loop; every successful `acquire` must be followed by one `release`.
 */
import { sleep } from './backoff.js';

export interface SchedulerOptions {
  sendsInFlightMax: number;
  /** 0 = no rate limit. */
  rateLimitBytesPerSec: number;
  now?: () => number;
}

interface Waiter {
  priority: number;
  seq: number;
  bytes: number;
  grant(granted: boolean): void;
}

/** Tokens the bucket holds at most: one second of the rate, so an idle link cannot save up a burst. */
const bucketSeconds = 1;

export class SendScheduler {
  #inFlight = 0;
  #seq = 0;
  #waiters: Waiter[] = [];
  #tokens: number;
  #refilledAt: number;
  #timerArmed = false;
  readonly #now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    if (!(Number.isInteger(options.sendsInFlightMax) && options.sendsInFlightMax >= 1)) {
      throw new RangeError(`sendsInFlightMax must be a positive integer, not ${options.sendsInFlightMax}`);
    }
    this.#now = options.now ?? Date.now;
    this.#tokens = options.rateLimitBytesPerSec * bucketSeconds;
    this.#refilledAt = this.#now();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves true once the caller may send `bytes`; false when `signal` aborted first. */
  acquire(priority: number, bytes: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        priority,
        seq: this.#seq++,
        bytes,
        grant: (granted) => {
          signal.removeEventListener('abort', onAbort);
          resolve(granted);
        },
      };
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.grant(false);
        this.#dispatch();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#dispatch();
    });
  }

  release(): void {
    if (this.#inFlight <= 0) throw new Error('SendScheduler.release without a matching acquire');
    this.#inFlight--;
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#inFlight < this.options.sendsInFlightMax && this.#waiters.length > 0) {
      const next = this.#highest();
      if (!this.#takeTokens(next.bytes)) return;
      this.#waiters = this.#waiters.filter((w) => w !== next);
      this.#inFlight++;
      next.grant(true);
    }
  }

  #highest(): Waiter {
    let best = this.#waiters[0] as Waiter;
    for (const w of this.#waiters) {
      if (w.priority > best.priority || (w.priority === best.priority && w.seq < best.seq)) best = w;
    }
    return best;
  }

  /** Takes `bytes` tokens unless the bucket is in debt; then arms one timer for when it is paid off. */
  #takeTokens(bytes: number): boolean {
    const rate = this.options.rateLimitBytesPerSec;
    if (rate <= 0) return true;
    const now = this.#now();
    this.#tokens = Math.min(rate * bucketSeconds, this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens >= 0) {
      this.#tokens -= bytes;
      return true;
    }
    if (!this.#timerArmed) {
      this.#timerArmed = true;
      const waitMs = Math.ceil((-this.#tokens * 1000) / rate);
      void sleep(waitMs).then(() => {
        this.#timerArmed = false;
        this.#dispatch();
      });
    }
    return false;
  }
}
