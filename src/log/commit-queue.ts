/**
 * Group commit: many writers, one durable transaction at a time.
 *
 * Items pushed within `commitIntervalMs` of the first pending one, or until `commitBytesMax` bytes are
 * pending, are handed together to `flush`. At most one flush runs at once; what arrives meanwhile
 * becomes the next group, flushed as soon as the current one finishes (it has already waited a
 * whole commit). `itemsMax` bounds what may be pending: past it, `push` waits for the running flush
 * to finish instead of growing memory without limit — that wait is the backpressure the ingest
 * layer passes on to its clients by not reading their sockets.
 *
 * Single-threaded (the Node event loop); `flush` must settle every item it is given.
 */

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
  private running: Promise<void> | null = null;
  private spaceWaiters: Array<() => void> = [];

  constructor(
    private readonly options: CommitQueueOptions,
    private readonly flush: (items: T[]) => Promise<void>,
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

  push(item: T): void {
    this.pending.push(item);
    this.pendingBytes += item.bytes;
    if (this.running) return; // the running flush picks this group up when it ends
    if (this.pendingBytes >= this.options.commitBytesMax) {
      this.startFlush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.startFlush(), this.options.commitIntervalMs);
    }
  }

  /** Flushes everything pending now and resolves when no flush is running. */
  async drain(): Promise<void> {
    while (this.running || this.pending.length > 0) {
      if (!this.running) this.startFlush();
      await this.running;
    }
  }

  private startFlush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running || this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.wakeSpaceWaiters();
    // flush settles each item itself; the catch only keeps a bug there from becoming an unhandled rejection.
    this.running = this.flush(items).catch(() => undefined).finally(() => {
      this.running = null;
      if (this.pending.length > 0) this.startFlush();
    });
  }

  private wakeSpaceWaiters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }
}
