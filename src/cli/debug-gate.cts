/**
 * What `require('debug')` gives the dependencies inside the bundle (scripts/bundle.ts points it here).
 *
 * Why: mqtt-packet's parser and writer call a `debug` logger ~20 times per packet on their hot path, and a
 * disabled `debug` logger still collects its arguments into a fresh array (`function debug(...args)`) and
 * runs the `enabled` getter before it returns. At a gateway's steady load that was 16% of everything serve
 * allocated (issue 13's allocation profile), which the young generation then had to collect.
 *
 * Invariants:
 * - With `DEBUG` unset or empty when the process starts, every logger is a function that does nothing
 *   and allocates nothing; it has debug's shape (`enabled` false, `namespace`, `extend`, `log`,
 *   `destroy`), so callers that read those see what a disabled debug logger has.
 * - With `DEBUG` set to anything, this is the real `debug` module, unchanged: `DEBUG=mqtt-packet:*` still
 *   traces every packet. Only turning debug on later from code (`debug.enable()`) is not possible while
 *   `DEBUG` was unset at start; nothing in tributary does that.
 */
'use strict';

interface Logger {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
  log: (...args: unknown[]) => void;
  extend(sub: string, delimiter?: string): Logger;
  destroy(): boolean;
}

function noop(): void {}

/** A disabled logger: a function without parameters, so a call collects no arguments. */
function createDisabled(namespace: string): Logger {
  const logger = (() => undefined) as unknown as Logger;
  logger.enabled = false;
  logger.namespace = namespace;
  logger.log = noop;
  logger.extend = (sub: string, delimiter = ':') => createDisabled(`${namespace}${delimiter}${sub}`);
  logger.destroy = () => false;
  return logger;
}

function createGate(): unknown {
  if (process.env.DEBUG) return require('debug');
  const createDebug = (namespace: string): Logger => createDisabled(namespace);
  return Object.assign(createDebug, {
    default: createDebug,
    debug: createDebug,
    enabled: (): boolean => false,
    enable: (): void => undefined,
    disable: (): string => '',
    coerce: (value: unknown): unknown => value,
    names: [] as RegExp[],
    skips: [] as RegExp[],
    formatters: {} as Record<string, unknown>,
  });
}

export = createGate();
