/**
 * How idle forward loops learn that new records arrived: one shared timer, running only while some loop
 * waits, that wakes every waiter each `intervalMs`; each then compares the log's end offset (kept in
 * memory by the Log, no LMDB read) with its cursor.
 *
 * Why polling rather than a hook in the Log: forward may only read the log (DESIGN.md), the check costs a
 * map lookup per partition, and one timer for all partitions at a few milliseconds adds at most that much
 * latency, well under the batch linger. A push hook would save those few milliseconds at the price of a
 * new coupling between the append path and the forwarder.
 */

export class Ticker {
  #waiters: Array<() => void> = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly intervalMs: number) {}

  /** Resolves at the next tick, or at once when `signal` aborts. */
  next(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.push(done);
      this.#arm();
    });
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #arm(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }, this.intervalMs);
  }
}
