/**
 * One forward loop per log partition: read from the `upstream` cursor, batch, send, and move the cursor
 * only after Kafka acknowledged the batch.
 *
 * Invariants:
 * - at most one batch of this partition is in flight, and the next is read only after the previous one was
 *   acknowledged and its cursor committed; so records reach Kafka in offset order across retries,
 *   reconnects and restarts, and a crash re-sends at most the one batch whose cursor was not yet committed;
 * - the cursor never moves past a record Kafka has not acknowledged, and never backwards;
 * - a record is never dropped here: a refused batch stays in the log and is tried again later. The only
 *   skip is to the partition's startOffset, when retention already deleted (and counted) older records.
 *
 * Concurrency: `run()` is called once; everything else is read by the probe on the same event loop.
 */
import { LogClosedError, UpstreamError } from '../errors.js';
import type { LogRecord, PartitionInfo, ReadLimits } from '../log/index.js';
import { UPSTREAM_GROUP } from '../log/index.js';
import { KafkaRecordMapper, kafkaRecordBytes } from '../kafka-records/from-log.js';
import type { Logger } from '../ops/logger.js';
import { backoffDelayMs, sleep, type BackoffLimits } from './backoff.js';
import type { SinkRecord, Sink } from './kafka-sink.js';
import { describeError, isLinkWide, refusalMessage, type Link, type StreamBlocks } from './link.js';
import type { SendScheduler } from './scheduler.js';
import type { Ticker } from './ticker.js';

/** The part of `Log` the forwarder uses: reads and the cursor, never appends (DESIGN.md). */
export interface ForwardLog {
  read(stream: string, partition: number, fromOffset: number, limits: ReadLimits): LogRecord[];
  cursor(group: string, stream: string, partition: number): number | null;
  commitCursor(group: string, stream: string, partition: number, nextOffset: number): Promise<void>;
  partitionInfo(stream: string, partition: number): PartitionInfo;
  streamNames(): string[];
  streamSpec(stream: string): { partitions: number };
}

export interface PartitionTarget {
  stream: string;
  partition: number;
  kafkaTopic: string;
  /** How the record's partition key (= the Kafka key) is derived: `topic`, `client-id`, `topic-level:N`. */
  keySpec: string;
  priority: number;
  gatewayId: string;
}

export interface BatchLimits {
  maxRecords: number;
  /** Encoded log bytes per batch; at least one record is sent even when it alone is larger. */
  maxBytes: number;
  lingerMs: number;
}

export interface LoopShared {
  log: ForwardLog;
  sink: Sink;
  link: Link;
  blocks: StreamBlocks;
  scheduler: SendScheduler;
  ticker: Ticker;
  logger: Logger;
  batch: BatchLimits;
  backoff: BackoffLimits;
  signal: AbortSignal;
  now: () => number;
}

/** `stopped`: Kafka refuses this stream (see StreamBlocks); `failed`: the log could not be read. */
export type LoopStatus = 'idle' | 'batching' | 'sending' | 'retrying' | 'stopped' | 'failed' | 'closed';

/** How long a loop whose log read failed waits before reading again. */
const readFailureRetryMs = 30_000;

export class PartitionLoop {
  status: LoopStatus = 'idle';
  lastError: string | null = null;
  /** Next offset to forward: every record before it was acknowledged by Kafka and the cursor is durable. */
  cursor = 0;
  /** Records Kafka acknowledged since start (a batch re-sent after a failed commit counts again). */
  forwardedRecords = 0;
  /** When this loop last had Kafka acknowledge a batch, or last found nothing to send (the health check's "progress"). */
  progressAt: number;
  /** Timestamp of the oldest record not yet forwarded, or when new data was first noticed; null when caught up. */
  #oldestPendingMs: number | null = null;
  #attempts = 0;
  /** Log records as the Kafka records DESIGN.md specifies (shared with the local Kafka API). */
  readonly #mapper: KafkaRecordMapper;

  constructor(
    readonly target: PartitionTarget,
    private readonly shared: LoopShared,
  ) {
    this.progressAt = shared.now();
    this.#mapper = new KafkaRecordMapper({ ...target });
  }

  lagRecords(): number {
    const info = this.shared.log.partitionInfo(this.target.stream, this.target.partition);
    return Math.max(0, info.endOffset - Math.max(this.cursor, info.startOffset));
  }

  lagSeconds(): number {
    if (this.#oldestPendingMs === null || this.lagRecords() === 0) return 0;
    return Math.max(0, (this.shared.now() - this.#oldestPendingMs) / 1000);
  }

  async run(): Promise<void> {
    const { log, signal } = this.shared;
    const { stream, partition } = this.target;
    this.cursor = log.cursor(UPSTREAM_GROUP, stream, partition) ?? 0;
    try {
      while (!signal.aborted) {
        if (!(await this.#waitForWork())) break;
        await this.#deliverOne();
      }
    } catch (err) {
      // Only the log closing under us ends a loop early; everything else is handled where it happens.
      if (!(err instanceof LogClosedError)) throw err;
    } finally {
      this.status = 'closed';
    }
  }

  /** Waits for unforwarded records, then up to lingerMs for more while the batch would be small. */
  async #waitForWork(): Promise<boolean> {
    const { signal, ticker } = this.shared;
    while (!signal.aborted && this.#pending().records === 0) {
      this.status = this.status === 'failed' ? 'failed' : 'idle';
      this.#oldestPendingMs = null;
      this.progressAt = this.shared.now();
      await ticker.next(signal);
    }
    if (signal.aborted) return false;
    this.#oldestPendingMs ??= this.shared.now();
    const lingerUntil = this.shared.now() + this.shared.batch.lingerMs;
    this.status = 'batching';
    while (!signal.aborted && this.shared.now() < lingerUntil && !this.#batchFull()) await ticker.next(signal);
    return !signal.aborted;
  }

  /** Records (and an estimate of their bytes) after the cursor; skips what retention already deleted. */
  #pending(): { records: number; bytes: number } {
    const info = this.shared.log.partitionInfo(this.target.stream, this.target.partition);
    if (this.cursor < info.startOffset) {
      // Retention dropped records we had not forwarded; the log counted and logged that drop.
      this.shared.logger.warn({ stream: this.target.stream, partition: this.target.partition, from: this.cursor, to: info.startOffset }, 'forward cursor was behind the log start; skipping records retention deleted');
      this.cursor = info.startOffset;
    }
    const records = info.endOffset - this.cursor;
    const avgBytes = info.records > 0 ? info.bytes / info.records : 0;
    return { records, bytes: records * avgBytes };
  }

  #batchFull(): boolean {
    const pending = this.#pending();
    return pending.records >= this.shared.batch.maxRecords || pending.bytes >= this.shared.batch.maxBytes;
  }

  /** Sends one batch from the cursor until Kafka acknowledged it and the cursor is durable, or closing. */
  async #deliverOne(): Promise<void> {
    const { link, blocks, scheduler, signal, sink, now } = this.shared;
    while (!signal.aborted) {
      await blocks.wait(this.target.stream, signal);
      if (!(await link.permit(signal))) return;
      const batch = this.#readBatch();
      if (batch === 'failed') {
        link.abandoned();
        await sleep(readFailureRetryMs, signal);
        return;
      }
      if (batch === null) return link.abandoned();
      if (!(await scheduler.acquire(this.target.priority, batch.bytes, signal))) return link.abandoned();
      const startedAt = now();
      this.status = 'sending';
      try {
        await sink.send(batch.records);
      } catch (err) {
        scheduler.release();
        await this.#sendFailed(err, startedAt);
        continue;
      }
      // The slot is held through the cursor commit: released earlier, it would go to whoever waits now,
      // before this (maybe higher-priority) loop has had a chance to queue its next batch.
      this.forwardedRecords += batch.records.length;
      try {
        this.#sendSucceeded();
        await this.#commit(batch.nextOffset);
      } finally {
        scheduler.release();
      }
      return;
    }
  }

  /**
   * Reads the batch at the cursor afresh on every attempt: retention may have moved the start meanwhile.
   * `failed` when the log could not be read (logged; the caller pauses), null when nothing is durable yet.
   */
  #readBatch(): { records: SinkRecord[]; bytes: number; nextOffset: number } | 'failed' | null {
    const { stream, partition } = this.target;
    // Only records the log reports as durable: LMDB readers may already see a group commit whose sync
    // (and MQTT ack) is still running. Forwarding one of those and then crashing would put a record in
    // Kafka whose offset the log later gives to a different record.
    const durable = this.#pending().records;
    let records: LogRecord[];
    try {
      const limits = { maxRecords: Math.min(this.shared.batch.maxRecords, durable), maxBytes: this.shared.batch.maxBytes };
      records = this.shared.log.read(stream, partition, this.cursor, limits);
    } catch (err) {
      if (err instanceof LogClosedError) throw err;
      this.status = 'failed';
      this.lastError = describeError(err);
      this.shared.logger.error({ stream, partition, offset: this.cursor, err }, `forwarding of ${stream}/${partition} paused: the log could not be read`);
      return 'failed';
    }
    const first = records[0];
    const last = records.at(-1);
    if (first === undefined || last === undefined) return null;
    this.#oldestPendingMs = first.timestamp;
    const sinkRecords: SinkRecord[] = this.#mapper.map(records);
    let bytes = 0;
    for (const r of sinkRecords) bytes += kafkaRecordBytes(r);
    return { records: sinkRecords, bytes, nextOffset: last.offset + 1 };
  }

  #sendSucceeded(): void {
    this.shared.link.succeeded();
    if (this.shared.blocks.clear(this.target.stream)) {
      this.shared.logger.info({ stream: this.target.stream, topic: this.target.kafkaTopic }, `Kafka accepts stream ${this.target.stream} again; forwarding resumed`);
    }
    if (this.status === 'retrying' || this.status === 'stopped') {
      this.shared.logger.info({ stream: this.target.stream, partition: this.target.partition, attempts: this.#attempts }, 'forwarding recovered');
    }
    this.#attempts = 0;
    this.lastError = null;
  }

  async #sendFailed(err: unknown, startedAt: number): Promise<void> {
    const { link, blocks, logger, signal } = this.shared;
    const { stream, partition, kafkaTopic } = this.target;
    const refusal = link.failed(err, startedAt);
    this.lastError = describeError(err);
    this.#attempts++;
    const retriable = err instanceof UpstreamError ? err.retriable : false;
    // A refused connection (TLS, SASL) stops every stream, not this one: the link holds it back.
    if (!retriable && !isLinkWide(err)) {
      this.status = 'stopped';
      if (blocks.block(stream, err)) {
        logger.error({ stream, topic: kafkaTopic, err: this.lastError }, `Kafka refuses stream ${stream} (topic ${kafkaTopic}): forwarding of this stream stopped, its records stay in the log; retrying periodically`);
      }
      return;
    }
    this.status = 'retrying';
    if (refusal !== null) {
      logger.error({ err: refusal.error, retryEveryMs: this.shared.backoff.maxMs }, refusalMessage(refusal, this.shared.backoff.maxMs));
    } else if (this.#attempts === 1 && link.refusal === null) {
      logger.warn({ stream, partition, err: this.lastError }, 'forward send failed; retrying with backoff');
    }
    // A link-wide failure waits in Link.permit (one shared backoff); a partition's own trouble waits here.
    if (!isLinkWide(err)) await sleep(backoffDelayMs(this.#attempts, this.shared.backoff), signal);
  }

  /** Makes the new cursor durable; a failing commit is retried (never skipped: the batch would be re-sent). */
  async #commit(nextOffset: number): Promise<void> {
    const { log, logger } = this.shared;
    const { stream, partition } = this.target;
    for (let attempt = 1; ; attempt++) {
      try {
        await log.commitCursor(UPSTREAM_GROUP, stream, partition, nextOffset);
        this.cursor = nextOffset;
        this.progressAt = this.shared.now();
        this.#oldestPendingMs = this.#pending().records > 0 ? this.shared.now() : null;
        return;
      } catch (err) {
        if (err instanceof LogClosedError) throw err;
        logger.error({ stream, partition, nextOffset, err }, 'committing the forward cursor failed; retrying');
        // Even while closing: leaving the cursor behind would only cost duplicates, but retry a few times.
        if (this.shared.signal.aborted && attempt >= 3) return;
        await sleep(backoffDelayMs(attempt, this.shared.backoff));
      }
    }
  }
}

