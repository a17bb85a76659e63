/** How errors become exit codes and messages, for every command. */
import { ConfigError, LogCorruptError, TributaryError, UnknownStreamError, UsageError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function exitCodeFor(err: unknown): number {
  return err instanceof ConfigError || err instanceof UsageError || err instanceof UnknownStreamError ? EXIT_USAGE : EXIT_FAILURE;
}

export function printError(err: unknown): void {
  if (err instanceof TributaryError) {
    const where = err instanceof LogCorruptError ? ' (the log is damaged; keep a copy of the data dir before repairing)' : '';
    process.stderr.write(`tributary: ${err.message}${where} [${err.code}]\n`);
  } else {
    process.stderr.write(`tributary: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
