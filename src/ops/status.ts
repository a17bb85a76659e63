/**
 * The `/api/v1/status` document: one JSON object that says what the gateway is doing — ingest rates,
 * every partition's offsets and forward lag, the upstream link, storage and the host. Built from the
 * probes only (ops imports no domain module); `tributary status` renders it.
 *
 * Rates come from a sampler that reads the ingest counters every `rateSampleMs` and keeps a short
 * window, so a status request does no I/O and two requests in a row agree.
 */
import type { BridgeProbe } from './bridge-metrics.js';
import type { HealthReport } from './health.js';
import type { LossTotals } from './metrics.js';
import type { ForwardProbe, HostProbe, HostSample, LogProbe, PartitionLag, UpstreamState } from './probes.js';

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
  rateWindowMs?: number;
  /** Rejected publishes and dropped records by reason; without it both lists are empty. */
  losses?: () => LossTotals;
  /** Late-bound like `forward`: the firmware bridge starts after ops; null when none is configured. */
  bridge?: () => BridgeProbe | null;
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
  upstream: { state: UpstreamState; lastError: string | null; brokers: readonly string[] };
  storage: { logBytes: number; dataFileBytes: number; maxBytes: number; diskFreeBytes: number | null; diskFreeMinBytes: number; diskWrittenBytes: number; writeAmplification: number | null; dropped: LossTotals['dropped'] };
  host: HostSample | null;
  /** null when no firmware bridge is configured. */
  bridge: BridgeStatus | null;
}

interface Sample {
  at: number;
  records: number;
  bytes: number;
}

export class StatusReporter {
  private readonly samples: Sample[] = [];
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
    const upstream = inputs.forward?.state() ?? { state: 'disabled' as const, lastError: null };
    const losses = inputs.losses?.() ?? { rejected: [], dropped: [] };
    const bridge = inputs.bridge?.()?.stats() ?? null;
    return {
      gateway: inputs.gatewayId,
      version: inputs.version,
      startedAt: new Date(inputs.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - inputs.startedAt) / 1000),
      health: inputs.health(),
      ingest: { clients: inputs.ingest.clients(), recordsTotal: inputs.ingest.recordsTotal(), bytesTotal: inputs.ingest.bytesTotal(), ...this.rates(), rejected: losses.rejected },
      streams: [...byStream].map(([stream, partitions]) => ({
        stream,
        records: sum(partitions.map((p) => p.records)),
        bytes: sum(partitions.map((p) => p.bytes)),
        lagRecords: inputs.forward ? sum(partitions.map((p) => p.lagRecords ?? 0)) : null,
        lagSeconds: inputs.forward ? Math.max(0, ...partitions.map((p) => p.lagSeconds ?? 0)) : null,
        partitions,
      })),
      upstream: { ...upstream, brokers: inputs.upstream?.brokers ?? [] },
      storage: {
        logBytes: inputs.log.logBytes(),
        dataFileBytes: inputs.log.dataFileBytes(),
        maxBytes: inputs.limits.storageMaxBytes,
        diskFreeBytes: host?.diskFreeBytes ?? null,
        diskFreeMinBytes: inputs.limits.diskFreeMinBytes,
        diskWrittenBytes: inputs.log.diskWrittenBytes(),
        writeAmplification: inputs.log.writeAmplification(),
        dropped: losses.dropped,
      },
      host,
      bridge: bridge === null ? null : { ...bridge.devices, lost: bridge.lost },
    };
  }

  /** One line for systemd's STATUS=: rate, backlog, upstream. */
  summaryLine(): string {
    const r = this.rates();
    const backlog = sum((this.inputs.forward?.lag() ?? []).map((l) => l.lagRecords));
    const upstream = this.inputs.forward?.state().state ?? 'disabled';
    return `${r.recordsPerSec.toFixed(0)} msg/s in, ${this.inputs.ingest.clients()} clients, backlog ${backlog} records, upstream ${upstream}`;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const windowMs = this.inputs.rateWindowMs ?? 10_000;
    const at = Date.now();
    this.samples.push({ at, records: this.inputs.ingest.recordsTotal(), bytes: this.inputs.ingest.bytesTotal() });
    while (this.samples.length > 2 && (this.samples[0] as Sample).at < at - windowMs) this.samples.shift();
  }

  private rates(): { recordsPerSec: number; bytesPerSec: number } {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at === first.at) return { recordsPerSec: 0, bytesPerSec: 0 };
    const seconds = (last.at - first.at) / 1000;
    return { recordsPerSec: (last.records - first.records) / seconds, bytesPerSec: (last.bytes - first.bytes) / seconds };
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
