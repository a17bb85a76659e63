/**
 * Group commit: many writers, one durable transaction at a time.
 *
 * Commits start at most once per `commitIntervalMs`: everything pushed in between, or until
 * `commitBytesMax` bytes are pending, is handed together to `flush`. A push after a quiet spell
 * commits at once (on the next event-loop turn, so a burst that arrived together still shares it)
 * instead of waiting out a timer: the interval caps the commit rate — the knob between flash wear
 * and throughput — without adding latency to an idle gateway. At most one flush runs at once; what
 * arrives meanwhile becomes the next group. `itemsMax` bounds what may be pending: past it, `push` waits for the running flush
 * to finish instead of growing memory without limit — that wait is the backpressure the ingest
 * layer passes on to its clients by not reading their sockets.
 *
 * `commitSoon` starts the pending group without waiting out the interval: a writer that can add nothing
 * more until a commit (a client at its window of appends in flight) gains nothing from the wait, and
 * at a burst from a few clients the interval would otherwise cap throughput at a window per interval.
 * If a flush is running, the next one starts as soon as it ends. The commit rate is then bounded by
 * the disk (one flush at a time), as with an interval of 0, for as long as writers are window-bound.
 *
 * `flush` resolves once its group is durable, with what is left to do for it (settling its items: for
 * appends, the acks). The queue starts the next group first and runs that afterwards, so the next
 * commit's write and sync overlap the callbacks of the last one instead of waiting behind them: under
 * load a group commits while the previous group's clients are acked and send again.
 *
 * Single-threaded (the Node event loop); `flush` (and what it returns) must settle every item it is given.
 */

import { performance } from 'node:perf_hooks';

export interface CommitQueueOptions {
  commitIntervalMs: number;
  commitBytesMax: number;
  itemsMax: number;
}

export interface Sized {
  readonly bytes: number;
}

export class CommitQueue<T extends Sized> {
  private pending: T[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private firstPendingAt: number | null = null;
  private runningSince: number | null = null;
  private running: Promise<void> | null = null;
  /** `commitSoon` came while a flush was running: the next starts as soon as it ends. */
  private soon = false;
  private spaceWaiters: Array<() => void> = [];

  constructor(
    private readonly options: CommitQueueOptions,
    private readonly flush: (items: T[]) => Promise<(() => void) | void>,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  get flushing(): boolean {
    return this.running !== null;
  }

  /** Resolves when there is room for one more item. Callers await this before `push`. */
  async waitForSpace(): Promise<void> {
    while (this.pending.length >= this.options.itemsMax) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
  }

  hasSpace(): boolean {
    return this.pending.length < this.options.itemsMax;
  }

  /** Since when (performance.now() ms) the oldest waiting or committing item has waited; null when idle. */
  busySince(): number | null {
    return this.runningSince ?? this.firstPendingAt;
  }

  push(item: T): void {
    if (this.pending.length === 0) this.firstPendingAt = performance.now();
    this.pending.push(item);
    this.pendingBytes += item.bytes;
    if (this.running) return; // the running flush picks this group up when it ends
    if (this.pendingBytes >= this.options.commitBytesMax) {
      this.startFlush();
    } else {
      this.schedule();
    }
  }

  /** Starts the pending group on the next event-loop turn (so what arrives with it joins), not after the interval. */
  commitSoon(): void {
    if (this.pending.length === 0) return;
    if (this.running) {
      this.soon = true;
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.immediate ??= setImmediate(() => this.startFlush());
  }

  private schedule(): void {
    if (this.timer !== null || this.immediate !== null) return;
    const waitMs = this.lastFlushAt + this.options.commitIntervalMs - performance.now();
    if (waitMs <= 0) this.immediate = setImmediate(() => this.startFlush());
    else this.timer = setTimeout(() => this.startFlush(), waitMs);
  }

  /** Flushes everything pending now and resolves when no flush is running. */
  async drain(): Promise<void> {
    while (this.running || this.pending.length > 0) {
      if (!this.running) this.startFlush();
      await this.running;
    }
  }

  private startFlush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (this.running || this.pending.length === 0) return;
    this.soon = false;
    this.lastFlushAt = performance.now();
    this.runningSince = this.firstPendingAt ?? this.lastFlushAt;
    this.firstPendingAt = null;
    const items = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.wakeSpaceWaiters();
    // flush settles each item itself; the catch only keeps a bug there from becoming an unhandled rejection.
    this.running = this.flush(items)
      .then(
        (settle) => {
          this.flushEnded();
          settle?.();
        },
        () => this.flushEnded(),
      )
      .catch(() => undefined);
  }

  /** The running flush is durable: start the next group (or schedule it) before the last one is settled. */
  private flushEnded(): void {
    this.running = null;
    this.runningSince = null;
    if (this.pending.length === 0) return;
    if (this.soon || this.pendingBytes >= this.options.commitBytesMax) this.startFlush();
    else this.schedule();
  }

  private wakeSpaceWaiters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }
}
