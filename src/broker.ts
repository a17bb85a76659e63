/**
 * The composition root: builds every part from the frozen config, starts them in dependency order and
 * closes them in the reverse, draining order (DESIGN.md "Shutdown is an ordered drain"):
 *
 *   start:  log → ops (host monitor, disk pressure, HTTP) → [forward] → [kafka-api] → ingest (listeners open last,
 *           when all can take data) → [firmware-bridge, a client of ingest over loopback]
 *           → systemd READY=1
 *   close:  STOPPING=1 → [firmware-bridge: device publishes in flight acked, links closed] → ingest
 *           (stop accepting, stop reading, appends in flight committed and acked, clients closed)
 *           → [kafka-api: listeners and connections closed, long-polls ended]
 *           → [forward: finish the batch in flight] → log (commit what is pending, close LMDB)
 *           → ops (HTTP, timers)
 *
 * Parts meet only here: ingest appends to the log, forward reads it, ops gets numbers through probes.
 */
import type { Bridge, BoundTransport } from '../firmware-bridge/src/index.js';
import type { Config } from './config/load.js';
import { loopbackHost } from './config/schema.js';
import { readUpstreamSecurity } from './config/upstream-secrets.js';
import { ConfigError, errorMessage, LogWriteError } from './errors.js';
import type { Forwarder } from './forward/index.js';
import type { BoundKafkaListener, KafkaApi } from './kafka-api/index.js';
import { createIngest, type BoundPort, type Ingest } from './ingest/ingest.js';
import { Log, UPSTREAM_GROUP, type LogObserver, type StreamSpec } from './log/index.js';
import { componentLogger, silentLogger, type Logger } from './ops/logger.js';
import { createMetrics } from './ops/metrics.js';
import type { LogProbe } from './ops/probes.js';
import { createOpsRuntime, type ForwardHealthProbe, type OpsRuntime } from './ops/runtime.js';
import type { StorageProbe } from './ops/status.js';
import { VERSION } from './version.js';

export interface BrokerOptions {
  logger?: Logger;
  /**
   * The log broke (commits failed for `durability.commitFailureExitMs`, or an invariant broke): it acks
   * nothing more. `serve` exits 1 so the service manager restarts it on a fresh view of the disk.
   */
  onFatal?(err: Error): void;
}

export interface BrokerPorts {
  /** Every MQTT listener as bound (port 0 in config becomes the real port here). */
  mqtt: BoundPort[];
  http: number;
  /** The firmware bridge's listeners as bound; empty without a `firmwareBridge` section. */
  bridge: BoundTransport[];
  /** The local Kafka API's listeners as bound; empty without a `kafkaApi` section. */
  kafkaApi: BoundKafkaListener[];
}

export interface Broker {
  start(): Promise<BrokerPorts>;
  /**
   * SIGHUP: re-reads the MQTT password and ACL files, the HTTP token and password files, and the
   * upstream's TLS files and SASL password (a new Kafka session with them, at once). Each part reloads
   * on its own: a bad file keeps that part's old settings and is thrown once every part has tried.
   */
  reload(): void;
  /** Ordered shutdown; idempotent. */
  close(): Promise<void>;
}

export function createBroker(config: Config, options: BrokerOptions = {}): Broker {
  const logger = options.logger ?? silentLogger();
  const metrics = createMetrics({ logger: componentLogger(logger, 'metrics') });
  const commitState = { failing: false, lastError: null as string | null };
  let log: Log | null = null;
  let ingest: Ingest | null = null;
  let ops: OpsRuntime | null = null;
  /** Set by the forward wiring below when an upstream is configured. */
  let forwardProbe: ForwardHealthProbe | null = null;
  let forwarder: Forwarder | null = null;
  let bridge: Bridge | null = null;
  let kafkaApi: KafkaApi | null = null;
  let kafkaApiReload: (() => void) | null = null;
  let closing: Promise<void> | null = null;
  // Read before anything starts: an unreadable file is a config error (exit 2), like a bad key.
  const upstreamSecurity = config.upstream.kafka === undefined ? undefined : readUpstreamSecurity(config.upstream.kafka);

  const observer: LogObserver = {
    commit: (durationMs, records) => {
      commitState.failing = false;
      metrics.recordCommit(durationMs / 1000, records);
    },
    commitFailed: (err, failingForMs) => {
      commitState.failing = true;
      commitState.lastError = err.message;
      metrics.recordCommitFailure(err instanceof LogWriteError ? err.reason : 'other');
      logger.error({ err, failingForMs: failingForMs === undefined ? undefined : Math.round(failingForMs) }, 'log commit failed');
    },
    invalidWrite: (reason) => metrics.recordInvalidWrite(reason),
    broken: (err) => {
      commitState.failing = true;
      commitState.lastError = err.message;
      logger.fatal({ err }, 'log broken: it acks nothing more');
      options.onFatal?.(err);
    },
    expired: (stream, reason, records) => logger.debug({ stream, reason, records }, 'records expired by retention'),
    upgraded: (fromFormat, toFormat) => logger.info({ fromFormat, toFormat, dataDir: config.dataDir }, 'log format upgraded in place'),
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
        commitFailureMaxMs: config.durability.commitFailureExitMs,
        observer,
      },
      streamSpecs(config),
    );
    const openLog = log;
    ops = createOpsRuntime({
      gatewayId: config.gateway.id,
      version: VERSION,
      dataDir: config.dataDir,
      http: config.http,
      storage: config.storage,
      hostSampleIntervalMs: config.host.sampleIntervalMs,
      upstreamBrokers: config.upstream.kafka?.brokers ?? null,
      logger,
      metrics,
      log: logProbe(openLog),
      ingest: {
        clients: () => ingest?.clientCount() ?? 0,
        recordsTotal: () => metrics.ingestTotals().records,
        bytesTotal: () => metrics.ingestTotals().bytes,
      },
      forward: () => forwardProbe,
      bridge: () => bridge,
      kafkaApi: () => kafkaApi,
      commit: () => ({ ...commitState, waitingSinceMs: openLog.commitWaitingSinceMs() }),
      onPressureLimit: (limitBytes) => {
        openLog.setPressureLimit(limitBytes);
        // Act now rather than at the next retention tick: the disk is already short.
        openLog.runRetention().catch((err: unknown) => logger.error({ err }, 'retention under disk pressure failed'));
      },
    });
    const { httpPort } = await ops.start();

    // ---- forward (src/forward): built and started here, before ingest opens; only with an upstream. ----
    const kafka = config.upstream.kafka;
    if (kafka !== undefined) {
      // Loaded only with an upstream: the Kafka client is the slowest module to load, and a gateway
      // without one should not wait for it at every start.
      const { createForwarder, createKafkaSink, kafkaSinkOptions } = await import('./forward/index.js');
      forwarder = createForwarder({
        log: openLog,
        config,
        gatewayId: config.gateway.id,
        logger: componentLogger(logger, 'forward'),
        metrics,
        security: upstreamSecurity,
        sinkFactory: (security) => createKafkaSink(kafkaSinkOptions(kafka, config.gateway.id, security)),
      });
      forwarder.start();
      forwardProbe = forwarder;
    }
    // ---- end forward ----

    // ---- kafka-api: the log to local Kafka consumers; a reader of the log like forward, before ingest opens. ----
    let kafkaApiPorts: BoundKafkaListener[] = [];
    if (config.kafkaApi !== undefined) {
      const [{ createKafkaApi }, { kafkaApiMetrics }, { kafkaApiListeners, kafkaApiPasswords, describeKafkaApiListener }] = await Promise.all([
        import('./kafka-api/index.js'),
        import('./ops/kafka-api-metrics.js'),
        import('./config/kafka-api.js'),
      ]);
      const passwords = kafkaApiPasswords(config);
      const listeners = kafkaApiListeners(config.kafkaApi);
      for (const l of listeners) {
        // PLAIN sends the password as it is: off loopback, without TLS, anyone on the network can read it.
        if (l.sasl && l.tls === undefined && !loopbackHost(l.host)) logger.warn({ listener: describeKafkaApiListener(l) }, 'Kafka API: SASL PLAIN without TLS on a network listener sends passwords in clear; add tls to kafkaApi.listeners');
      }
      kafkaApiReload = passwords.reload;
      kafkaApi = createKafkaApi({
        log: openLog,
        gatewayId: config.gateway.id,
        keySpecs: new Map(config.streams.map((s) => [s.name, s.key])),
        listeners,
        passwords: passwords.current,
        logger: componentLogger(logger, 'kafka-api'),
        observer: kafkaApiMetrics(metrics.registry, () => kafkaApi),
        fetchMaxWaitMs: config.kafkaApi.fetchMaxWaitMs,
        sessionTimeoutMinMs: config.kafkaApi.groupMinSessionTimeoutMs,
      });
      kafkaApiPorts = await kafkaApi.start();
    }
    // ---- end kafka-api ----

    ingest = createIngest({ config, log: openLog, metrics, logger: componentLogger(logger, 'ingest') });
    const mqtt = await ingest.start();

    // ---- firmware-bridge: one more MQTT client of ingest, over loopback to the first tcp listener. ----
    let bridgePorts: BoundTransport[] = [];
    const fb = config.firmwareBridge;
    if (fb !== undefined) {
      const tcp = mqtt.find((p) => p.type === 'tcp');
      if (tcp === undefined) throw new ConfigError('firmwareBridge needs a tcp MQTT listener to connect to', 'firmwareBridge');
      // Loaded only when configured, like the forwarder: a gateway without devices skips the bridge
      // and the serial port's native binding at every start.
      const [{ createBridge }, { firmwareBridgeOptions }, { registerBridgeMetrics }] = await Promise.all([
        import('../firmware-bridge/src/index.js'),
        import('./config/firmware-bridge.js'),
        import('./ops/bridge-metrics.js'),
      ]);
      bridge = createBridge(firmwareBridgeOptions(fb, { host: loopbackFor(tcp.host), port: tcp.port }, componentLogger(logger, 'bridge')));
      bridgePorts = await bridge.start();
      registerBridgeMetrics(metrics.registry, bridge);
    }
    // ---- end firmware-bridge ----
    ops.ready();
    return { mqtt, http: httpPort, bridge: bridgePorts, kafkaApi: kafkaApiPorts };
  }

  async function shutdown(): Promise<void> {
    ops?.stopping();
    await bridge?.close();
    await ingest?.close();
    // ---- kafka-api: long-polls answered, groups ended, before the log closes. ----
    await kafkaApi?.close();
    // ---- forward: finishes its batch in flight and commits its cursor, before the log closes. ----
    await forwarder?.close();
    await log?.close();
    await ops?.close();
  }

  return {
    start,
    reload: () =>
      reloadEach([
        () => ingest?.reloadAuth(),
        () => ops?.reloadHttpAuth(),
        () => kafkaApiReload?.(),
        // ---- forward: the upstream's files; a bad one throws before anything changed. ----
        () => config.upstream.kafka && forwarder?.renewUpstream(readUpstreamSecurity(config.upstream.kafka)),
      ]),
    close: () => (closing ??= shutdown()),
  };
}

/** Runs every part's reload even when an earlier one fails; then throws the failures (each names its file). */
function reloadEach(parts: Array<() => unknown>): void {
  const failures: unknown[] = [];
  for (const part of parts) {
    try {
      part();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new ConfigError(failures.map((e) => errorMessage(e)).join('; '), '', { cause: failures[0] });
}

/** Where a client on this host reaches a listener bound to `host`. */
function loopbackFor(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  return host === '::' ? '::1' : host;
}

export function streamSpecs(config: Config): StreamSpec[] {
  return config.streams.map((s) => ({
    name: s.name,
    partitions: s.partitions,
    retention: { ...(s.retention.bytes === undefined ? {} : { bytes: s.retention.bytes }), ...(s.retention.age === undefined ? {} : { ageMs: s.retention.age }) },
    priority: s.priority,
  }));
}

function logProbe(log: Log): LogProbe & StorageProbe {
  return {
    logBytes: () => log.totalBytes(),
    dataFileBytes: () => log.dataFileBytes,
    partitions: () => log.info().flatMap((s) => s.partitions.map((p) => ({ stream: s.stream, ...p }))),
    diskWrittenBytes: () => log.diskWrittenBytes() ?? 0,
    writeAmplification: () => log.writeAmplification(),
  };
}

