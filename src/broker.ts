/**
 * The composition root: builds every part from the frozen config, starts them in dependency order and
 * closes them in the reverse, draining order (DESIGN.md "Shutdown is an ordered drain"):
 *
 *   start:  log → ops (metrics, HTTP) → [forward] → ingest (listeners open last, when all can take data)
 *   close:  ingest (stop accepting, stop reading, appends in flight committed and acked, clients closed)
 *           → [forward: finish the batch in flight] → log (commit what is pending, close LMDB) → HTTP
 *
 * Parts meet only here: ingest appends to the log, forward reads it, ops gets numbers through probes.
 */
import type { Config } from './config/load.js';
import { createIngest, type BoundPort, type Ingest } from './ingest/ingest.js';
import { Log, type LogObserver, type StreamSpec } from './log/index.js';
import { createEventLoopMonitor, type EventLoopMonitor } from './ops/event-loop.js';
import { DEFAULT_HEALTH_LIMITS, evaluateHealth, type HealthReport } from './ops/health.js';
import { startHttpServer, type HttpServerHandle } from './ops/http.js';
import { componentLogger, silentLogger, type Logger } from './ops/logger.js';
import { createMetrics } from './ops/metrics.js';
import type { LogProbe } from './ops/probes.js';

export interface BrokerOptions {
  logger?: Logger;
}

export interface BrokerPorts {
  /** Every MQTT listener as bound (port 0 in config becomes the real port here). */
  mqtt: BoundPort[];
  http: number;
}

export interface Broker {
  start(): Promise<BrokerPorts>;
  /** Ordered shutdown; idempotent. */
  close(): Promise<void>;
}

/** The forwarder's consumer group: retention keeps what it has not yet sent upstream. */
const UPSTREAM_GROUP = 'upstream';

export function createBroker(config: Config, options: BrokerOptions = {}): Broker {
  const logger = options.logger ?? silentLogger();
  const metrics = createMetrics({ logger: componentLogger(logger, 'metrics') });
  const commitState = { failing: false, lastError: null as string | null };
  let log: Log | null = null;
  let ingest: Ingest | null = null;
  let http: HttpServerHandle | null = null;
  let loop: EventLoopMonitor | null = null;
  let closing: Promise<void> | null = null;

  const observer: LogObserver = {
    commit: (durationMs, records) => {
      commitState.failing = false;
      metrics.recordCommit(durationMs / 1000, records);
    },
    commitFailed: (err) => {
      commitState.failing = true;
      commitState.lastError = err.message;
      logger.error({ err }, 'log commit failed');
    },
    dropped: (stream, reason, records) => {
      metrics.recordDropped(stream, reason, records);
      logger.warn({ stream, reason, records }, 'records dropped before they were forwarded');
    },
  };

  async function start(): Promise<BrokerPorts> {
    log = await Log.open(
      {
        dataDir: config.dataDir,
        commitIntervalMs: config.durability.commitIntervalMs,
        commitBytesMax: config.durability.commitBytesMax,
        appendsInFlightMax: config.durability.appendsInFlightMax,
        storageMaxBytes: config.storage.maxBytes,
        retentionHoldGroup: config.upstream.kafka ? UPSTREAM_GROUP : null,
        observer,
      },
      streamSpecs(config),
    );
    const openLog = log;
    metrics.attach({ log: logProbe(openLog) });
    loop = createEventLoopMonitor();

    http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      metrics,
      health: () => health(),
      status: () => status(),
      logger: componentLogger(logger, 'http'),
    });

    // ---- forward: the forwarder is built and started here (src/forward), before ingest opens. ----

    ingest = createIngest({ config, log: openLog, metrics, logger: componentLogger(logger, 'ingest') });
    const mqtt = await ingest.start();
    return { mqtt, http: http.port };
  }

  function health(): HealthReport {
    return evaluateHealth(
      {
        nowMs: Date.now(),
        eventLoopLagMs: loop?.lagMs() ?? 0,
        commit: { ...commitState, oldestPendingSinceMs: null },
        diskFreeBytes: null,
      },
      { ...DEFAULT_HEALTH_LIMITS, diskFreeMinBytes: config.storage.diskFreeMinBytes },
    );
  }

  function status(): object {
    return {
      gateway: config.gateway.id,
      mqtt: { clients: ingest?.clientCount() ?? 0 },
      streams: log?.info() ?? [],
      upstream: config.upstream.kafka ? { brokers: config.upstream.kafka.brokers } : null,
    };
  }

  async function shutdown(): Promise<void> {
    await ingest?.close();
    // ---- forward: close the forwarder here (it finishes its batch in flight) before the log. ----
    await log?.close();
    loop?.close();
    await http?.close();
  }

  return {
    start,
    close: () => (closing ??= shutdown()),
  };
}

export function streamSpecs(config: Config): StreamSpec[] {
  return config.streams.map((s) => ({
    name: s.name,
    partitions: s.partitions,
    retention: { ...(s.retention.bytes === undefined ? {} : { bytes: s.retention.bytes }), ...(s.retention.age === undefined ? {} : { ageMs: s.retention.age }) },
    priority: s.priority,
  }));
}

function logProbe(log: Log): LogProbe {
  return {
    partitions: () => log.info().flatMap((s) => s.partitions.map((p) => ({ stream: s.stream, ...p }))),
    diskWrittenBytes: () => log.diskWrittenBytes() ?? 0,
    writeAmplification: () => log.writeAmplification(),
  };
}

