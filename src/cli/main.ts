#!/usr/bin/env node
/**
 * The `tributary` command line: the only user of yargs. One file per command; this file only
 * registers them and maps failures to exit codes (0 ok, 1 runtime failure, 2 bad usage or config).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands.js';
import { exitCodeFor, printError } from './exit.js';
import { VERSION } from '../version.js';

async function main(argv: string[]): Promise<void> {
  let cli = yargs(argv)
    .scriptName('tributary')
    .usage('$0 <command> [options]\n\nEdge IoT stream broker: MQTT in, durable partitioned log, store-and-forward to Kafka.')
    .strict()
    .strictCommands()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`tributary: ${msg}\n(run with --help for usage)\n`);
      process.exit(2);
    });
  for (const command of commands) cli = command(cli);
  skipHelpCache(cli);
  await cli.parseAsync();
}

/**
 * yargs renders a command's whole help text as soon as its handler has started, so that a `showHelp()`
 * made later from inside the handler shows that command's help (yargs' command.js, `cacheHelpMessage`).
 * For serve that is ~20 ms of its start-up (measured, issue 13) spent on a text nobody reads: tributary
 * never calls `showHelp()`, and its `fail()` prints no help. `--help` itself does not use the cache. The
 * hook is yargs' internal API, so it is replaced only where it is found as expected.
 */
function skipHelpCache(cli: unknown): void {
  type Usage = { cacheHelpMessage?: unknown };
  const internals = (cli as { getInternalMethods?: () => { getUsageInstance?: () => Usage } }).getInternalMethods?.();
  const usage = internals?.getUsageInstance?.();
  if (usage !== undefined && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

main(hideBin(process.argv)).catch((err: unknown) => {
  printError(err);
  process.exitCode = exitCodeFor(err);
});
