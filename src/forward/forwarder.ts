/**
 * The forwarder: one `PartitionLoop` per forwarded log partition, sharing one Kafka sink, one link health
 * (`Link`), one list of refused streams (`StreamBlocks`), one send scheduler (priority and rate limit) and
 * one idle ticker. It is also the `ForwardProbe` that metrics and the status API read.
 *
 * Lifecycle: `createForwarder` (the log must be open) → `start()` → `close()`. `close()` stops new
 * batches at once, lets each partition's in-flight batch finish and commit its cursor, bounded by
 * `closeTimeoutMs`, then closes the sink; the broker closes the log after that.
 *
 * States (the probe's `state()`):
 * - `disabled`: no upstream configured;
 * - `connecting`: no connect or send has had an outcome yet. `start()` opens a session at once (the
 *   sink's `connect`), so a dead or refusing upstream shows as such before there is a record to send;
 * - `offline`: the link is down (a connection-level failure and no success since), or every forwarded
 *   partition is failing (e.g. Kafka refuses the only stream): nothing gets through;
 * - `degraded`: some partitions are retrying or stopped (Kafka refuses their stream), others get through;
 * - `online`: otherwise.
 * While the link is down, that connect is also the probe when no partition has a record to send, so an
 * idle gateway sees its upstream come back without waiting for data. `refusal` says why a link is down
 * when Kafka refused the TLS handshake or the SASL login.
 *
 * `renewUpstream(security)` (SIGHUP): the sink connects with the new TLS files and credentials from its next
 * attempt, and a link that is down probes at once. Unchanged material on a link that is up changes nothing,
 * so a reload for other files does not cost a reconnect (and its duplicates).
 */
import { setMaxListeners } from 'node:events';
import type { Config, KafkaConfig } from '../config/load.js';
import { describeUpstreamSecurity, sameUpstreamSecurity, upstreamSecurityWarnings, type UpstreamSecurity } from '../config/upstream-secrets.js';
import type { Metrics } from '../ops/metrics.js';
import type { Logger } from '../ops/logger.js';
import type { ForwardProbe, PartitionLag, UpstreamState, UpstreamStateReport } from '../ops/probes.js';
import { sleep } from './backoff.js';
import type { KafkaSinkOptions, Sink } from './kafka-sink.js';
import { describeError, Link, refusalMessage, StreamBlocks } from './link.js';
import { PartitionLoop, type ForwardLog, type LoopShared, type LoopStatus, type PartitionTarget } from './partition-loop.js';
import { SendScheduler } from './scheduler.js';
import { Ticker } from './ticker.js';

export interface ForwardTuning {
  /** How often idle loops look for new records. */
  idlePollMs: number;
  /** Batches in flight across all partitions; where stream priority decides who goes next. */
  sendsInFlightMax: number;
  /** How long a stream Kafka refused waits before it is tried again. */
  refusedRetryMs: number;
  /** How long `close()` waits for the in-flight batches. */
  closeTimeoutMs: number;
  now: () => number;
  random: () => number;
}

export const FORWARD_TUNING_DEFAULTS: ForwardTuning = {
  idlePollMs: 5,
  sendsInFlightMax: 4,
  refusedRetryMs: 60_000,
  closeTimeoutMs: 10_000,
  now: Date.now,
  random: Math.random,
};

export interface ForwarderOptions {
  /** The open log. */
  log: ForwardLog;
  /** The sink to send to (tests pass an in-memory one); the forwarder does not close a sink it was given. */
  sink?: Sink;
  /** Called by `start()` when no `sink` is given; the forwarder closes what it made. */
  sinkFactory?: (security: UpstreamSecurity | undefined) => Sink;
  /** TLS files and SASL credentials the sink starts with (config/upstream-secrets.ts). */
  security?: UpstreamSecurity | undefined;
  config: Pick<Config, 'streams' | 'upstream'>;
  gatewayId: string;
  logger: Logger;
  /** When given, the forwarder attaches itself as the `forward` probe. */
  metrics?: Pick<Metrics, 'attach'>;
  tuning?: Partial<ForwardTuning>;
}

export interface PartitionForwardStatus extends PartitionLag {
  kafkaTopic: string;
  status: LoopStatus;
  /** Next offset to forward. */
  cursor: number;
  endOffset: number;
  lastError: string | null;
}

export interface ForwardStatus extends UpstreamStateReport {
  /** Streams Kafka refuses, with the reason. */
  refusedStreams: Array<{ stream: string; error: string }>;
  partitions: PartitionForwardStatus[];
}

export interface Forwarder extends ForwardProbe {
  /**
   * For the health check: the newest moment a partition with records pending made progress (an
   * acknowledged batch, or being caught up); now when nothing is pending.
   */
  lastProgressMs(): number;
  /** `upstream authentication failed: CODE: message` (or TLS) while the cluster refuses the connection, else null. */
  upstreamRefusal(): string | null;
  /**
   * New TLS files and credentials (SIGHUP): the next attempt connects with them, at once if the link is
   * down. Returns false when nothing changed and the link is up: then nothing is done.
   */
  renewUpstream(security: UpstreamSecurity | undefined): boolean;
  start(): void;
  close(): Promise<void>;
  status(): ForwardStatus;
}

/** The sink options the config implies (one place, shared by `serve` and the benchmark). */
export function kafkaSinkOptions(kafka: KafkaConfig, gatewayId: string, security?: UpstreamSecurity): KafkaSinkOptions {
  return {
    security,
    brokers: [...kafka.brokers],
    clientId: kafka.clientId ?? `tributary-${gatewayId}`,
    compression: kafka.compression,
    requestTimeoutMs: kafka.requestTimeoutMs,
    // A gateway's link either connects in a few seconds or is down.
    connectTimeoutMs: Math.min(kafka.requestTimeoutMs, 10_000),
  };
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  const forwarder = new KafkaForwarder(options);
  options.metrics?.attach({ forward: forwarder });
  return forwarder;
}

class KafkaForwarder implements Forwarder {
  readonly #tuning: ForwardTuning;
  readonly #kafka: KafkaConfig | undefined;
  readonly #abort = new AbortController();
  readonly #link: Link;
  readonly #blocks: StreamBlocks;
  readonly #ticker: Ticker;
  #loops: PartitionLoop[] = [];
  #running: Promise<void>[] = [];
  #sink: Sink | null = null;
  #ownsSink = false;
  #closing: Promise<void> | null = null;
  #security: UpstreamSecurity | undefined;

  constructor(private readonly options: ForwarderOptions) {
    this.#tuning = { ...FORWARD_TUNING_DEFAULTS, ...options.tuning };
    this.#kafka = options.config.upstream.kafka;
    const backoff = { minMs: this.#kafka?.retryBackoffMinMs ?? 100, maxMs: this.#kafka?.retryBackoffMaxMs ?? 30_000 };
    this.#link = new Link(backoff, this.#tuning.now, this.#tuning.random);
    this.#blocks = new StreamBlocks(this.#tuning.refusedRetryMs, this.#tuning.now);
    this.#ticker = new Ticker(this.#tuning.idlePollMs);
    this.#security = options.security;
  }

  get disabled(): boolean {
    return this.#kafka === undefined;
  }

  start(): void {
    if (this.#kafka === undefined || this.#sink !== null || this.#closing !== null) return;
    const { sink, sinkFactory, logger } = this.options;
    if (sink === undefined && sinkFactory === undefined) throw new Error('createForwarder needs a sink or a sinkFactory');
    this.#sink = sink ?? (sinkFactory as NonNullable<typeof sinkFactory>)(this.#security);
    this.#ownsSink = sink === undefined;
    const shared = this.#shared(this.#kafka, this.#sink);
    this.#loops = this.#targets().map((target) => new PartitionLoop(target, shared));
    // Every loop waits on the close signal (a backoff sleep, a wait for the link) and so does the link
    // watcher: with more than a handful of partitions Node's default of 10 listeners would warn of a leak
    // that is not one. Each waiter removes its listener when it wakes.
    setMaxListeners(2 * this.#loops.length + 2, this.#abort.signal);
    this.#running = this.#loops.map((loop) =>
      loop.run().catch((err: unknown) => {
        loop.lastError = String(err);
        logger.error({ stream: loop.target.stream, partition: loop.target.partition, err }, 'forward loop ended with an error');
      }),
    );
    const connecting = this.#sink.connect?.bind(this.#sink);
    if (connecting !== undefined) void this.#watchLink(connecting, shared.backoff.maxMs);
    logger.info({ partitions: this.#loops.length, brokers: this.#kafka.brokers, security: describeUpstreamSecurity(this.#security) }, 'forwarding to Kafka');
    for (const warning of upstreamSecurityWarnings(this.#security)) logger.warn(warning);
  }

  /**
   * Connects whenever the link's state is unknown or down and this loop gets the probe (Link.permit: one
   * attempt at a time, at the shared backoff); while the link is up it only waits for a change. Not
   * awaited by close(): a connect in flight ends when close() closes the sink.
   */
  async #watchLink(connect: () => Promise<void>, maxWaitMs: number): Promise<void> {
    const link = this.#link;
    const signal = this.#abort.signal;
    const { logger } = this.options;
    while (!signal.aborted) {
      if (link.known && !link.down) {
        await link.changed(maxWaitMs, signal);
        continue;
      }
      if (!(await link.permit(signal))) return;
      if (link.known && !link.down) {
        link.abandoned();
        continue;
      }
      const startedAt = this.#tuning.now();
      const wasDown = link.down;
      try {
        await connect();
      } catch (err) {
        if (signal.aborted) return link.abandoned();
        const refusal = link.failed(err, startedAt);
        if (refusal !== null) logger.error({ err: refusal.error, retryEveryMs: maxWaitMs }, refusalMessage(refusal, maxWaitMs));
        else if (!wasDown && link.refusal === null) logger.warn({ err: describeError(err) }, 'cannot connect to Kafka; records stay in the log, retrying with backoff');
        continue;
      }
      if (signal.aborted) return link.abandoned();
      link.succeeded();
      if (wasDown) logger.info({ brokers: this.#kafka?.brokers }, 'connected to Kafka again');
    }
  }

  renewUpstream(security: UpstreamSecurity | undefined): boolean {
    if (this.#kafka === undefined || this.#closing !== null) return false;
    if (sameUpstreamSecurity(security, this.#security) && !this.#link.down) return false;
    this.#security = security;
    this.#sink?.renew?.(security);
    this.#link.retryNow();
    this.options.logger.info({ security: describeUpstreamSecurity(security) }, 'upstream TLS files and credentials reloaded: connecting to Kafka with them now');
    return true;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#abort.abort();
    this.#ticker.stop();
    const finished = Promise.all(this.#running).then(() => true);
    const timer = new AbortController();
    const inTime = await Promise.race([finished, sleep(this.#tuning.closeTimeoutMs, timer.signal).then(() => false)]);
    timer.abort();
    if (!inTime) {
      this.options.logger.warn({ closeTimeoutMs: this.#tuning.closeTimeoutMs }, 'in-flight forward batches did not finish in time; they will be sent again after restart');
    }
    if (this.#ownsSink && this.#sink !== null) await this.#sink.close();
  }

  #shared(kafka: KafkaConfig, sink: Sink): LoopShared {
    return {
      log: this.options.log,
      sink,
      link: this.#link,
      blocks: this.#blocks,
      scheduler: new SendScheduler({
        sendsInFlightMax: this.#tuning.sendsInFlightMax,
        rateLimitBytesPerSec: kafka.rateLimitBytesPerSec,
        now: this.#tuning.now,
      }),
      ticker: this.#ticker,
      logger: this.options.logger,
      batch: { maxRecords: kafka.batch.maxRecords, maxBytes: kafka.batch.maxBytes, lingerMs: kafka.batch.lingerMs },
      backoff: { minMs: kafka.retryBackoffMinMs, maxMs: kafka.retryBackoffMaxMs },
      signal: this.#abort.signal,
      now: this.#tuning.now,
    };
  }

  /** Every partition of every log stream, except streams configured with `upstream.enabled: false`. */
  #targets(): PartitionTarget[] {
    const { log, config, gatewayId } = this.options;
    const targets: PartitionTarget[] = [];
    for (const stream of log.streamNames()) {
      // A stream on disk that the config no longer names still holds data to forward: defaults apply.
      const cfg = config.streams.find((s) => s.name === stream);
      if (cfg?.upstream.enabled === false) continue;
      const partitions = log.streamSpec(stream).partitions;
      for (let partition = 0; partition < partitions; partition++) {
        targets.push({
          stream,
          partition,
          kafkaTopic: cfg?.upstream.topic ?? stream,
          keySpec: cfg?.key ?? 'topic',
          priority: cfg?.priority ?? 0,
          gatewayId,
        });
      }
    }
    return targets;
  }

  // ---- the probe -----------------------------------------------------------------------------

  lag(): PartitionLag[] {
    return this.#loops.map((l) => ({ stream: l.target.stream, partition: l.target.partition, lagRecords: l.lagRecords(), lagSeconds: l.lagSeconds() }));
  }

  lastProgressMs(): number {
    const lagging = this.#loops.filter((l) => l.lagRecords() > 0);
    if (lagging.length === 0) return this.#tuning.now();
    return Math.max(...lagging.map((l) => l.progressAt));
  }

  upstreamRefusal(): string | null {
    const refusal = this.#link.refusal;
    return refusal === null ? null : `${refusal.headline}: ${refusal.error}`;
  }

  upstreamUp(): boolean | null {
    if (this.disabled) return null;
    // Not up until a connect or send said so.
    return this.#link.known && !this.#link.down;
  }

  state(): UpstreamStateReport {
    return { state: this.#state(), lastError: this.#link.lastError, refusal: this.#link.refusal?.kind ?? null };
  }

  forwardedRecords(): number {
    return this.#loops.reduce((n, l) => n + l.forwardedRecords, 0);
  }

  #state(): UpstreamState {
    if (this.disabled) return 'disabled';
    if (!this.#link.known) return 'connecting';
    if (this.#link.down) return 'offline';
    const failing = this.#loops.filter((l) => isFailing(l.status)).length;
    if (failing === 0) return 'online';
    return failing === this.#loops.length ? 'offline' : 'degraded';
  }

  status(): ForwardStatus {
    const refused = new Set(this.#loops.map((l) => l.target.stream).filter((s) => this.#blocks.isBlocked(s)));
    return {
      ...this.state(),
      refusedStreams: [...refused].map((stream) => ({ stream, error: this.#blocks.error(stream) ?? '' })),
      partitions: this.#loops.map((l) => {
        const info = this.options.log.partitionInfo(l.target.stream, l.target.partition);
        return {
          stream: l.target.stream,
          partition: l.target.partition,
          kafkaTopic: l.target.kafkaTopic,
          status: l.status,
          cursor: l.cursor,
          endOffset: info.endOffset,
          lagRecords: l.lagRecords(),
          lagSeconds: l.lagSeconds(),
          lastError: l.lastError,
        };
      }),
    };
  }
}

function isFailing(status: LoopStatus): boolean {
  return status === 'retrying' || status === 'stopped' || status === 'failed';
}
