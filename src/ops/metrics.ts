/**
 * Every Prometheus metric tributary exports, held in ONE prom-client `Registry` per broker instance.
 *
 * Not prom-client's global default registry: tests run several brokers in one process, and each must
 * scrape only its own numbers.
 *
 * Two kinds of metric, fed two ways:
 * - Events counted where they happen (ingest, rejected publishes, dropped records, commits). The layer
 *   that sees the event calls a method here: `recordIngest`, `recordRejected`, `recordDropped`,
 *   `recordCommit`. Methods rather than the prom-client objects so that callers cannot misspell a label
 *   name or import prom-client, and so that every label set is checked by the compiler.
 * - State owned elsewhere (offsets, lag, disk, memory, temperature, write amplification, upstream up).
 *   These are read at scrape time through the probes handed to `attach()`, in `collect()` callbacks,
 *   so they are never stale and nothing has to push them. Before a probe is attached, its metrics
 *   export a TYPE line and no samples.
 *
 * Process metrics (`process_*`, `nodejs_*`: RSS, CPU, event loop lag, GC) are registered on the same
 * registry.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.js';
import type { ForwardProbe, HostProbe, HostSample, LogProbe, PartitionLag, PartitionStats } from './probes.js';

/** A group commit on a Pi's SD card takes from ~0.5 ms (page cache) to ~1 s (a stalled card). */
export const COMMIT_DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** Records per group commit: 1 when idle, up to `commitBytesMax` worth of small messages under load. */
export const COMMIT_RECORDS_BUCKETS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** The metric names this module must export: the HTTP test and the README list read this. */
export const REQUIRED_METRIC_NAMES: readonly string[] = [
  'tributary_ingest_records_total',
  'tributary_ingest_bytes_total',
  'tributary_rejected_publishes_total',
  'tributary_log_end_offset',
  'tributary_forward_lag_records',
  'tributary_forward_lag_seconds',
  'tributary_upstream_up',
  'tributary_dropped_records_total',
  'tributary_commit_duration_seconds',
  'tributary_commit_records',
  'tributary_disk_written_bytes_total',
  'tributary_write_amplification',
  'tributary_disk_free_bytes',
  'tributary_memory_available_bytes',
  'tributary_cpu_temperature_celsius',
];

export interface MetricsProbes {
  log?: LogProbe;
  forward?: ForwardProbe;
  host?: HostProbe;
}

export interface MetricsOptions {
  /** Register `process_*` / `nodejs_*` metrics too. Default true. */
  defaultMetrics?: boolean;
  /** Where a throwing probe is reported (once per metric until it recovers). */
  logger?: Logger;
}

export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  render(): Promise<string>;
  /** Hand over (or replace) probes; metrics read them from the next scrape on. */
  attach(probes: MetricsProbes): void;
  /** `records` messages of `bytes` payload bytes were appended to `stream`. */
  recordIngest(stream: string, records: number, bytes: number): void;
  /** A publish was refused; `reason` is `PublishRejectedError.reason`. */
  recordRejected(reason: string): void;
  /** Records deleted before being forwarded, e.g. reason `disk-pressure`, `storage-max`, `retention-age`. */
  recordDropped(stream: string, reason: string, records: number): void;
  /** One group commit: how long the write transaction + sync took, and how many records it held. */
  recordCommit(durationSeconds: number, records: number): void;
  /** A group commit attempt failed; `reason` is LogWriteError's (`io`, `no-space`, `other`). */
  recordCommitFailure(reason: string): void;
  /** A log write was refused before its commit; `reason` is InvalidWriteError's. */
  recordInvalidWrite(reason: string): void;
  /** An MQTT CONNECT was refused: `unknown-user`, `bad-password`, `anonymous-refused`. */
  recordAuthFailure(reason: string): void;
  /** An HTTP request was refused by src/ops/http-auth.ts; `reason` is its `HttpAuthFailure`. */
  recordHttpAuthFailure(reason: string): void;
  /** Totals since start across streams, for rates in the status report. */
  ingestTotals(): { records: number; bytes: number };
  /** Publishes rejected by reason and records dropped by stream and reason since start, for the status report. */
  lossTotals(): LossTotals;
}

export interface LossTotals {
  rejected: Array<{ reason: string; publishes: number }>;
  dropped: Array<{ stream: string; reason: string; records: number }>;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  return new TributaryMetrics(options);
}

class TributaryMetrics implements Metrics {
  readonly registry = new Registry();
  private probes: MetricsProbes = {};
  /** The same counts as the `rejected` and `dropped` counters, readable without rendering the registry. */
  private readonly rejectedTotals = new Map<string, number>();
  private readonly droppedTotals = new Map<string, number>();
  private readonly failingCollectors = new Set<string>();
  /**
   * The hot path (every message): plain numbers, folded into the counters when they are scraped, so
   * ingest allocates nothing for its metrics.
   */
  private readonly ingestByStream = new Map<string, { records: number; bytes: number }>();
  private readonly ingestRecords: Counter<'stream'>;
  private readonly ingestBytes: Counter<'stream'>;
  private readonly rejected: Counter<'reason'>;
  private readonly dropped: Counter<'stream' | 'reason'>;
  private readonly commitDuration: Histogram;
  private readonly commitRecords: Histogram;
  private readonly commitFailures: Counter<'reason'>;
  private readonly invalidWrites: Counter<'reason'>;
  private readonly authFailures: Counter<'reason'>;
  private readonly httpAuthFailures: Counter<'reason'>;
  private totalRecords = 0;
  private totalBytes = 0;

  constructor(private readonly options: MetricsOptions) {
    const registers = [this.registry];
    const foldIngest = (): void => this.foldIngest();
    this.ingestRecords = new Counter({
      name: 'tributary_ingest_records_total',
      help: 'Messages appended to the log, by stream.',
      labelNames: ['stream'],
      registers,
      collect: foldIngest,
    });
    this.ingestBytes = new Counter({
      name: 'tributary_ingest_bytes_total',
      help: 'Payload bytes appended to the log, by stream.',
      labelNames: ['stream'],
      registers,
      collect: foldIngest,
    });
    this.rejected = new Counter({
      name: 'tributary_rejected_publishes_total',
      help: 'Publishes refused at ingest, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.dropped = new Counter({
      name: 'tributary_dropped_records_total',
      help: 'Records deleted before they were forwarded upstream, by stream and reason.',
      labelNames: ['stream', 'reason'],
      registers,
    });
    this.commitDuration = new Histogram({
      name: 'tributary_commit_duration_seconds',
      help: 'Duration of one group commit (write transaction and sync).',
      buckets: [...COMMIT_DURATION_BUCKETS_SECONDS],
      registers,
    });
    this.commitRecords = new Histogram({
      name: 'tributary_commit_records',
      help: 'Records in one group commit.',
      buckets: [...COMMIT_RECORDS_BUCKETS],
      registers,
    });
    this.commitFailures = new Counter({
      name: 'tributary_log_commit_failures_total',
      help: 'Group commit attempts that failed (nothing in them was acked), by reason: io, no-space, other.',
      labelNames: ['reason'],
      registers,
    });
    this.invalidWrites = new Counter({
      name: 'tributary_log_invalid_writes_total',
      help: 'Log writes refused before their commit (only their own item failed), by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'tributary_auth_failures_total',
      help: 'MQTT CONNECTs refused, by reason: unknown-user, bad-password, anonymous-refused, will-denied, no-certificate-identity.',
      labelNames: ['reason'],
      registers,
    });
    this.httpAuthFailures = new Counter({
      name: 'tributary_http_auth_failures_total',
      help: 'HTTP requests refused for want of credentials, by reason: missing, malformed, scheme, bad-token, unknown-user, bad-password, throttled.',
      labelNames: ['reason'],
      registers,
    });
    this.registerLogGauges();
    this.registerForwardGauges();
    this.registerHostGauges();
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  attach(probes: MetricsProbes): void {
    this.probes = { ...this.probes, ...probes };
  }

  recordIngest(stream: string, records: number, bytes: number): void {
    const pending = this.ingestByStream.get(stream);
    if (pending === undefined) {
      this.ingestByStream.set(stream, { records, bytes });
    } else {
      pending.records += records;
      pending.bytes += bytes;
    }
    this.totalRecords += records;
    this.totalBytes += bytes;
  }

  /** Moves the ingest counts gathered since the last scrape into the Prometheus counters. */
  private foldIngest(): void {
    for (const [stream, pending] of this.ingestByStream) {
      // inc(0) still creates the series, so a stream shows up at 0 before its first message.
      this.ingestRecords.inc({ stream }, pending.records);
      this.ingestBytes.inc({ stream }, pending.bytes);
      pending.records = 0;
      pending.bytes = 0;
    }
  }

  ingestTotals(): { records: number; bytes: number } {
    return { records: this.totalRecords, bytes: this.totalBytes };
  }

  recordRejected(reason: string): void {
    this.rejected.inc({ reason });
    this.rejectedTotals.set(reason, (this.rejectedTotals.get(reason) ?? 0) + 1);
  }

  recordDropped(stream: string, reason: string, records: number): void {
    this.dropped.inc({ stream, reason }, records);
    // Keyed by the pair: a JSON array, so no separator can be ambiguous.
    const key = JSON.stringify([stream, reason]);
    this.droppedTotals.set(key, (this.droppedTotals.get(key) ?? 0) + records);
  }

  lossTotals(): LossTotals {
    return {
      rejected: [...this.rejectedTotals].map(([reason, publishes]) => ({ reason, publishes })),
      dropped: [...this.droppedTotals].map(([key, records]) => {
        const [stream, reason] = JSON.parse(key) as [string, string];
        return { stream, reason, records };
      }),
    };
  }

  recordCommit(durationSeconds: number, records: number): void {
    this.commitDuration.observe(durationSeconds);
    this.commitRecords.observe(records);
  }

  recordCommitFailure(reason: string): void {
    this.commitFailures.inc({ reason });
  }

  recordInvalidWrite(reason: string): void {
    this.invalidWrites.inc({ reason });
  }

  recordAuthFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }

  recordHttpAuthFailure(reason: string): void {
    this.httpAuthFailures.inc({ reason });
  }

  /**
   * A gauge refilled from the probes at every scrape. `fill` sets the samples that exist right now;
   * everything else is cleared first, so a partition or a sensor that went away stops being exported.
   */
  private probeGauge<L extends string>(name: string, help: string, labelNames: L[], fill: (g: Gauge<L>, probes: MetricsProbes) => void): void {
    const gauge: Gauge<L> = new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect: () => this.refill(name, gauge, labelNames.length > 0, fill),
    });
  }

  /**
   * A probe that throws (a bug elsewhere) must not turn the whole scrape into a 500: the metric goes
   * empty for this scrape and the failure is logged once until it recovers.
   */
  private refill<L extends string>(
    name: string,
    gauge: Gauge<L>,
    labelled: boolean,
    fill: (g: Gauge<L>, probes: MetricsProbes) => void,
  ): void {
    clearGauge(gauge, labelled);
    try {
      fill(gauge, this.probes);
      this.failingCollectors.delete(name);
    } catch (err) {
      clearGauge(gauge, labelled);
      if (this.failingCollectors.has(name)) return;
      this.failingCollectors.add(name);
      this.options.logger?.warn({ err, metric: name }, 'metric probe failed; exporting no samples');
    }
  }

  private registerLogGauges(): void {
    const perPartition = (name: string, help: string, pick: (p: PartitionStats) => number) =>
      this.probeGauge(name, help, ['stream', 'partition'], (g, { log }) => {
        for (const p of log?.partitions() ?? []) g.set({ stream: p.stream, partition: String(p.partition) }, pick(p));
      });
    perPartition('tributary_log_end_offset', 'Next offset to be written, by stream and partition.', (p) => p.endOffset);
    perPartition('tributary_log_start_offset', 'Oldest offset still stored, by stream and partition.', (p) => p.startOffset);
    perPartition('tributary_log_bytes', 'Bytes stored, by stream and partition.', (p) => p.bytes);
    // A counter by name and type, but its value is the kernel's running total: mirror it at scrape time.
    const written: Counter = new Counter({
      name: 'tributary_disk_written_bytes_total',
      help: 'Bytes this process wrote to disk (write_bytes of /proc/self/io).',
      registers: [this.registry],
      collect: () => {
        written.reset();
        written.remove();
        const log = this.probes.log;
        if (log !== undefined) written.inc(log.diskWrittenBytes());
      },
    });
    this.probeGauge('tributary_write_amplification', 'Disk bytes written per payload byte appended (SD card wear).', [], (g, { log }) => {
      setIfKnown(g, log?.writeAmplification() ?? null);
    });
  }

  private registerForwardGauges(): void {
    this.probeGauge(
      'tributary_forward_lag_records',
      'Records appended but not yet acknowledged upstream, by stream and partition.',
      ['stream', 'partition'],
      (g, { forward }) => {
        for (const l of forward?.lag() ?? []) g.set({ stream: l.stream, partition: String(l.partition) }, l.lagRecords);
      },
    );
    this.probeGauge(
      'tributary_forward_lag_seconds',
      'Age of the oldest record not yet forwarded, by stream (worst partition).',
      ['stream'],
      (g, { forward }) => {
        for (const [stream, seconds] of maxLagByStream(forward?.lag() ?? [])) g.set({ stream }, seconds);
      },
    );
    this.probeGauge(
      'tributary_upstream_up',
      '1 when the upstream Kafka cluster is reachable, 0 when not; absent when no upstream is configured.',
      [],
      (g, { forward }) => {
        const up = forward?.upstreamUp() ?? null;
        setIfKnown(g, up === null ? null : Number(up));
      },
    );
  }

  private registerHostGauges(): void {
    const fromSample = (name: string, help: string, pick: (s: HostSample) => number | null) =>
      this.probeGauge(name, help, [], (g, { host }) => {
        const sample = host?.latest() ?? null;
        setIfKnown(g, sample === null ? null : pick(sample));
      });
    fromSample('tributary_disk_free_bytes', 'Free bytes on the data directory filesystem.', (s) => s.diskFreeBytes);
    fromSample('tributary_disk_total_bytes', 'Size of the data directory filesystem.', (s) => s.diskTotalBytes);
    fromSample('tributary_memory_available_bytes', 'Memory available without swapping (MemAvailable).', (s) => s.memAvailableBytes);
    fromSample('tributary_cpu_load_ratio', 'Share of all CPUs busy, 0..1.', (s) => s.cpuLoadPercent / 100);
    fromSample('tributary_cpu_temperature_celsius', 'CPU temperature; absent when the host has no sensor.', (s) => s.cpuTemperatureCelsius);
  }
}

/** Empties a gauge: `reset()` alone leaves a label-less gauge at 0, which would be a false sample. */
function clearGauge<L extends string>(gauge: Gauge<L>, labelled: boolean): void {
  gauge.reset();
  if (!labelled) gauge.remove();
}

function setIfKnown(gauge: Gauge, value: number | null): void {
  if (value !== null) gauge.set(value);
}

/** The Prometheus lag per stream is the worst partition's: that is the data at risk. */
export function maxLagByStream(lag: readonly PartitionLag[]): Map<string, number> {
  const byStream = new Map<string, number>();
  for (const l of lag) byStream.set(l.stream, Math.max(byStream.get(l.stream) ?? 0, l.lagSeconds));
  return byStream;
}
