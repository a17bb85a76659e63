/**
 * Mutual exclusion by key, for the Kafka sink: calls that touch the same Kafka topic must not be in flight
 * together (see kafka-sink.ts, "Concurrency"). Waiters are served in arrival order.
 */

/** One holder per key at a time; several keys are taken in sorted order, so two callers cannot deadlock. */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async lock(keys: string[]): Promise<() => void> {
    const releases: Array<() => void> = [];
    for (const key of [...keys].sort()) releases.push(await this.#lockOne(key));
    return () => releases.forEach((release) => release());
  }

  async #lockOne(key: string): Promise<() => void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => held);
    this.#tails.set(key, tail);
    await previous;
    return () => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
      release();
    };
  }
}
