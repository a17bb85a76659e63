/**
 * `tributary check-config FILE`: validates a config file, and the password and ACL files it names
 * (what SIGHUP would load); exit 0 when valid, 2 naming the bad key, or the file and line.
 */
import type { Argv } from 'yargs';
import { readAuthFiles } from '../auth/files.js';
import { describeKafkaApiListener, kafkaApiListeners } from '../config/kafka-api.js';
import { loadConfig } from '../config/load.js';
import { checkUpstreamSecurity, describeUpstreamSecurity } from '../config/upstream-secrets.js';

export function checkConfigCommand(cli: Argv): Argv {
  return cli.command(
    'check-config <file>',
    'validate a YAML config file (exit 0 valid, 2 invalid)',
    (y) => y.positional('file', { type: 'string', demandOption: true, describe: 'the YAML config file' }).option('json', { type: 'boolean', default: false, describe: 'print the effective config as JSON' }),
    (args) => {
      // Only the file is checked: the environment must not make a bad file look good.
      const config = loadConfig(args.file, {}, {});
      const kafka = config.upstream.kafka;
      const { passwords, acl } = readAuthFiles(config.mqtt.auth);
      const auth = `${passwords === null ? '' : `, ${passwords.size} users`}${acl === null ? '' : `, ${acl.size} ACL rules`}`;
      // The files it names must be readable as serve reads them. TRIBUTARY_KAFKA_PASSWORD (a secret, not a
      // setting) counts only where the file names no passwordFile. What is printed names files, never the password.
      const security = kafka === undefined ? undefined : checkUpstreamSecurity(kafka);
      const kafkaApi = config.kafkaApi === undefined ? '' : `, Kafka API on ${kafkaApiListeners(config.kafkaApi).map(describeKafkaApiListener).join(', ')}`;
      if (args.json) process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      else process.stdout.write(`${args.file}: valid (${config.streams.length} streams, ${config.mqtt.listeners.length} listeners${kafka ? `, upstream ${kafka.brokers.join(',')}: ${describeUpstreamSecurity(security)}` : ', no upstream'}${auth}${kafkaApi})\n`);
    },
  );
}
