/**
 * The structured logger: pino, one JSON object per line on stdout.
 *
 * On a gateway the service's stdout goes to journald, which adds its own timestamp, unit and priority
 * metadata, so nothing here writes files or rotates them. The level is printed as a word (`"level":"warn"`)
 * rather than pino's number because the people reading `journalctl -u tributary` are humans first.
 *
 * Each component gets a child logger (`componentLogger(root, 'ingest')`) so every line says who wrote it.
 */
import { pino } from 'pino';

/** pino's logger type; other modules take this, never a concrete class. */
export type Logger = pino.Logger;

export type LogLevel = pino.LevelWithSilent;

export interface LoggerOptions {
  level: LogLevel;
  /**
   * Where lines go. Default: stdout, written synchronously, so the lines just before a crash or a
   * `kill` are not lost in a buffer (the cost is a blocked write if journald stalls, which is rare).
   * Tests pass a stream to read the lines back.
   */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const config: pino.LoggerOptions = {
    name: 'tributary',
    level: options.level,
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}

/** A child logger whose lines carry `"component": name`. */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}

/** A logger that writes nothing: for library code whose caller passed none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
