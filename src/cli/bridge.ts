/**
 * `tributary bridge`: firmware-bridge standalone, for a radio box beside the gateway.
 *
 *   tributary bridge --config FILE                      the file's firmwareBridge section; the broker is
 *                                                       firmwareBridge.broker.url, or this config's own
 *                                                       first tcp listener on loopback
 *   tributary bridge --broker mqtt://HOST:PORT --udp-port N    built-in defaults otherwise
 *
 * Flags override the file. It logs one `"msg":"listening"` line with the bound UDP listeners (as serve
 * does), a `"msg":"bridge stats"` line every `--stats-interval` seconds and at shutdown (its counters:
 * drops by reason, messages, devices; there is no HTTP endpoint standalone), and stops on SIGTERM or
 * SIGINT with the same drain as inside serve.
 */
import type { Argv } from 'yargs';
import { loadConfig, parseConfig, type Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { componentLogger, createLogger } from '../ops/logger.js';

interface BridgeArgs {
  config?: string | undefined;
  broker?: string | undefined;
  udpPort?: number | undefined;
  statsIntervalS: number;
}

export function bridgeCommand(cli: Argv): Argv {
  return cli.command(
    'bridge',
    'run the firmware bridge (MQTT-SN over UDP) on its own, against a broker',
    (y) =>
      y
        .option('config', { type: 'string', describe: 'YAML config file with a firmwareBridge section' })
        .option('broker', { type: 'string', describe: 'the broker, mqtt://HOST:PORT (overrides firmwareBridge.broker.url)' })
        .option('udp-port', { type: 'number', describe: 'port of the first MQTT-SN UDP listener (0: any free port)' })
        .option('stats-interval', { type: 'number', default: 60, describe: 'seconds between "bridge stats" log lines (0: only at shutdown)' }),
    (args) => bridge({ config: args.config, broker: args.broker, udpPort: args['udp-port'], statsIntervalS: args['stats-interval'] }),
  );
}

async function bridge(args: BridgeArgs): Promise<void> {
  // Loaded when this command runs: every other command starts without the bridge and serialport.
  const [{ createBridge }, { firmwareBridgeOptions, parseBrokerUrl }] = await Promise.all([import('../../firmware-bridge/src/index.js'), import('../config/firmware-bridge.js')]);
  const config = bridgeConfig(args);
  const fb = config.firmwareBridge;
  if (fb === undefined) throw new ConfigError(`${args.config ?? 'config'}: no firmwareBridge section to run`, 'firmwareBridge');
  const url = args.broker ?? fb.broker.url ?? ownListener(config);
  const logger = createLogger({ level: config.logging.level });
  const bridgeLogger = componentLogger(logger, 'bridge');
  const options = firmwareBridgeOptions(fb, parseBrokerUrl(url), bridgeLogger);
  const [first, ...rest] = options.udp;
  const udp = args.udpPort === undefined ? options.udp : [{ host: first?.host ?? '0.0.0.0', port: args.udpPort }, ...rest];
  const running = createBridge({ ...options, udp });
  const bound = await running.start();
  logger.info({ bridge: bound, broker: url }, 'listening');
  const logStats = (): void => bridgeLogger.info({ ...running.stats() }, 'bridge stats');
  const timer = args.statsIntervalS > 0 ? setInterval(logStats, args.statsIntervalS * 1000) : null;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info({ signal }, 'shutting down');
  if (timer !== null) clearInterval(timer);
  await running.close();
  logStats();
  logger.info('stopped');
  process.exit(0);
}

/** The file's config, or the defaults with a firmwareBridge section (`--udp-port` replaces the first UDP listener's port, later). */
function bridgeConfig(args: BridgeArgs): Config {
  if (args.udpPort !== undefined && !(Number.isInteger(args.udpPort) && args.udpPort >= 0 && args.udpPort <= 65535)) {
    throw new ConfigError('--udp-port must be a port number (0-65535)', '--udp-port');
  }
  if (args.broker !== undefined && !/^mqtt:\/\/[^\s/:]+:\d{1,5}\/?$/.test(args.broker)) throw new ConfigError(`--broker ${args.broker}: a broker is mqtt://HOST:PORT`, '--broker');
  if (args.config === undefined && args.broker === undefined) throw new ConfigError('give --config FILE, or --broker mqtt://HOST:PORT', '--broker');
  return args.config === undefined ? parseConfig({ firmwareBridge: {} }, 'flags') : loadConfig(args.config);
}

function ownListener(config: Config): string {
  const tcp = config.mqtt.listeners.find((l) => l.type === 'tcp');
  if (tcp === undefined) throw new ConfigError('no firmwareBridge.broker.url, and the config has no tcp listener to reach', 'firmwareBridge.broker.url');
  return `mqtt://${tcp.host === '0.0.0.0' ? '127.0.0.1' : tcp.host}:${tcp.port}`;
}
