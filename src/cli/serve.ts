/**
 * `tributary serve`: runs the broker until SIGTERM or SIGINT, then shuts down in order and exits 0.
 *
 * When every listener is bound it logs one line that scripts and tests wait for (JSON on stdout, like
 * every log line):
 *
 *   {"level":"info",...,"msg":"listening","mqtt":[{"type":"tcp","host":"0.0.0.0","port":1883}],"http":9180}
 *
 * With `--mqtt-port 0 --http-port 0` the ports in that line are the ones the system picked.
 * An exception nothing caught is logged and the broker keeps serving: one client's bad luck must not
 * take the gateway down (systemd restarts it if it truly wedges: the watchdog checks liveness).
 */
import type { Argv } from 'yargs';
import { loadConfig } from '../config/load.js';
import { errorMessage, LogWriteError } from '../errors.js';
import { createLogger, type Logger } from '../ops/logger.js';

/** How long a broken broker may take to close before it exits anyway. */
const FATAL_CLOSE_MS = 3_000;

export function serveCommand(cli: Argv): Argv {
  return cli.command(
    'serve',
    'run the broker: MQTT in, durable log, forward upstream',
    (y) =>
      y
        .option('config', { type: 'string', describe: 'YAML config file (default: built-in defaults)' })
        .option('data-dir', { type: 'string', describe: 'data directory (overrides dataDir)' })
        .option('mqtt-port', { type: 'number', describe: 'port of the first tcp listener (0: any free port)' })
        .option('http-port', { type: 'number', describe: 'HTTP port for /healthz, /metrics, /api/v1/status (0: any)' })
        .option('kafka', { type: 'string', describe: 'upstream Kafka brokers, HOST:PORT[,...]' })
        .option('kafka-api-port', { type: 'number', describe: 'serve the log to local Kafka consumers on 127.0.0.1:PORT (0: any)' }),
    (args) =>
      serve(args.config, {
        dataDir: args['data-dir'],
        mqttPort: args['mqtt-port'],
        httpPort: args['http-port'],
        kafka: args.kafka,
        kafkaApiPort: args['kafka-api-port'],
      }),
  );
}

async function serve(file: string | undefined, overrides: Parameters<typeof loadConfig>[1]): Promise<void> {
  const config = loadConfig(file, overrides);
  const logger = createLogger({ level: config.logging.level });
  guardProcess(logger);
  // Taken before the listeners open: a SIGTERM or SIGINT that arrives while serve starts (its MQTT port
  // may accept before the rest is up) ends it with the same drain once the start completes, instead of
  // Node's default of dying on the spot.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  // Loaded here, not at the top: every other command (and --help) starts without aedes, LMDB and the
  // Kafka client.
  const { createBroker } = await import('../broker.js');
  const broker = createBroker(config, { logger, onFatal: (err) => void exitForRestart(broker, logger, err) });
  let ports;
  try {
    ports = await broker.start();
  } catch (err) {
    await broker.close();
    throw err;
  }
  logger.info({ mqtt: ports.mqtt, http: ports.http, ...(ports.bridge.length > 0 ? { bridge: ports.bridge } : {}), ...(ports.kafkaApi.length > 0 ? { kafkaApi: ports.kafkaApi } : {}), dataDir: config.dataDir }, 'listening');
  // SIGHUP (systemd's ExecReload): new passwords, ACLs, HTTP credentials and upstream secrets without
  // dropping anyone; a bad file is logged with its file and line, and what it set stays in force.
  process.on('SIGHUP', () => {
    try {
      broker.reload();
      logger.info('reloaded the password, ACL, HTTP credential and upstream files');
    } catch (err) {
      logger.error({ error: errorMessage(err) }, 'reload failed: the previous rules stay in force');
    }
  });
  const signal = await stopSignal;
  logger.info({ signal }, 'shutting down');
  // A second signal while draining means "now": the log is crash-safe, so exiting mid-drain loses only
  // what was never acked.
  process.once(signal, () => process.exit(1));
  await broker.close();
  logger.info('stopped');
  process.exit(0);
}

function guardProcess(logger: Logger): void {
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
}

/**
 * The log broke (src/log/log.ts): commits kept failing for `durability.commitFailureExitMs`, or an
 * invariant did not hold. Nothing more can be acked, and the page cache may no longer match the disk,
 * so rather than limp on, close what closes in time and exit 1: systemd (Restart=on-failure) starts
 * the broker again, which reopens LMDB and re-verifies the log.
 */
async function exitForRestart(broker: { close(): Promise<void> }, logger: Logger, err: Error): Promise<void> {
  const writeFailed = err instanceof LogWriteError;
  logger.fatal({ err }, writeFailed ? 'log commits failing: exiting so the service manager restarts it' : 'log invariant broken: exiting so the service manager restarts it');
  await Promise.race([broker.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, FATAL_CLOSE_MS).unref())]);
  logger.flush();
  process.exit(1);
}
