/**
 * The `/api/v1/status` document: one JSON object that says what the gateway is doing — ingest rates,
 * every partition's offsets and forward lag, the upstream link, storage and the host. Built from the
 * probes only (ops imports no domain module); `tributary status` renders it.
 *
 * Rates come from a sampler that reads the counters every `rateSampleMs` and keeps a short window
 * (`trends()`, a pure function of the samples), so a status request does no I/O and two requests in a
 * row agree. Ingest rates span the last `rateWindowMs` (10 s); the upstream's drain rate, the time
 * until the backlog is drained and the flash wear span `trendWindowMs` (60 s), steadier than a few
 * samples of a bursty link. The status page and `tributary status` only format these figures.
 * With the local Kafka API, `kafkaApi` lists its listeners and every consumer group it knows (state,
 * members, committed offset and lag per partition, read at request time from the coordinator).
 */
import assert from 'node:assert/strict';
import type { BridgeProbe } from './bridge-metrics.js';
import type { HealthReport } from './health.js';
import type { LossTotals } from './metrics.js';
import type { ForwardProbe, HostProbe, HostSample, LogProbe, PartitionLag, UpstreamStateReport } from './probes.js';

export const RATE_WINDOW_MS = 10_000;
export const TREND_WINDOW_MS = 60_000;
const SECONDS_PER_DAY = 86_400;

export interface IngestProbe {
  clients(): number;
  recordsTotal(): number;
  bytesTotal(): number;
}

export interface StorageProbe {
  /** Record bytes held by the log. */
  logBytes(): number;
  /** Bytes the LMDB file takes on disk. */
  dataFileBytes(): number;
}

export interface StatusInputs {
  gatewayId: string;
  version: string;
  startedAt: number;
  log: LogProbe & StorageProbe;
  ingest: IngestProbe;
  forward: ForwardProbe | null;
  host: HostProbe | null;
  health: () => HealthReport;
  limits: { storageMaxBytes: number; diskFreeMinBytes: number };
  upstream: { brokers: readonly string[] } | null;
  rateSampleMs?: number;
  /** Ingest rates span this; default RATE_WINDOW_MS. */
  rateWindowMs?: number;
  /** Drain rate, time to drain and flash wear span this; default TREND_WINDOW_MS. */
  trendWindowMs?: number;
  /** Rejected publishes and dropped records by reason; without it both lists are empty. */
  losses?: () => LossTotals;
  /** Late-bound like `forward`: the firmware bridge starts after ops; null when none is configured. */
  bridge?: () => BridgeProbe | null;
  /** Late-bound: the local Kafka API starts after ops; null when none is configured. */
  kafkaApi?: () => KafkaApiStatusProbe | null;
}

/** What ops reads of the local Kafka API (src/kafka-api/index.ts `KafkaApi` has this shape). */
export interface KafkaApiStatusProbe {
  listeners(): Array<{ host: string; port: number; sasl: boolean; tls: boolean }>;
  groups(): Array<{ group: string; state: string; members: number; partitions: KafkaGroupPartitionStatus[] }>;
}

export interface KafkaGroupPartitionStatus {
  stream: string;
  partition: number;
  /** The next offset the group will read. */
  committedOffset: number;
  /** Records in the log at or past the committed offset. */
  lagRecords: number;
}

/** A local Kafka consumer group. */
export interface KafkaGroupStatus {
  group: string;
  state: string;
  members: number;
  /** Its partitions' lag summed; null while it has committed on none (a lag nobody knows, not 0). */
  lagRecords: number | null;
  partitions: KafkaGroupPartitionStatus[];
}

export interface KafkaApiStatus {
  listeners: Array<{ host: string; port: number; sasl: boolean; tls: boolean }>;
  groups: KafkaGroupStatus[];
}

/** Firmware-bridge devices now (awake = active), and lost since start. */
export interface BridgeStatus {
  active: number;
  asleep: number;
  connecting: number;
  lost: number;
}

export interface PartitionStatus {
  partition: number;
  startOffset: number;
  endOffset: number;
  records: number;
  bytes: number;
  lagRecords: number | null;
  lagSeconds: number | null;
}

export interface StatusReport {
  gateway: string;
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  health: HealthReport;
  ingest: { clients: number; recordsTotal: number; bytesTotal: number; recordsPerSec: number; bytesPerSec: number; rejected: LossTotals['rejected'] };
  streams: Array<{ stream: string; records: number; bytes: number; lagRecords: number | null; lagSeconds: number | null; partitions: PartitionStatus[] }>;
  upstream: UpstreamStateReport & UpstreamTrends & { brokers: readonly string[]; backlogRecords: number | null };
  storage: { logBytes: number; dataFileBytes: number; maxBytes: number; diskFreeBytes: number | null; diskFreeMinBytes: number; diskWrittenBytes: number; writeAmplification: number | null; dropped: LossTotals['dropped']; wearBytesPerDay: number | null };
  host: HostSample | null;
  /** null when no firmware bridge is configured. */
  bridge: BridgeStatus | null;
  /** null when no local Kafka API is configured. */
  kafkaApi: KafkaApiStatus | null;
}

/** One reading of the counters the rates are computed from. */
export interface TrendSample {
  /** ms since the epoch. */
  at: number;
  /** Records and payload bytes ingested since start. */
  records: number;
  bytes: number;
  /** Records Kafka acknowledged since start, and records pending upstream; null without an upstream. */
  forwarded: number | null;
  backlog: number | null;
  /** Bytes the process wrote to disk since start. */
  diskWritten: number;
}

/** What the upstream's samples say; every figure null without an upstream or before two samples. */
export interface UpstreamTrends {
  /** Records per second Kafka acknowledged. */
  drainRecordsPerSec: number | null;
  /** How fast the backlog grows (negative: it shrinks), records per second. */
  backlogGrowthRecordsPerSec: number | null;
  /** Seconds until the backlog is gone at the current net rate: 0 without backlog, null while it does not shrink. */
  drainSeconds: number | null;
}

export interface Trends extends UpstreamTrends {
  recordsPerSec: number;
  bytesPerSec: number;
  /** Bytes written to disk per day at the current rate (flash wear). */
  wearBytesPerDay: number | null;
}

/**
 * The rates from `samples` (oldest first): ingest over the last `rateWindowMs`, the rest over the last
 * `trendWindowMs`, each from the oldest sample inside its window to the newest. Pure.
 */
export function trends(samples: readonly TrendSample[], windows: { rateWindowMs: number; trendWindowMs: number }): Trends {
  assert.ok(windows.rateWindowMs > 0 && windows.trendWindowMs > 0);
  const none: Trends = { recordsPerSec: 0, bytesPerSec: 0, drainRecordsPerSec: null, backlogGrowthRecordsPerSec: null, drainSeconds: null, wearBytesPerDay: null };
  const last = samples.at(-1);
  if (last === undefined) return none;
  const since = (windowMs: number, usable: (s: TrendSample) => boolean = () => true): TrendSample => samples.find((s) => s.at >= last.at - windowMs && usable(s)) ?? last;
  const perSec = (first: TrendSample, value: (s: TrendSample) => number): number => ((value(last) - value(first)) * 1000) / (last.at - first.at);
  const r = since(windows.rateWindowMs);
  const t = since(windows.trendWindowMs);
  assert.ok(r.at <= last.at && t.at <= last.at, 'samples are oldest first');
  const result = { ...none };
  if (r.at < last.at) {
    result.recordsPerSec = perSec(r, (s) => s.records);
    result.bytesPerSec = perSec(r, (s) => s.bytes);
  }
  if (t.at === last.at) return result;
  result.wearBytesPerDay = perSec(t, (s) => s.diskWritten) * SECONDS_PER_DAY;
  // The forwarder starts after the sampler: the upstream's figures begin at its first sample.
  const u = since(windows.trendWindowMs, (s) => s.forwarded !== null && s.backlog !== null);
  if (last.backlog === null || u.at === last.at) return result;
  const growth = perSec(u, (s) => s.backlog ?? 0);
  result.drainRecordsPerSec = perSec(u, (s) => s.forwarded ?? 0);
  result.backlogGrowthRecordsPerSec = growth;
  result.drainSeconds = last.backlog === 0 ? 0 : growth < 0 ? last.backlog / -growth : null;
  assert.ok(result.drainRecordsPerSec >= 0, 'the forwarded count never goes back');
  return result;
}

export class StatusReporter {
  private readonly samples: TrendSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly inputs: StatusInputs) {
    this.sample();
    this.timer = setInterval(() => this.sample(), inputs.rateSampleMs ?? 1000);
    this.timer.unref();
  }

  report(now = Date.now()): StatusReport {
    const { inputs } = this;
    const lag = new Map<string, PartitionLag>((inputs.forward?.lag() ?? []).map((l) => [`${l.stream}/${l.partition}`, l]));
    const byStream = new Map<string, PartitionStatus[]>();
    for (const p of inputs.log.partitions()) {
      const l = lag.get(`${p.stream}/${p.partition}`);
      const list = byStream.get(p.stream) ?? [];
      list.push({ partition: p.partition, startOffset: p.startOffset, endOffset: p.endOffset, records: p.records, bytes: p.bytes, lagRecords: l?.lagRecords ?? null, lagSeconds: l?.lagSeconds ?? null });
      byStream.set(p.stream, list);
    }
    const host = inputs.host?.latest() ?? null;
    const upstream: UpstreamStateReport = inputs.forward?.state() ?? { state: 'disabled', lastError: null, refusal: null };
    const t = this.trends();
    const backlogRecords = inputs.forward ? sum([...lag.values()].map((l) => l.lagRecords)) : null;
    const losses = inputs.losses?.() ?? { rejected: [], dropped: [] };
    const bridge = inputs.bridge?.()?.stats() ?? null;
    return {
      gateway: inputs.gatewayId,
      version: inputs.version,
      startedAt: new Date(inputs.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - inputs.startedAt) / 1000),
      health: inputs.health(),
      ingest: { clients: inputs.ingest.clients(), recordsTotal: inputs.ingest.recordsTotal(), bytesTotal: inputs.ingest.bytesTotal(), recordsPerSec: t.recordsPerSec, bytesPerSec: t.bytesPerSec, rejected: losses.rejected },
      streams: [...byStream].map(([stream, partitions]) => ({
        stream,
        records: sum(partitions.map((p) => p.records)),
        bytes: sum(partitions.map((p) => p.bytes)),
        lagRecords: inputs.forward ? sum(partitions.map((p) => p.lagRecords ?? 0)) : null,
        lagSeconds: inputs.forward ? Math.max(0, ...partitions.map((p) => p.lagSeconds ?? 0)) : null,
        partitions,
      })),
      upstream: {
        ...upstream,
        brokers: inputs.upstream?.brokers ?? [],
        backlogRecords,
        drainRecordsPerSec: t.drainRecordsPerSec,
        backlogGrowthRecordsPerSec: t.backlogGrowthRecordsPerSec,
        // Nothing pending now is drained now, whatever the last second's sample still says: the report
        // never shows an empty backlog as "not draining".
        drainSeconds: backlogRecords === 0 ? 0 : t.drainSeconds,
      },
      storage: {
        logBytes: inputs.log.logBytes(),
        dataFileBytes: inputs.log.dataFileBytes(),
        maxBytes: inputs.limits.storageMaxBytes,
        diskFreeBytes: host?.diskFreeBytes ?? null,
        diskFreeMinBytes: inputs.limits.diskFreeMinBytes,
        diskWrittenBytes: inputs.log.diskWrittenBytes(),
        writeAmplification: inputs.log.writeAmplification(),
        dropped: losses.dropped,
        wearBytesPerDay: t.wearBytesPerDay,
      },
      host,
      bridge: bridge === null ? null : { ...bridge.devices, lost: bridge.lost },
      kafkaApi: kafkaApiStatus(inputs.kafkaApi?.() ?? null),
    };
  }

  /** One line for systemd's STATUS=: rate, backlog, upstream. */
  summaryLine(): string {
    const r = this.trends();
    const backlog = sum((this.inputs.forward?.lag() ?? []).map((l) => l.lagRecords));
    const upstream = this.inputs.forward?.state().state ?? 'disabled';
    return `${r.recordsPerSec.toFixed(0)} msg/s in, ${this.inputs.ingest.clients()} clients, backlog ${backlog} records, upstream ${upstream}`;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const { inputs } = this;
    const windowMs = Math.max(inputs.rateWindowMs ?? RATE_WINDOW_MS, inputs.trendWindowMs ?? TREND_WINDOW_MS);
    const at = Date.now();
    const forward = inputs.forward;
    this.samples.push({
      at,
      records: inputs.ingest.recordsTotal(),
      bytes: inputs.ingest.bytesTotal(),
      forwarded: forward ? forward.forwardedRecords() : null,
      backlog: forward ? sum(forward.lag().map((l) => l.lagRecords)) : null,
      diskWritten: inputs.log.diskWrittenBytes(),
    });
    while (this.samples.length > 2 && (this.samples[0] as TrendSample).at < at - windowMs) this.samples.shift();
  }

  private trends(): Trends {
    return trends(this.samples, { rateWindowMs: this.inputs.rateWindowMs ?? RATE_WINDOW_MS, trendWindowMs: this.inputs.trendWindowMs ?? TREND_WINDOW_MS });
  }
}

/** The Kafka API's listeners and groups, each group's lag summed over its partitions. */
export function kafkaApiStatus(probe: KafkaApiStatusProbe | null): KafkaApiStatus | null {
  if (probe === null) return null;
  const groups = probe.groups().map((g) => {
    assert.ok(g.members >= 0 && g.partitions.every((p) => p.lagRecords >= 0 && p.committedOffset >= 0), `group ${g.group}: negative members, offset or lag`);
    return { group: g.group, state: g.state, members: g.members, lagRecords: g.partitions.length === 0 ? null : sum(g.partitions.map((p) => p.lagRecords)), partitions: g.partitions.map((p) => ({ ...p })) };
  });
  return { listeners: probe.listeners().map((l) => ({ host: l.host, port: l.port, sasl: l.sasl, tls: l.tls })), groups };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
