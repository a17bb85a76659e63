/**
 * `tributary check-config FILE`: validates a config file, and the password and ACL files it names
 * (what SIGHUP would load); exit 0 when valid, 2 naming the bad key, or the file and line.
 */
import type { Argv } from 'yargs';
import { readAuthFiles } from '../auth/files.js';
import { loadConfig } from '../config/load.js';

export function checkConfigCommand(cli: Argv): Argv {
  return cli.command(
    'check-config <file>',
    'validate a YAML config file (exit 0 valid, 2 invalid)',
    (y) => y.positional('file', { type: 'string', demandOption: true, describe: 'the YAML config file' }).option('json', { type: 'boolean', default: false, describe: 'print the effective config as JSON' }),
    (args) => {
      // Only the file is checked: the environment must not make a bad file look good.
      const config = loadConfig(args.file, {}, {});
      const { passwords, acl } = readAuthFiles(config.mqtt.auth);
      const auth = `${passwords === null ? '' : `, ${passwords.size} users`}${acl === null ? '' : `, ${acl.size} ACL rules`}`;
      if (args.json) process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      else process.stdout.write(`${args.file}: valid (${config.streams.length} streams, ${config.mqtt.listeners.length} listeners${config.upstream.kafka ? `, upstream ${config.upstream.kafka.brokers.join(',')}` : ', no upstream'}${auth})\n`);
    },
  );
}
