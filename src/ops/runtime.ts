/**
 * Everything that runs beside the data flow, started and stopped as one: the host monitor, the disk
 * pressure loop, health, the status report, the HTTP server and systemd's notify protocol with its
 * watchdog. The broker hands it probes and two callbacks; ops imports no domain module.
 *
 * systemd: READY=1 once `ready()` is called (listeners bound, log open); STATUS= every
 * `statusIntervalMs`; WATCHDOG=1 every WATCHDOG_USEC/2 only while the liveness checks pass (event
 * loop responsive, commits completing, forwarder not wedged), so a hung broker is restarted;
 * STOPPING=1 when `close()` begins.
 */
import { evaluateHealth, isLive, DEFAULT_HEALTH_LIMITS, type HealthInputs, type HealthReport } from './health.js';
import { createEventLoopMonitor, type EventLoopMonitor } from './event-loop.js';
import { createHostMonitor, diskFreeBytes, type HostMonitor } from './host-monitor.js';
import { isLoopback } from '../auth/address.js';
import { HttpAuth } from './http-auth.js';
import { loadPageAssets, pageServedOpen } from './page.js';
import { startHttpServer, type HttpServerHandle, type HttpTlsConfig } from './http.js';
import type { Logger } from './logger.js';
import { componentLogger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { BridgeProbe } from './bridge-metrics.js';
import { nextPressure, PRESSURE_IDLE, type PressureState } from './disk-pressure.js';
import type { ForwardProbe, LogProbe } from './probes.js';
import { StatusReporter, type IngestProbe, type KafkaApiStatusProbe, type StatusReport, type StorageProbe } from './status.js';
import { createSystemdNotifier, type SystemdNotifier, type WatchdogHandle } from './systemd-notify.js';

export interface CommitProbe {
  failing: boolean;
  lastError: string | null;
  /** Epoch ms since which the oldest pending write waits; null when idle. */
  waitingSinceMs: number | null;
}

export interface ForwardHealthProbe extends ForwardProbe {
  /** Epoch ms of the last batch Kafka acknowledged (or of start). */
  lastProgressMs(): number;
  /** Why the cluster refuses the connection (TLS, SASL), worded for health; null when it does not. */
  upstreamRefusal(): string | null;
}

export interface OpsRuntimeOptions {
  gatewayId: string;
  version: string;
  dataDir: string;
  http: { host: string; port: number; auth: { bearerTokenFile?: string | undefined; passwordFile?: string | undefined }; tls?: HttpTlsConfig | undefined };
  storage: { maxBytes: number; diskFreeMinBytes: number };
  hostSampleIntervalMs: number;
  upstreamBrokers: readonly string[] | null;
  logger: Logger;
  metrics: Metrics;
  log: LogProbe & StorageProbe;
  ingest: IngestProbe;
  /** Late-bound: the forwarder may start after ops. */
  forward: () => ForwardHealthProbe | null;
  /** Late-bound: the firmware bridge starts after ingest; null when none is configured. */
  bridge?: () => BridgeProbe | null;
  /** Late-bound: the local Kafka API starts after ops; null when none is configured. */
  kafkaApi?: () => KafkaApiStatusProbe | null;
  commit: () => CommitProbe;
  /** Disk pressure: cap the log's record bytes (null lifts the cap). */
  onPressureLimit: (limitBytes: number | null) => void;
  diskCheckIntervalMs?: number;
  statusIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface OpsRuntime {
  start(): Promise<{ httpPort: number }>;
  /** Listeners are bound and the log is open: tell systemd. */
  ready(): void;
  health(): HealthReport;
  status(): StatusReport;
  /** SIGHUP: re-reads the HTTP token and password files; a damaged one is thrown and the old ones stay. */
  reloadHttpAuth(): void;
  /** Shutdown has begun: STOPPING=1, no more watchdog pings. */
  stopping(): void;
  /** Last step of shutdown: stops timers and the HTTP server. */
  close(): Promise<void>;
}

export function createOpsRuntime(o: OpsRuntimeOptions): OpsRuntime {
  const logger = componentLogger(o.logger, 'ops');
  const loop: EventLoopMonitor = createEventLoopMonitor();
  const host: HostMonitor = createHostMonitor({ dataDir: o.dataDir, intervalMs: o.hostSampleIntervalMs, logger });
  const notifier: SystemdNotifier = createSystemdNotifier({ logger, ...(o.env ? { env: o.env } : {}) });
  const startedAt = Date.now();
  let diskFree: number | null = null;
  let pressure: PressureState = PRESSURE_IDLE;
  let http: HttpServerHandle | null = null;
  let httpAuth: HttpAuth | null = null;
  let watchdog: WatchdogHandle | null = null;
  const timers: NodeJS.Timeout[] = [];

  const health = (): HealthReport => {
    const commit = o.commit();
    const forward = o.forward();
    const inputs: HealthInputs = {
      nowMs: Date.now(),
      eventLoopLagMs: loop.lagMs(),
      commit: { failing: commit.failing, lastError: commit.lastError, oldestPendingSinceMs: commit.waitingSinceMs },
      diskFreeBytes: diskFree,
      ...(forward
        ? { forward: { state: forward.state().state, backlogRecords: forward.lag().reduce((n, l) => n + l.lagRecords, 0), lastProgressMs: forward.lastProgressMs(), refusal: forward.upstreamRefusal() } }
        : {}),
    };
    return evaluateHealth(inputs, { ...DEFAULT_HEALTH_LIMITS, diskFreeMinBytes: o.storage.diskFreeMinBytes });
  };

  const reporter = new StatusReporter({
    gatewayId: o.gatewayId,
    version: o.version,
    startedAt,
    log: o.log,
    ingest: o.ingest,
    get forward() {
      return o.forward();
    },
    host,
    health,
    limits: { storageMaxBytes: o.storage.maxBytes, diskFreeMinBytes: o.storage.diskFreeMinBytes },
    upstream: o.upstreamBrokers ? { brokers: o.upstreamBrokers } : null,
    losses: () => o.metrics.lossTotals(),
    bridge: () => o.bridge?.() ?? null,
    kafkaApi: () => o.kafkaApi?.() ?? null,
  });

  async function checkDisk(): Promise<void> {
    try {
      diskFree = await diskFreeBytes(o.dataDir);
    } catch (err) {
      logger.warn({ err }, 'cannot read free disk space');
      return;
    }
    const next = nextPressure(pressure, { freeBytes: diskFree, logBytes: o.log.logBytes(), floorBytes: o.storage.diskFreeMinBytes });
    if (next.limitBytes !== pressure.limitBytes) {
      if (next.limitBytes === null) logger.info({ diskFreeBytes: diskFree }, 'disk pressure over: the log may grow again');
      else logger.warn({ diskFreeBytes: diskFree, floorBytes: o.storage.diskFreeMinBytes, logLimitBytes: next.limitBytes }, 'disk below its free-space floor: capping the log, dropping the oldest low-priority records');
      o.onPressureLimit(next.limitBytes);
    }
    pressure = next;
  }

  function every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    timers.push(t);
  }

  return {
    async start() {
      // First: a missing or damaged credential file stops the start before anything runs.
      const httpLogger = componentLogger(o.logger, 'http');
      httpAuth = HttpAuth.load({
        config: { ...o.http.auth, clientCertificates: o.http.tls?.requestCert === true },
        logger: httpLogger,
        onFailure: (reason) => o.metrics.recordHttpAuthFailure(reason),
      });
      await checkDisk();
      every(o.diskCheckIntervalMs ?? 1000, () => void checkDisk());
      o.metrics.attach({ log: o.log, host });
      if (!httpAuth.enabled && !isLoopback(o.http.host)) {
        httpLogger.warn({ host: o.http.host }, 'http: /metrics and /api/v1/status are open to the network; set http.auth to require credentials');
      }
      const page = loadPageAssets();
      const pageOpen = pageServedOpen(o.http.auth);
      http = await startHttpServer({ host: o.http.host, port: o.http.port, tls: o.http.tls, auth: httpAuth, metrics: o.metrics, health, status: () => reporter.report(), logger: httpLogger, page, pageOpen });
      return { httpPort: http.port };
    },
    ready() {
      // Started once every listener is up, not awaited: the first sample takes ~0.5 s (CPU load is a
      // delta over time), loading systeminformation and its synchronous shell calls stall the event loop
      // for ~20 ms, and nothing the broker starts needs it; until it lands, host gauges and status fields
      // are absent, not zero.
      void host.start().catch((err: unknown) => logger.warn({ err }, 'host monitor failed to start; host metrics will be missing'));
      const forward = o.forward();
      if (forward) o.metrics.attach({ forward });
      notifier.ready();
      notifier.status(reporter.summaryLine());
      every(o.statusIntervalMs ?? 10_000, () => notifier.status(reporter.summaryLine()));
      watchdog = notifier.startWatchdog({ isHealthy: () => isLive(health()) });
    },
    health,
    status: () => reporter.report(),
    reloadHttpAuth: () => httpAuth?.reload(),
    stopping() {
      notifier.stopping();
      watchdog?.stop();
    },
    async close() {
      watchdog?.stop();
      for (const t of timers) clearInterval(t);
      reporter.close();
      host.close();
      loop.close();
      notifier.close();
      await http?.close();
    },
  };
}
